#!/usr/bin/env bash
# The one-machine demo: set-up, build, then start every service that exists as its
# own process on loopback, wait until each is ready and print the kiosk URL.
# Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cargo build --locked --workspace --bins
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
exec "$target_dir/debug/launcher" "$@"
