#!/usr/bin/env bash
# Runs every test of the project on real models: set-up (idempotent), formatting,
# lints, then the whole workspace's tests. CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
