#!/usr/bin/env bash
# Benchmark: loadgen against wrk and stock goose, and at 10,000 users.
#
#   bench/loadgen.sh     # ROUNDS=3 DURATION=10 CONNECTIONS=64 RAMP_MAX=10000 RAMP_STEP=5 by default
#
# 1. Throughput (issue 15): nginx, one worker, pinned to core 0 (a server that is not the
#    bottleneck); each client alone on core 1, one at a time: wrk (-t1), loadgen (steady,
#    no think time, /hello only, one user per wrk connection) and stock goose 0.19
#    (loadgen/examples/stock_goose.rs: one transaction, goose's own client), alternating for
#    ROUNDS rounds; medians. Target: loadgen >= 0.5 x wrk; loadgen / stock goose reported.
# 2. A ramp to RAMP_MAX users with 1 s think time (the default /hello + /repeat mix) against
#    the release service on core 0, steps of RAMP_MAX/10 every RAMP_STEP s, then a hold:
#    loadgen must see no errors. loadgen's RSS is sampled during the hold: memory per user =
#    RSS / users, and the marginal cost per user against a 1-user run.
# Only loopback traffic; every process started here is stopped on exit.
set -euo pipefail

ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-64}"
RAMP_MAX="${RAMP_MAX:-10000}"
RAMP_STEP="${RAMP_STEP:-5}"
SERVER_CORE="${SERVER_CORE:-0}"
CLIENT_CORE="${CLIENT_CORE:-1}"

cd "$(dirname "$0")/.."

# shellcheck source=bench/lib.sh
. bench/lib.sh
need wrk nginx

# Each loadgen user has its own connection; the service holds one per user too.
need_fds=$((RAMP_MAX * 2 + 1024))
ulimit -n "$need_fds" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt $((RAMP_MAX + 512)) ]; then
  echo "ulimit -n is $(ulimit -n): too low for $RAMP_MAX users (raise the hard limit)" >&2
  exit 1
fi
echo "== ulimit -n $(ulimit -n)"

if [ -z "${SKIP_BUILD:-}" ]; then
  echo "== cargo build --release -p service -p loadgen (and the stock goose example)"
  cargo build --release -q -p service -p loadgen --bin service --bin loadgen --example stock_goose
fi
TARGET="${CARGO_TARGET_DIR:-target}/release"

TMP="$(mktemp -d)"
SVC_PID=""
NGINX_PID=""
LG_PID=""
stop() {
  if [ -n "$1" ]; then
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  fi
}
cleanup() {
  stop "$LG_PID"
  stop "$SVC_PID"
  stop "$NGINX_PID"
  rm -rf "$TMP"
}
trap cleanup EXIT


NGINX_PORT="$(free_port)"
nginx_conf "$TMP/nginx" "$NGINX_PORT"
echo "== nginx, one worker (core $SERVER_CORE) on :$NGINX_PORT"
taskset -c "$SERVER_CORE" nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" &
NGINX_PID=$!
wait_up "$NGINX_PORT"
URL="http://127.0.0.1:$NGINX_PORT"

run_wrk() {
  taskset -c "$CLIENT_CORE" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "$URL/hello" \
    | awk '/^Requests\/sec:/ {print $2}'
}
run_loadgen() {
  RUST_LOG=warn taskset -c "$CLIENT_CORE" "$TARGET/loadgen" steady -H "$URL" \
    -u "$CONNECTIONS" --duration "${DURATION}s" --interval "${DURATION}s" --think-time 0 \
    --mix hello=1 --out-dir "$TMP/lg-$1" \
    | sed -n 's/^total: requests=[0-9]* rps=\([0-9.]*\).*/\1/p'
}
run_goose() {
  RUST_LOG=warn taskset -c "$CLIENT_CORE" "$TARGET/examples/stock_goose" --host "$URL" \
    --users "$CONNECTIONS" --increase-rate 10000 --run-time "${DURATION}s" --no-telnet \
    --quiet --no-print-metrics --report-file "$TMP/goose-$1.json" >/dev/null 2>&1 || true
  python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
print(next(m["requests_per_second"] for m in d["raw_request_metrics"] if m["name"] == "Aggregated"))' \
    "$TMP/goose-$1.json"
}

echo "== /hello, $CONNECTIONS connections/users, no think time, ${DURATION}s each, client on core $CLIENT_CORE"
WRK=""; LG=""; GOOSE=""
for r in $(seq "$ROUNDS"); do
  w="$(run_wrk)"; l="$(run_loadgen "$r")"; g="$(run_goose "$r")"
  echo "   round $r: wrk $w req/s, loadgen $l req/s, stock goose $g req/s"
  WRK="$WRK $w"; LG="$LG $l"; GOOSE="$GOOSE $g"
done
wrk_m="$(median "$WRK")"; lg_m="$(median "$LG")"; goose_m="$(median "$GOOSE")"
stop "$NGINX_PID"; NGINX_PID=""

