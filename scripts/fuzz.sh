#!/usr/bin/env bash
# Runs each fuzz target in fuzz/ (cargo-fuzz, libFuzzer) for a bounded time, and fails on
# the first crash, panic, hang or memory blow-up.
#
#   MTM_FUZZ_SECONDS   seconds per target (default 60)
#   MTM_FUZZ_TARGETS   the targets to run (default: all of them)
#
# cargo-fuzz is installed from crates.io when missing. It passes nightly-only flags to rustc
# (the sanitizer and coverage instrumentation); RUSTC_BOOTSTRAP=1 lets the stable toolchain
# accept them. New inputs go to a scratch corpus beside the build; the committed seeds in
# fuzz/corpus/<target>/ are only read. A crashing input is saved in fuzz/artifacts/<target>/
# (reproduce it with `RUSTC_BOOTSTRAP=1 cargo fuzz run <target> <file>`).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${MTM_FUZZ_SECONDS:-60}"
targets="${MTM_FUZZ_TARGETS:-message_ingest repository_files}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --version "^0.13" --locked
fi
export RUSTC_BOOTSTRAP=1

build_dir="${CARGO_TARGET_DIR:+$CARGO_TARGET_DIR/fuzz}"
build_dir="${build_dir:-$(pwd)/fuzz/target}"
for target in $targets; do
  scratch="$build_dir/corpus/$target"
  mkdir -p "$scratch"
  echo "fuzzing $target for ${seconds}s (seeds: fuzz/corpus/$target)"
  (unset CARGO_TARGET_DIR
   cargo fuzz run --target-dir "$build_dir" "$target" "$scratch" "fuzz/corpus/$target" -- \
     -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
  echo "fuzzing $target: no crash in ${seconds}s"
done
