#!/usr/bin/env bash
# Runs every test of the project: the Rust workspace (unit, integration, property, corpus,
# CLI and doc tests). Later bindings add their suites here.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --workspace --locked
