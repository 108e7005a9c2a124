#!/usr/bin/env bash
# Runs every test of the project on real models: set-up (idempotent), formatting,
# lints, the whole workspace's tests, then the Helm chart's. CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# Every service binary first: the kiosk's conversation and browser tests run the whole
# assistant as separate processes. Built together with the tests, so both share one
# feature set (the tests' dev-dependencies turn on features of shared crates); built
# alone, the binaries' dependencies would be compiled twice.
cargo build --workspace --bins --tests --locked
cargo test --workspace --locked
# The Helm chart: lint, render, validate against the Kubernetes schemas, invariants; each
# rendered config is also loaded by the kiosk binary the tests just built.
SHOP_KIOSK_BIN="${CARGO_TARGET_DIR:-target}/debug/kiosk" scripts/test-helm.sh
