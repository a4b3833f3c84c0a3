#!/usr/bin/env bash
# Benchmark: the cost of bounded connection lives (issue 12) on GET /hello.
#
#   bench/service_conn.sh       # ROUNDS=3 DURATION=8s CONNECTIONS=64 by default
#
# Two service processes, both pinned to core 0 (wrk on core 1): "on" with the
# default limits (--max-connection-age 30s ±20 %, --max-connection-requests
# 1000: wrk reconnects after each `Connection: close`), "off" with both
# unlimited. ON_FLAGS adds flags to "on" (e.g. ON_FLAGS="--max-connection-requests 100").
# Runs alternate (off, on) for ROUNDS rounds; the figure is the
# median of the per-round ratios on/off. Target: >= 0.97 (issue 12: measured
# 0.98, 7 rounds of 3 s, per-round 0.85–1.10, on a shared 2-core machine;
# 1,000 requests per connection is ~100 reconnects/s at 100k req/s; with
# --max-connection-requests 100 it was 0.75). Only loopback
# traffic; every process started here is stopped on exit.
set -euo pipefail

ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-8s}"
CONNECTIONS="${CONNECTIONS:-64}"
SERVER_CORE="${SERVER_CORE:-0}"
CLIENT_CORE="${CLIENT_CORE:-1}"

cd "$(dirname "$0")/.."

# shellcheck source=bench/lib.sh
. bench/lib.sh
need wrk

build_service
BIN="${CARGO_TARGET_DIR:-target}/release/service"

TMP="$(mktemp -d)"
ON_PID=""
OFF_PID=""
cleanup() {
  for p in "$ON_PID" "$OFF_PID"; do
    if [ -n "$p" ]; then kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; fi
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

ON_PORT="$(free_port)"
OFF_PORT="$(free_port)"

start() { # name port extra-flags...
  local name="$1" port="$2"; shift 2
  RUST_LOG=warn taskset -c "$SERVER_CORE" "$BIN" --host 127.0.0.1 --port "$port" \
    --instance-id "i-$name" --no-imds --log-sink "file:$TMP/$name.jsonl" "$@" 2>"$TMP/$name.log" &
}
echo "== starting service on (defaults ${ON_FLAGS:-}) :$ON_PORT and off (unlimited) :$OFF_PORT, core $SERVER_CORE"
# shellcheck disable=SC2086 # ON_FLAGS is a list of flags
start on "$ON_PORT" ${ON_FLAGS:-}
ON_PID=$!
start off "$OFF_PORT" --max-connection-age 0s --max-connection-requests 0
OFF_PID=$!

wait_up "$ON_PORT"
wait_up "$OFF_PORT"

run_wrk() {
  local out
  out="$(taskset -c "$CLIENT_CORE" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" \
    -H 'Cookie: uid=bench-user-1' "http://127.0.0.1:$1/hello")"
  local errors
  errors="$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out")"
  [ -n "$errors" ] && echo "   wrk reported: $errors" >&2
  awk '/^Requests\/sec:/ {print $2}' <<<"$out"
}

RATIOS=""
echo "== $ROUNDS rounds x (off, on), $DURATION each, $CONNECTIONS connections"
for round in $(seq "$ROUNDS"); do
  off="$(run_wrk "$OFF_PORT")"
  on="$(run_wrk "$ON_PORT")"
  r="$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.3f", a / b }')"
  printf '   round %d  off %10.0f req/s   on %10.0f req/s   on/off %s\n' "$round" "$off" "$on" "$r"
  RATIOS="$RATIOS $r"
done

ended="$(curl -fsS "http://127.0.0.1:$ON_PORT/metrics" | awk '/^hellofleet_connections_ended_total/ {print}' | tr '\n' ' ')"
echo
echo "== on: $ended"
awk -v r="$(median "$RATIOS")" 'BEGIN { printf "== /hello limits on / off (median of rounds) = %.3f  (>= 0.97) %s\n", r, (r >= 0.97 ? "OK" : "BELOW") }'
