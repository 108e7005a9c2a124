#!/bin/sh
# Fault injection: a service that crashes (exit 1) on its first two runs and then
# serves 200 on /readyz. Runs are counted in STATE_DIR/runs, so each test gets its own.
# Usage: crash_twice_then_serve.sh STATE_DIR PORT
set -eu
state="$1"
port="$2"
runs=$(cat "$state/runs" 2>/dev/null || echo 0)
runs=$((runs + 1))
echo "$runs" > "$state/runs"
if [ "$runs" -le 2 ]; then
    echo "crash_twice_then_serve: run $runs, crashing" >&2
    exit 1
fi
mkdir -p "$state/www"
: > "$state/www/readyz"
echo "crash_twice_then_serve: run $runs, serving on $port"
# exec, so the supervised pid is the server itself.
exec python3 -u -m http.server --bind 127.0.0.1 --directory "$state/www" "$port"
