#!/usr/bin/env bash
# Runs every test of the project: the Rust workspace (unit, integration, property, corpus,
# CLI, benchmark, email and doc tests), the fuzz targets for a bounded time (scripts/fuzz.sh),
# then the Python binding's suite (scripts/test-python.sh).
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

# The hostile-input suite (tests/tests/hostile) runs as the real deployment does: mtm as root
# over Maildirs owned by an unprivileged mail user, created here when missing.
if [ "$(id -u)" = 0 ]; then
  if ! id mtm-mail >/dev/null 2>&1; then
    echo "creating the unprivileged mail user mtm-mail for the hostile-input suite"
    useradd --system --no-create-home --shell /usr/sbin/nologin mtm-mail
  fi
  export MTM_TEST_REQUIRE_MAIL_USER=1
fi

# The email notifier's SMTP test (mtm-core/tests/email.rs) sends to aiosmtpd (PyPI), run
# from a venv of our own under the target directory; the test finds it through
# MTM_TEST_PYTHON and must not skip. Debian ships `venv` separately (python3-venv).
py_tools="${CARGO_TARGET_DIR:-target}/py-tools"
case "$py_tools" in /*) ;; *) py_tools="$(pwd)/$py_tools" ;; esac
if ! "$py_tools/bin/python" -c 'import aiosmtpd.handlers' 2>/dev/null; then
  echo "installing aiosmtpd into $py_tools"
  rm -rf "$py_tools"
  if ! python3 -m venv "$py_tools"; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      rm -rf "$py_tools"
      python3 -m venv "$py_tools"
    else
      echo "python3 -m venv failed: install python3-venv" >&2
      exit 1
    fi
  fi
  "$py_tools/bin/pip" install -q aiosmtpd
fi
export MTM_TEST_PYTHON="$py_tools/bin/python"
export MTM_TEST_REQUIRE_SMTP=1


# mtm-py has no Rust tests; it is built by maturin below (building it here too would only
# rebuild pyo3 under other settings).
cargo test --workspace --locked --exclude mtm-py

# Fuzzing (fuzz/, its own workspace): message ingest and the repository file decoders, each
# for a bounded time (MTM_FUZZ_SECONDS, default 60); a crash fails the run.
echo "fuzzing: scripts/fuzz.sh"
bash scripts/fuzz.sh

bash scripts/test-python.sh
