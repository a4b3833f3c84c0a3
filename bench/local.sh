#!/usr/bin/env bash
# Benchmarks of the local provider (issue 8), on loopback, bounded (~2 min):
#
#  1. reaction: 0 → 300 users at once (wrk with 300 X-User-Id values) against `controller up`
#     with its defaults (tick 5 s, scale out at 50 users per instance):
#       - step → first scale-out decision, in ticks          target ≤ 2 ticks
#       - decision → the new instance in service (ready)      target ≤ 1 s
#  2. throughput: wrk on /hello through the local balancer vs straight to the one instance,
#     same pinning (wrk on CPU 0; the fleet on CPU 1, then unpinned)   target ratio ≥ 0.7
#
# Usage: bash bench/local.sh        (SKIP_BUILD=1 to reuse target/release/controller;
#                                    PARTS="reaction throughput" to pick parts)
# Needs: wrk, taskset, python3, curl (apt-get install -y wrk).
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=bench/lib.sh
. bench/lib.sh

for tool in wrk taskset python3 curl; do
    command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y $tool" >&2; exit 2; }
done
if [[ -z "${SKIP_BUILD:-}" ]]; then
    cargo build --release -p controller
fi
BIN="$PWD/target/release/controller"
WORK="$(mktemp -d /tmp/hellofleet-bench.XXXXXX)"
PID=""

stop_stack() {
    if [[ -n "$PID" ]] && kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID"
        for _ in $(seq 600); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$PID" 2>/dev/null || true
    fi
    wait "$PID" 2>/dev/null || true
    PID=""
}
trap 'stop_stack; rm -rf "$WORK"' EXIT

now_ms() { python3 -c 'import time; print(int(time.time()*1000))'; }
status() { curl -fsS "http://127.0.0.1:$API/api/status"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# start_stack NAME [taskset cpu list | ""] [extra args...]
start_stack() {
    local name="$1" cpus="$2"; shift 2
    BAL="$(free_port)"; API="$(free_port)"
    LOG="$WORK/$name.log"
    local cmd=("$BIN" up --api-port "$BAL" --listen "127.0.0.1:$API" --data-dir "$WORK/$name" "$@")
    if [[ -n "$cpus" ]]; then cmd=(taskset -c "$cpus" "${cmd[@]}"); fi
    NO_COLOR=1 RUST_LOG=info "${cmd[@]}" >"$WORK/$name.out" 2>"$LOG" &
    PID=$!
    for _ in $(seq 300); do
        if status 2>/dev/null | json 'd["group"]["in_service"]' 2>/dev/null | grep -qx 1; then return 0; fi
        kill -0 "$PID" 2>/dev/null || { cat "$LOG" >&2; exit 1; }
        sleep 0.1
    done
    echo "the stack did not come up" >&2; cat "$LOG" >&2; exit 1
}

PARTS="${PARTS:-reaction throughput}"

# ---------------------------------------------------------------- 1. reaction to a step of users
if [[ "$PARTS" == *reaction* ]]; then
cat >"$WORK/users.lua" <<'LUA'
-- 300 distinct users (X-User-Id), each request by the next one; paced to ~1,000 requests/s.
local n = 0
request = function()
    n = n + 1
    return wrk.format("GET", "/hello", { ["X-User-Id"] = "bench-user-" .. (n % 300) })
end
function delay() return 10 end
LUA
echo "== reaction: 0 -> 300 users at once (defaults: tick 5 s, 50 users per instance)"
start_stack reaction ""
sleep 6  # a couple of idle ticks first, so the step lands at a random phase of the tick
T0="$(now_ms)"
wrk -t1 -c10 -d20s -s "$WORK/users.lua" "http://127.0.0.1:$BAL/" >"$WORK/wrk-users.txt" 2>&1 &
WRK=$!
DECISION=""
for _ in $(seq 200); do
    DECISION="$(curl -fsS "http://127.0.0.1:$API/api/decisions" | python3 -c "
import json,sys
ds=[d for d in json.load(sys.stdin) if d['action']=='scale_out' and d['at_ms']>=$T0]
print(f\"{ds[0]['at_ms']} {ds[0]['capacity_before']} {ds[0]['capacity_after']} {ds[0]['tick']}\" if ds else '')")"
    [[ -n "$DECISION" ]] && break
    sleep 0.1
done
[[ -n "$DECISION" ]] || { echo "no scale-out decision within 20 s" >&2; exit 1; }
sleep 4  # let the new instances boot
kill "$WRK" 2>/dev/null || true; wait "$WRK" 2>/dev/null || true
TICK_MS="$(status | json 'd["policy"]["tick_ms"]')"
stop_stack
python3 - "$LOG" "$T0" "$DECISION" "$TICK_MS" <<'PY'
import re, sys, datetime
log, t0, decision, tick_ms = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), int(sys.argv[4])
at, before, after = int(decision[0]), int(decision[1]), int(decision[2])
served = {}
for line in open(log):
    line = re.sub(r"\x1b\[[0-9;]*m", "", line)
    m = re.match(r"(\S+Z)\s+INFO.*in service instance=(\S+)", line)
    if m:
        ts = datetime.datetime.strptime(m.group(1)[:26], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc)
        served[m.group(2)] = int(ts.timestamp() * 1000)
