#!/usr/bin/env bash
# The one-machine demo: set-up, build, then start every service that exists as its
# own process on loopback, wait until each is ready and print the kiosk URL.
# Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

# The catalog refuses to hold customer data without keys: make a random admin key and
# service token once, keep them in .data/secrets.env (not committed), and hand them to
# every service through the environment. The fixture catalogue seeds an empty store.
mkdir -p .data
secret() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
if [ ! -f .data/secrets.env ]; then
  umask 077
  {
    echo "SHOP_CATALOG__ADMIN_KEY=$(secret)"
    echo "SHOP_CATALOG__SERVICE_TOKEN=$(secret)"
  } > .data/secrets.env
fi
# The kiosk page and the staff page each present their own token (added to files
# made before the kiosk had them).
for key in SHOP_KIOSK__DEVICE_TOKEN SHOP_KIOSK__STAFF_TOKEN; do
  grep -q "^$key=" .data/secrets.env || echo "$key=$(secret)" >> .data/secrets.env
done
set -a
# shellcheck disable=SC1091
. .data/secrets.env
set +a
export SHOP_CATALOG__SEED_FILE="${SHOP_CATALOG__SEED_FILE:-fixtures/catalog/products.json}"
cargo build --locked --workspace --bins
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
exec "$target_dir/debug/launcher" "$@"
