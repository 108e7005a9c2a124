#!/bin/sh
# Fault injection: a service that ignores SIGTERM (the ignored disposition survives
# exec), so only SIGKILL after the grace period stops it.
# Usage: ignores_sigterm.sh STATE_DIR PORT
set -eu
state="$1"
port="$2"
mkdir -p "$state/www"
: > "$state/www/readyz"
trap '' TERM
exec python3 -u -m http.server --bind 127.0.0.1 --directory "$state/www" "$port"
