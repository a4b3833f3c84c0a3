#!/usr/bin/env bash
# Benchmark: /repeat with the log spool against the in-memory queue, all
# servers pinned to core 0 (one at a time under load), wrk on core 1.
#
#   bench/spool.sh                       # ROUNDS=3 DURATION=10s CONNECTIONS=64
#   BASE_BIN=/path/to/old/service bench/spool.sh   # BIN=… overrides the binary under test
#
# Targets (issue 13):
#   spool /repeat  >= 0.9 x in-memory /repeat   (requests/s; same binary, no --data-dir)
#   spool /repeat  >= 0.5 x spool /hello
# With BASE_BIN (e.g. the parent commit's binary, built to another target
# dir), its /repeat (the old in-memory queue, events without ids) is measured
# in the same rounds and the spool is compared with it too.
#
# Measured (2026-11-27, shared 2-core VM, compact /repeat records + group
# commit from the request tasks): ROUNDS=3 DURATION=5s: spool 11.52 vs memory
# 10.96 CPU us/request (0.95), 0.94 by req/s, /repeat / /hello 0.64; default
# 3 x 10s, two runs: spool 13.22 vs memory 10.56 (0.80), 0.78 by req/s, 0.47
# (below target) and spool 12.34 vs memory 11.43 (0.93), 0.91 by req/s, 0.58;
# before this work 14.06 vs 11.70 (0.83). Noisy: rerun side by side.
#
# Runs alternate per round: spool /hello, spool /repeat, memory /repeat,
# [base /repeat]; each figure is the median over rounds. Every server uses the
# file sink; the sink file and the spool are on the same disk (tmp). Only
# loopback traffic; every process started here is stopped on exit.
set -euo pipefail

ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-64}"
SERVER_CORE="${SERVER_CORE:-0}"
CLIENT_CORE="${CLIENT_CORE:-1}"

cd "$(dirname "$0")/.."

# shellcheck source=bench/lib.sh
. bench/lib.sh
need wrk

build_service
BIN="${BIN:-${CARGO_TARGET_DIR:-target}/release/service}"
BASE_BIN="${BASE_BIN:-}"

TMP="$(mktemp -d)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT


declare -A PORT SPID
start() { # name binary extra-flags...
  local name="$1" bin="$2"; shift 2
  PORT[$name]="$(free_port)"
  RUST_LOG=warn taskset -c "$SERVER_CORE" "$bin" --host 127.0.0.1 --port "${PORT[$name]}" \
    --instance-id "i-$name" --no-imds --log-sink "file:$TMP/$name.jsonl" "$@" \
    2>"$TMP/$name.log" &
  PIDS+=($!)
  SPID[$name]=$!
  for _ in $(seq 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:${PORT[$name]}/hello" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "$name did not come up:" >&2; cat "$TMP/$name.log" >&2; exit 1
}

echo "== starting servers on core $SERVER_CORE"
start spool "$BIN" --data-dir "$TMP/spool-data"
start memory "$BIN"
TARGETS=("spool_hello" "spool_repeat" "memory_repeat")
if [ -n "$BASE_BIN" ]; then
  start base "$BASE_BIN"
  TARGETS+=("base_repeat")
fi

url_of() {
  case "$1" in
    spool_hello) echo "http://127.0.0.1:${PORT[spool]}/hello" ;;
    spool_repeat) echo "http://127.0.0.1:${PORT[spool]}/repeat" ;;
    memory_repeat) echo "http://127.0.0.1:${PORT[memory]}/repeat" ;;
    base_repeat) echo "http://127.0.0.1:${PORT[base]}/repeat" ;;
  esac
}

# CPU time (user + system, all threads) of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICK_HZ="$(getconf CLK_TCK)"

