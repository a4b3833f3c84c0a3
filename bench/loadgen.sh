#!/usr/bin/env bash
# Benchmark: loadgen (goose) against wrk and at 10,000 users.
#
#   bench/loadgen.sh          # ROUNDS=3 DURATION=10 CONNECTIONS=64 RAMP_MAX=10000 by default
#
# 1. Throughput: the release service pinned to core 0; wrk, then loadgen (steady, no think
#    time, /hello only, one user per wrk connection), pinned to core 1, alternating for
#    ROUNDS rounds; medians. Target (issue 4): loadgen >= 0.5 x wrk requests/s.
# 2. A ramp to RAMP_MAX users with 1 s think time (the default /hello + /repeat mix), steps of
#    RAMP_MAX/10 every RAMP_STEP s, then a hold: loadgen must see no errors. loadgen's RSS is
#    sampled during the hold: memory per user = RSS / users (and the marginal cost per user
#    against a 1-user run).
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
need wrk

# Each loadgen user has its own connection; the service holds one per user too.
need_fds=$((RAMP_MAX * 2 + 1024))
ulimit -n "$need_fds" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt $((RAMP_MAX + 512)) ]; then
  echo "ulimit -n is $(ulimit -n): too low for $RAMP_MAX users (raise the hard limit)" >&2
  exit 1
fi
echo "== ulimit -n $(ulimit -n)"

echo "== cargo build --release -p service -p loadgen"
cargo build --release -q -p service -p loadgen
TARGET="${CARGO_TARGET_DIR:-target}/release"

TMP="$(mktemp -d)"
SVC_PID=""
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
  rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
median() { tr ' ' '\n' <<<"$1" | awk 'NF' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

PORT="$(free_port)"
echo "== service (core $SERVER_CORE) on :$PORT, file sink"
RUST_LOG=warn taskset -c "$SERVER_CORE" "$TARGET/service" --host 127.0.0.1 --port "$PORT" \
  --instance-id i-bench --no-imds --log-sink "file:$TMP/events.jsonl" 2>"$TMP/service.log" &
SVC_PID=$!
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
URL="http://127.0.0.1:$PORT"

WRK=""; LG=""
for r in $(seq "$ROUNDS"); do
  w="$(taskset -c "$CLIENT_CORE" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "$URL/hello" \
      | awk '/^Requests\/sec:/ {print $2}')"
  out="$(RUST_LOG=warn taskset -c "$CLIENT_CORE" "$TARGET/loadgen" steady -H "$URL" \
      -u "$CONNECTIONS" --duration "${DURATION}s" --interval "${DURATION}s" --think-time 0 \
      --hello-weight 1 --repeat-weight 0 --out-dir "$TMP/lg-$r")"
  l="$(sed -n 's/^total: requests=[0-9]* rps=\([0-9.]*\).*/\1/p' <<<"$out")"
  echo "   round $r: wrk $w req/s, loadgen $l req/s"
  WRK="$WRK $w"; LG="$LG $l"
done
wrk_m="$(median "$WRK")"; lg_m="$(median "$LG")"

# Marginal memory: a 1-user run's RSS.
RUST_LOG=warn taskset -c "$CLIENT_CORE" "$TARGET/loadgen" steady -H "$URL" -u 1 \
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
RUST_LOG=warn taskset -c "$CLIENT_CORE" "$TARGET/loadgen" ramp -H "$URL" \
  --start-users $((RAMP_MAX / 10)) --step-users $((RAMP_MAX / 10)) --step-every "${RAMP_STEP}s" \
  --max-users "$RAMP_MAX" --duration "${RAMP_DURATION}s" --think-time 1s --timeout 30s \
  --out-dir "$TMP/ramp" --slo "errors<=0" >"$TMP/ramp.out" 2>"$TMP/ramp.err" &
LG_PID=$!
# Sample RSS while the full count is held (the last HOLD seconds before the end).
PEAK_RSS_KB=0; PEAK_USERS=0
while kill -0 "$LG_PID" 2>/dev/null; do
  users="$(awk '/^t=/ {for (i=1;i<=NF;i++) if ($i ~ /^users=/) {sub("users=","",$i); u=$i}} END {print u+0}' "$TMP/ramp.out")"
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
awk -v a="$lg_m" -v b="$wrk_m" 'BEGIN { r = a / b; printf "   loadgen / wrk on /hello            = %.0f / %.0f req/s = %.2f  (>= 0.50) %s\n", a, b, r, (r >= 0.5 ? "OK" : "BELOW") }'
printf '   ramp to %s users: exit %s, errors %s, most users seen %s  %s\n' "$RAMP_MAX" "$RAMP_EXIT" "${ERRORS:-?}" "$MAX_USERS_SEEN" \
  "$([ "$RAMP_EXIT" -eq 0 ] && [ "${ERRORS:-1}" = 0 ] && [ "$MAX_USERS_SEEN" -ge "$RAMP_MAX" ] && echo OK || echo FAILED)"
awk -v k="$PEAK_RSS_KB" -v n="$PEAK_USERS" -v one="$ONE_RSS_KB" 'BEGIN {
  if (n > 0) printf "   loadgen RSS at %d users = %.1f MB: %.1f KB per user (marginal %.1f KB per user; 1 user %.1f MB)\n", n, k/1024, k/n, (k-one)/(n-1), one/1024;
  else print "   loadgen RSS at full users: not sampled" }'
awk -v s="$start" -v e="$end" -v p="$RAMP_DURATION" 'BEGIN { printf "   ramp wall time %.0f s for a %d s plan\n", e - s, p }'