PORT="$(free_port)"
echo "== service (core $SERVER_CORE) on :$PORT, file sink"
RUST_LOG=warn taskset -c "$SERVER_CORE" "$TARGET/service" --host 127.0.0.1 --port "$PORT" \
  --instance-id i-bench --no-imds --log-sink "file:$TMP/events.jsonl" 2>"$TMP/service.log" &
SVC_PID=$!
wait_up "$PORT"
SURL="http://127.0.0.1:$PORT"

# Marginal memory: a 1-user run's RSS.
RUST_LOG=warn taskset -c "$CLIENT_CORE" "$TARGET/loadgen" steady -H "$SURL" -u 1 \
  --duration 6s --interval 2s --think-time 1s --out-dir "$TMP/one" >"$TMP/one.out" &
LG_PID=$!
sleep 4
ONE_RSS_KB="$(rss_kb "$LG_PID")"
wait "$LG_PID" || true
LG_PID=""

echo "== ramp to $RAMP_MAX users, 1 s think time (steps of $((RAMP_MAX / 10)) every ${RAMP_STEP}s)"
HOLD=$((RAMP_STEP * 3))
RAMP_DURATION=$((RAMP_STEP * 10 + HOLD))
start=$(date +%s.%N)
: >"$TMP/ramp.out"  # before the background job opens it: the loop below reads it at once
RUST_LOG=warn taskset -c "$CLIENT_CORE" "$TARGET/loadgen" ramp -H "$SURL" \
  --start-users $((RAMP_MAX / 10)) --step-users $((RAMP_MAX / 10)) --step-every "${RAMP_STEP}s" \
  --max-users "$RAMP_MAX" --duration "${RAMP_DURATION}s" --think-time 1s --timeout 30s \
  --out-dir "$TMP/ramp" --slo "errors<=0" >"$TMP/ramp.out" 2>"$TMP/ramp.err" &
LG_PID=$!
# Sample RSS while the full count is held.
PEAK_RSS_KB=0; PEAK_USERS=0
while kill -0 "$LG_PID" 2>/dev/null; do
  users="$(awk '/^t=/ {for (i=1;i<=NF;i++) if ($i ~ /^users=/) {sub("users=","",$i); u=$i}} END {print u+0}' "$TMP/ramp.out" 2>/dev/null || echo 0)"
  rss="$(rss_kb "$LG_PID")"
  if [ "${users:-0}" -ge "$RAMP_MAX" ] && [ "${rss:-0}" -gt "$PEAK_RSS_KB" ]; then
    PEAK_RSS_KB="$rss"; PEAK_USERS="$users"
  fi
  sleep 1
done
set +e; wait "$LG_PID"; RAMP_EXIT=$?; set -e
LG_PID=""
end=$(date +%s.%N)
cat "$TMP/ramp.out"
grep -i -E 'error|warn' "$TMP/ramp.err" | head -5 || true
ERRORS="$(sed -n 's/^total: .* errors=\([0-9]*\) .*/\1/p' "$TMP/ramp.out")"
MAX_USERS_SEEN="$(awk -F, 'NR>1 && $2>m {m=$2} END {print m+0}' "$TMP/ramp/timeline.csv" 2>/dev/null || echo 0)"

echo "== results"
awk -v a="$lg_m" -v b="$wrk_m" 'BEGIN { r = a / b; printf "   loadgen / wrk on /hello          = %.0f / %.0f req/s = %.2f  (>= 0.50) %s\n", a, b, r, (r >= 0.5 ? "OK" : "BELOW") }'
awk -v a="$lg_m" -v b="$goose_m" 'BEGIN { printf "   loadgen / stock goose on /hello  = %.0f / %.0f req/s = %.2f\n", a, b, a / b }'
printf '   ramp to %s users: exit %s, errors %s, most users seen %s  %s\n' "$RAMP_MAX" "$RAMP_EXIT" "${ERRORS:-?}" "$MAX_USERS_SEEN" \
  "$([ "$RAMP_EXIT" -eq 0 ] && [ "${ERRORS:-1}" = 0 ] && [ "$MAX_USERS_SEEN" -ge "$RAMP_MAX" ] && echo OK || echo FAILED)"
awk -v k="$PEAK_RSS_KB" -v n="$PEAK_USERS" -v one="$ONE_RSS_KB" 'BEGIN {
  if (n > 0) printf "   loadgen RSS at %d users = %.1f MB: %.1f KB per user (marginal %.1f KB per user; 1 user %.1f MB)\n", n, k/1024, k/n, (k-one)/(n-1), one/1024;
  else print "   loadgen RSS at full users: not sampled" }'
awk -v s="$start" -v e="$end" -v p="$RAMP_DURATION" 'BEGIN { printf "   ramp wall time %.0f s for a %d s plan\n", e - s, p }'