# One wrk run against server pid $2: prints "RPS P99 CPU_US_PER_REQUEST".
# The CPU figure counts the server's work for the run's requests (its log
# shipping included: read 1 s after the run), so it holds on a shared machine
# where the pinned core's share, and with it requests/s, varies.
run_wrk() {
  local out rps p99 errors n c0 c1
  c0="$(cpu_ticks "$2")"
  out="$(taskset -c "$CLIENT_CORE" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency \
    -H 'Cookie: uid=bench-user-1' "$1")"
  sleep 1
  c1="$(cpu_ticks "$2")"
  rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
  p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
  n="$(awk '/requests in/ {print $1}' <<<"$out")"
  errors="$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out")"
  [ -n "$errors" ] && echo "   wrk reported: $errors" >&2
  echo "$rps $p99 $(awk -v a="$c0" -v b="$c1" -v n="$n" -v hz="$TICK_HZ" 'BEGIN { printf "%.2f", (b - a) / hz * 1e6 / n }')"
}
pid_of() { echo "${SPID[${1%_*}]}"; }

declare -A RPS CPU
echo "== $ROUNDS rounds x ${#TARGETS[@]} targets, $DURATION each, $CONNECTIONS connections"
for round in $(seq "$ROUNDS"); do
  for t in "${TARGETS[@]}"; do
    for f in "$TMP"/*.jsonl; do : >"$f"; done   # keep the disk flat; the sinks append
    sleep 1                                    # let the previous run's shipping settle
    read -r rps p99 cpu < <(run_wrk "$(url_of "$t")" "$(pid_of "$t")")
    printf '   round %d  %-14s %10.0f req/s   p99 %-9s %7.2f CPU us/request\n' "$round" "$t" "$rps" "$p99" "$cpu"
    RPS[$t]="${RPS[$t]:-} $rps"
    CPU[$t]="${CPU[$t]:-} $cpu"
  done
done


echo
echo "== medians"
for t in "${TARGETS[@]}"; do
  printf '   %-14s %10.0f req/s   %7.2f CPU us/request\n' "$t" "$(median "${RPS[$t]}")" "$(median "${CPU[$t]}")"
done
sc="$(median "${CPU[spool_repeat]}")"; mc="$(median "${CPU[memory_repeat]}")"
sh="$(median "${RPS[spool_hello]}")"; sr="$(median "${RPS[spool_repeat]}")"
mr="$(median "${RPS[memory_repeat]}")"
echo
echo "== ratios (target)"
awk -v a="$sr" -v b="$mr" 'BEGIN { r = a / b; printf "   spool /repeat / memory /repeat = %.2f  (>= 0.90) %s  req/s\n", r, (r >= 0.9 ? "OK" : "BELOW") }'
awk -v a="$mc" -v b="$sc" 'BEGIN { r = a / b; printf "   spool /repeat / memory /repeat = %.2f  (>= 0.90) %s  by CPU per request (capacity of a pinned core)\n", r, (r >= 0.9 ? "OK" : "BELOW") }'
if [ -n "$BASE_BIN" ]; then
  br="$(median "${RPS[base_repeat]}")"; bc="$(median "${CPU[base_repeat]}")"
  awk -v a="$sr" -v b="$br" 'BEGIN { r = a / b; printf "   spool /repeat / base /repeat   = %.2f  (>= 0.90) %s  req/s\n", r, (r >= 0.9 ? "OK" : "BELOW") }'
  awk -v a="$bc" -v b="$sc" 'BEGIN { r = a / b; printf "   spool /repeat / base /repeat   = %.2f  (>= 0.90) %s  by CPU per request\n", r, (r >= 0.9 ? "OK" : "BELOW") }'
fi
awk -v a="$sr" -v b="$sh" 'BEGIN { r = a / b; printf "   spool /repeat / spool /hello   = %.2f  (>= 0.50) %s\n", r, (r >= 0.5 ? "OK" : "BELOW") }'
echo "   spool on disk after the runs: $(du -sh "$TMP/spool-data" | cut -f1)"
