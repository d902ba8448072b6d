#!/usr/bin/env bash
# Builds the Python binding (mtm-py) into a virtual environment and runs its pytest suite,
# which includes `mypy --strict` on the README's ops script. Needs only python3 (>= 3.9)
# and a Rust toolchain; on Debian, python3-venv is installed with apt-get when it is
# missing and we are root.
#
# The venv lives in target/py-venv (ignored by git, removed by `cargo clean`).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=target/py-venv

if [ ! -x "$VENV/bin/python" ]; then
  mkdir -p target
  if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
    rm -rf "$VENV"
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "installing python3-venv with apt-get"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      "$PYTHON" -m venv "$VENV"
    else
      echo "error: '$PYTHON -m venv' failed; install python3-venv" >&2
      exit 1
    fi
  fi
fi

"$VENV/bin/python" -m pip install -q --disable-pip-version-check "maturin>=1.7,<2" pytest mypy

# A debug build shares its dependencies (optimised, see Cargo.toml) with `cargo test`, so
# after the Rust suite it compiles only the binding and the core; `maturin develop` finds
# the venv through VIRTUAL_ENV.
(cd mtm-py && VIRTUAL_ENV="$PWD/../$VENV" "../$VENV/bin/maturin" develop --locked --quiet)

cd mtm-py
"../$VENV/bin/python" -m pytest -q tests
