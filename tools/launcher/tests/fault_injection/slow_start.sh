#!/bin/sh
# Fault injection: a service that takes 2 s before it answers 200 on /readyz.
# Prints its pid first so tests can check it is gone after shutdown.
# Usage: slow_start.sh STATE_DIR PORT
set -eu
state="$1"
port="$2"
echo "slow_start: pid $$"
mkdir -p "$state/www"
: > "$state/www/readyz"
sleep 2
exec python3 -u -m http.server --bind 127.0.0.1 --directory "$state/www" "$port"
