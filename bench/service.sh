#!/usr/bin/env bash
# Benchmark: the service against nginx, both pinned to core 0, wrk on core 1.
#
#   bench/service.sh            # ROUNDS=3 DURATION=10s CONNECTIONS=64 by default
#
# Runs alternate (nginx /hello, service /hello, nginx /repeat, service /repeat)
# for ROUNDS rounds; each figure is the median over rounds. Targets (issue 2):
#   service /hello  >= 0.9 x nginx /hello        (requests/s)
#   service /repeat >= 0.5 x service /hello      (file sink, 20 log events per request)
#   service idle RSS <= 20 MB
# nginx runs one worker that answers `return 200 "Hello World"` (and the same
# 100-line body on /repeat). Only loopback traffic; every process started here
# is stopped on exit.
set -euo pipefail

ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-64}"
SERVER_CORE="${SERVER_CORE:-0}"
CLIENT_CORE="${CLIENT_CORE:-1}"

cd "$(dirname "$0")/.."

# shellcheck source=bench/lib.sh
. bench/lib.sh
need wrk nginx

build_service
BIN="${CARGO_TARGET_DIR:-target}/release/service"

TMP="$(mktemp -d)"
NGINX_PID=""
SVC_PID=""
cleanup() {
  if [ -n "$SVC_PID" ]; then kill "$SVC_PID" 2>/dev/null || true; wait "$SVC_PID" 2>/dev/null || true; fi
  if [ -n "$NGINX_PID" ]; then kill "$NGINX_PID" 2>/dev/null || true; wait "$NGINX_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

NGINX_PORT="$(free_port)"
SVC_PORT="$(free_port)"
REPEAT_BODY="$(for _ in $(seq 100); do printf 'Hello World\\n'; done)"

nginx_conf "$TMP/nginx" "$NGINX_PORT" "location = /repeat { return 200 \"$REPEAT_BODY\"; }"

echo "== starting nginx (core $SERVER_CORE) on :$NGINX_PORT"
taskset -c "$SERVER_CORE" nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" &
NGINX_PID=$!

echo "== starting service (core $SERVER_CORE) on :$SVC_PORT, file sink"
RUST_LOG=warn taskset -c "$SERVER_CORE" "$BIN" --host 127.0.0.1 --port "$SVC_PORT" \
  --instance-id i-bench --no-imds --log-sink "file:$TMP/events.jsonl" 2>"$TMP/service.log" &
SVC_PID=$!

wait_up "$NGINX_PORT"
wait_up "$SVC_PORT"

sleep 1
IDLE_RSS_KB="$(rss_kb "$SVC_PID")"
NGINX_WORKER="$(pgrep -P "$NGINX_PID" | head -1 || true)"

# wrk's p99 in milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000;
    printf "%.3f", n }'
}

# One wrk run: prints "RPS P99_MS".
run_wrk() {
  local out
  out="$(taskset -c "$CLIENT_CORE" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency \
    -H 'Cookie: uid=bench-user-1' "$1")"
  local rps p99 errors
  rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
  p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
  errors="$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out")"
  [ -n "$errors" ] && echo "   wrk reported: $errors" >&2
  echo "$rps $(to_ms "$p99")"
}

declare -A RPS P99
TARGETS=("nginx_hello" "service_hello" "nginx_repeat" "service_repeat")
url_of() {
  case "$1" in
    nginx_hello) echo "http://127.0.0.1:$NGINX_PORT/hello" ;;
    service_hello) echo "http://127.0.0.1:$SVC_PORT/hello" ;;
    nginx_repeat) echo "http://127.0.0.1:$NGINX_PORT/repeat" ;;
    service_repeat) echo "http://127.0.0.1:$SVC_PORT/repeat" ;;
  esac
}

echo "== $ROUNDS rounds x ${#TARGETS[@]} targets, $DURATION each, $CONNECTIONS connections"
for round in $(seq "$ROUNDS"); do
  for t in "${TARGETS[@]}"; do
    : >"$TMP/events.jsonl"   # keep the disk flat; the sink appends
    read -r rps p99 < <(run_wrk "$(url_of "$t")")
    printf '   round %d  %-15s %10.0f req/s   p99 %8.3f ms\n' "$round" "$t" "$rps" "$p99"
    RPS[$t]="${RPS[$t]:-} $rps"
    P99[$t]="${P99[$t]:-} $p99"
  done
done

LOADED_RSS_KB="$(rss_kb "$SVC_PID")"
NGINX_RSS_KB="$( [ -n "$NGINX_WORKER" ] && rss_kb "$NGINX_WORKER" || echo 0)"

echo
echo "== medians"
for t in "${TARGETS[@]}"; do
  printf '   %-15s %10.0f req/s   p99 %8.3f ms\n' "$t" "$(median "${RPS[$t]}")" "$(median "${P99[$t]}")"
done
nh="$(median "${RPS[nginx_hello]}")"; sh="$(median "${RPS[service_hello]}")"
nr="$(median "${RPS[nginx_repeat]}")"; sr="$(median "${RPS[service_repeat]}")"
echo
echo "== ratios (target)"
awk -v a="$sh" -v b="$nh" 'BEGIN { r = a / b; printf "   service /hello  / nginx /hello    = %.2f  (>= 0.90) %s\n", r, (r >= 0.9 ? "OK" : "BELOW") }'
awk -v a="$sr" -v b="$sh" 'BEGIN { r = a / b; printf "   service /repeat / service /hello  = %.2f  (>= 0.50) %s\n", r, (r >= 0.5 ? "OK" : "BELOW") }'
awk -v a="$sr" -v b="$nr" 'BEGIN { r = a / b; printf "   service /repeat / nginx /repeat   = %.2f  (for reference)\n", r }'
awk -v k="$IDLE_RSS_KB" 'BEGIN { printf "   service idle RSS                  = %.1f MB  (<= 20 MB) %s\n", k / 1024, (k <= 20480 ? "OK" : "ABOVE") }'
awk -v k="$LOADED_RSS_KB" -v n="$NGINX_RSS_KB" 'BEGIN { printf "   service RSS after load            = %.1f MB   (nginx worker %.1f MB)\n", k / 1024, n / 1024 }'
