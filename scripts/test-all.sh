#!/usr/bin/env bash
# Runs every test of the project: the Rust workspace (unit, integration, property, corpus,
# CLI, benchmark and doc tests), then the Python binding's suite (scripts/test-python.sh).
#
# The benchmark's end-to-end test runs restic and Borg beside mtm; on a Debian machine where
# we are root they are installed here when missing, and the test then must find them.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v restic >/dev/null || ! command -v borg >/dev/null || [ ! -x /usr/bin/time ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing the benchmark peers (restic, borgbackup, time) with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq restic borgbackup time >/dev/null
  fi
fi
if command -v restic >/dev/null && command -v borg >/dev/null; then
  export MTM_BENCH_REQUIRE_PEERS=1
fi
export MTM_BENCH_REQUIRE_MTM=1

# mtm-py has no Rust tests; it is built by maturin below (building it here too would only
# rebuild pyo3 under other settings).
cargo test --workspace --locked --exclude mtm-py

bash scripts/test-python.sh