new = sorted((t - at, i) for i, t in served.items() if t >= at)
print(f"step -> decision: {at - t0} ms = {(at - t0) / tick_ms:.2f} ticks (tick {tick_ms} ms; target <= 2 ticks); "
      f"capacity {before} -> {after}")
if new:
    worst = max(d for d, _ in new)
    print(f"decision -> in service: {', '.join(f'{i} {d} ms' for d, i in new)}; slowest {worst} ms (target <= 1000 ms)")
else:
    print("decision -> in service: no new instance seen in the log")
PY
fi

# ---------------------------------------------------------------- 2. throughput via the balancer
run_wrk() {  # url → requests/s
    taskset -c 0 wrk -t1 -c32 -d8s -H "X-User-Id: bench" "$1" | awk '/Requests\/sec/ {print $2}'
}
if [[ "$PARTS" == *throughput* ]]; then
for pin in "1" ""; do
    label="fleet pinned to CPU ${pin}"; [[ -z "$pin" ]] && label="fleet unpinned"
    echo "== /hello throughput, wrk -t1 -c32 on CPU 0, $label, group fixed at 1 instance"
    # The direct runs reach the instance from loopback without a PROXY v2 header, which an
    # instance run with --proxy-protocol refuses: this stack runs without it.
    printf 'provider = "local"\n[group]\nmin_size = 1\nmax_size = 1\n[local]\nproxy_protocol = false\n' \
        >"$WORK/direct.toml"
    start_stack "throughput$pin" "$pin" --config "$WORK/direct.toml" --min-size 1 --max-size 1
    ADDR="$(status | json 'd["instances"][0]["address"]')"
    curl -fsS "http://$ADDR/hello" >/dev/null
    # Alternate direct and balanced runs so background noise hits both alike.
    runs=()
    for _ in 1 2 3; do
        runs+=("$(run_wrk "http://$ADDR/hello")" "$(run_wrk "http://127.0.0.1:$BAL/hello")")
    done
    stop_stack
    python3 - "${runs[@]}" <<'PY'
import sys
r = list(map(float, sys.argv[1:]))
direct, balanced = r[0::2], r[1::2]
d, b = sum(direct) / len(direct), sum(balanced) / len(balanced)
fmt = lambda xs: ", ".join(f"{x:,.0f}" for x in xs)
print(f"direct {d:,.0f} req/s ({fmt(direct)}); through the balancer {b:,.0f} req/s ({fmt(balanced)}); "
      f"ratio {b / d:.2f} (target >= 0.7)")
PY
done
fi
