#!/usr/bin/env bash
# Differential test of two hellofleet builds, from outside.
#
#   bash scripts/behaviour_diff.sh OLD_DIR NEW_DIR
#
# For a refactor that promises no behaviour change (issue 18 was checked with it): build the
# old revision's binaries in a worktree (`git worktree add /tmp/old REV`, then
# `cargo build -p controller -p service -p loadgen` there; copy target/debug/{controller,service,loadgen}
# out), the same for the new one, and run this. It takes about 3 minutes on two cores.
#
# OLD_DIR and NEW_DIR each hold `controller`, `service` and `loadgen`. The same inputs go
# through both; each check prints "same: NAME" or "DIFF: NAME" followed by a short unified diff
# (old = ---, new = +++). Differences the refactor announced are printed as
# "DIFF (expected: ...)" and do not fail the run. Exit status: 0 when every other check is the
# same, 1 otherwise, 2 on bad arguments.
#
# Environment: SRC (default: this repository) for the example configs; KEEP=1 keeps the work dir;
# SKIP="help sim policies config up service" (any subset) skips sections; DIFF_LINES (default 30).
# Every process started is stopped on exit (trap), and all traffic is to 127.0.0.1.

set -uo pipefail

if [[ $# -ne 2 || ! -x "$1/controller" || ! -x "$2/controller" ]]; then
    echo "usage: $0 OLD_DIR NEW_DIR (each with controller, service, loadgen)" >&2
    exit 2
fi
OLD=$(cd "$1" && pwd)
NEW=$(cd "$2" && pwd)
SRC=${SRC:-$(cd "$(dirname "$0")/.." && pwd)}
SKIP=${SKIP:-}
DIFF_LINES=${DIFF_LINES:-30}
BASE=${TMPDIR:-/tmp}
WORK=$(mktemp -d "$BASE/run.XXXXXX")
START=$(date +%s)

# Never talk to real AWS: every SDK call goes to a loopback port that accepts and never answers
# (started below), so a daemon that starts stays in its start-up until the test stops it.
export AWS_ENDPOINT_URL=http://127.0.0.1:9
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset HELLOFLEET_CONFIG HELLOFLEET_BOOKS_TOKEN
export NO_COLOR=1 RUST_LOG_STYLE=never
unset RUST_LOG

PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null
    done
    sleep 0.5
    for p in "${PIDS[@]}"; do
        kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null
    done
    PIDS=()
    if [[ "${KEEP:-0}" != 1 ]]; then rm -rf "$WORK"; else echo "work dir kept: $WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts "$@" in its own process group (so its children are stopped too); sets BGPID.
start_bg() {
    local out=$1 err=$2
    shift 2
    setsid "$@" >"$out" 2>"$err" </dev/null &
    BGPID=$!
    PIDS+=("$BGPID")
}
# Stops a process group started by start_bg: SIGINT, then SIGTERM, then SIGKILL. Sets STOP_RC
# to the exit status, with the signal that stopped it ("130 after INT").
stop_bg() {
    local p=$1 i sig used=""
    for sig in INT TERM; do
        kill -0 "$p" 2>/dev/null || break
        used=$sig
        kill "-$sig" -- "-$p" 2>/dev/null
        for ((i = 0; i < 80; i++)); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.1
        done
    done
    if kill -0 "$p" 2>/dev/null; then
        used=KILL
        kill -KILL -- "-$p" 2>/dev/null
    fi
    wait "$p" 2>/dev/null
    STOP_RC="$? after ${used:-nothing}"
    kill -KILL -- "-$p" 2>/dev/null
    return 0
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

BLACKHOLE=$(free_port)
start_bg "$WORK/blackhole.out" "$WORK/blackhole.err" python3 -c '
import socket, sys, threading, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(512)
held = []
while True:
    c, _ = s.accept(); held.append(c)
' "$BLACKHOLE"
export AWS_ENDPOINT_URL=http://127.0.0.1:$BLACKHOLE

SAME=0 DIFFS=0 EXPECTED=0
FAILED=()
# compare NAME OLD_FILE NEW_FILE [EXPECTED_REASON]
compare() {
    local name=$1 a=$2 b=$3 why=${4:-}
    if cmp -s "$a" "$b"; then
        echo "same: $name"
        SAME=$((SAME + 1))
        return 0
    fi
    if [[ -n "$why" ]]; then
        echo "DIFF (expected: $why): $name"
        EXPECTED=$((EXPECTED + 1))
    else
        echo "DIFF: $name"
        DIFFS=$((DIFFS + 1))
        FAILED+=("$name")
    fi
    if [[ ! -f "$a" || ! -f "$b" ]]; then
        [[ -f "$a" ]] || echo "    old: no such file"
        [[ -f "$b" ]] || echo "    new: no such file"
    else
        local out
        out=$(diff -u --label old --label new "$a" "$b" | head -n "$DIFF_LINES")
        if [[ $out == Binary* ]]; then
            echo "    binary: $(wc -c <"$a") vs $(wc -c <"$b") bytes, first at $(cmp "$a" "$b" | sed 's/.*differ: //')"
        else
            printf '%s\n' "$out" | sed 's/^/    /'
        fi
    fi
    return 1
}

# Replaces what legitimately differs between the two runs (binary dirs, work dirs, ports).
norm_paths() {
    sed -e "s#$OLD/#BIN/#g; s#$NEW/#BIN/#g; s#$WORK/[a-z]*/#WORK/#g; s#$WORK/#WORK/#g"
}
norm_numbers() {
    sed -E 's/[0-9]+(\.[0-9]+)?/N/g'
}

# cap WHICH DIR NAME CMD... : runs $DIR/CMD with stdout, stderr and the exit code saved under
# $WORK/WHICH/NAME.{out,err,rc}, in directory $WORK/WHICH/cwd.
cap() {
    local which=$1 dir=$2 name=$3 bin=$4
    shift 4
    local d=$WORK/$which
    mkdir -p "$d/cwd" "$(dirname "$d/$name")"
    (cd "$d/cwd" && timeout -k 5 "${CAP_TIMEOUT:-120}" "$dir/$bin" "$@" >"$d/$name.out" 2>"$d/$name.err")
    echo $? >"$d/$name.rc"
}
# both NAME BIN ARGS... : the same command through both builds (in parallel), then the
# combined exit code + stdout + stderr compared. Arguments may contain @W@, the build's own
# work dir.
both() {
    local name=$1 bin=$2
    shift 2
    local a=() b=() x
    for x in "$@"; do
        a+=("${x//@W@/$WORK/old}")
        b+=("${x//@W@/$WORK/new}")
    done
    cap old "$OLD" "$name" "$bin" "${a[@]}" &
    local p1=$!
    cap new "$NEW" "$name" "$bin" "${b[@]}"
    wait "$p1"
    local w
    for w in old new; do
        {
            echo "exit $(cat "$WORK/$w/$name.rc")"
            echo "--- stdout"
            norm_paths <"$WORK/$w/$name.out"
            echo "--- stderr"
            norm_paths <"$WORK/$w/$name.err"
        } >"$WORK/$w/$name.all"
    done
}
both_check() {
    local name=$1
    both "$@"
    compare "$name" "$WORK/old/$name.all" "$WORK/new/$name.all"
}

skip() { [[ " $SKIP " == *" $1 "* ]]; }
mkdir -p "$WORK/old" "$WORK/new" "$WORK/in"

###########################################################################################
# 1. --help of every command and subcommand
###########################################################################################
if ! skip help; then
    for args in "--help" "-h" "--version" "" "help" "up --help" "up -h" "run --help" "run -h" \
        "simulate --help" "simulate -h" "policies --help" "policies" "policies render --help" \
        "policies help" "policies help render" "help up" "help run" "help simulate" \
        "help policies" "bogus"; do
        # shellcheck disable=SC2086
        both_check "help/controller ${args:-(none)}" controller $args
    done
    for args in "--help" "-h" "--version" "" "help" "ramp --help" "ramp -h" "steady --help" \
        "steady -h" "spike --help" "spike -h" "help ramp" "bogus"; do
        # shellcheck disable=SC2086
        both_check "help/loadgen ${args:-(none)}" loadgen $args
    done
    for args in "--help" "-h" "--version" "--bogus"; do
        # shellcheck disable=SC2086
        both_check "help/service $args" service $args
    done
fi

###########################################################################################
# Inputs shared by the simulate, policies and config sections
###########################################################################################
LOCAL_TOML=$SRC/controller/examples/local.toml
AWS_TOML=$SRC/controller/examples/aws.toml
INFRA_TOML=$SRC/infra/controller.aws.toml
IN=$WORK/in
# A CSV trace: time,users (seconds), with a header, a climb, a plateau and a fall.
python3 - "$IN/trace.csv" <<'EOF'
import sys, math
with open(sys.argv[1], "w") as f:
    f.write("time,users\n")
    for t in range(0, 1800, 2):
        u = 0 if t < 60 else min(350, (t - 60) // 2) if t < 1200 else max(0, 350 - (t - 1200))
        u += int(20 * math.sin(t / 37.0)) if u > 40 else 0
        f.write(f"{t},{u}\n")
EOF
# The same climb as loadgen's timeline.csv would name it (extra columns).
printf 'time,users,rps\n0,0,0\n10,50,20\n20,120,50\n30,300,90\n40,400,120\n50,380,110\n60,100,30\n' \
    >"$IN/trace_extra.csv"
# A second config for --compare: the local example with a lower threshold and 3 periods.
sed -e 's/^threshold = 50$/threshold = 35/' -e 's/^evaluation_periods = 1$/evaluation_periods = 3/' \
    -e 's/^datapoints_to_alarm = 1$/datapoints_to_alarm = 2/' "$LOCAL_TOML" >"$IN/second.toml"
# Lookahead on.
{
    cat "$LOCAL_TOML"
    printf '\n[policies.lookahead]\nwindow_secs = 60\nhorizon_secs = 40\nmax_growth = 2\n'
} >"$IN/lookahead.toml"
# Native mode: aws.toml with mode = "native" and 60 s periods (evaluation periods kept, the
# scale-in one shortened so that N x period stays small).
sed -e 's/^mode = "controller"/mode = "native"/' -e 's/^period_secs = 10$/period_secs = 60/' \
    -e "s#^key_file = .*#key_file = \"$IN/report.key\"#" "$AWS_TOML" >"$IN/native.toml"
sed -e 's/^mode = "native"/mode = "stack"/' "$IN/native.toml" >"$IN/stack.toml"
printf '%s\n' "0123456789abcdef0123456789abcdef-test-key" >"$IN/report.key"
# For `up`: the local example scaling out at 2 users per instance, so a short loadgen run
# makes scale-out decisions.
sed -e 's/^threshold = 50$/threshold = 2/' -e 's/^threshold = 20$/threshold = 1/' "$LOCAL_TOML" >"$IN/up.toml"
chmod 600 "$IN/report.key"

###########################################################################################
# 2. controller simulate
###########################################################################################
if ! skip sim; then
    # out_check NAME ARGS... : simulate --out into each build's own dir, every file compared.
    out_check() {
        local name=$1
        shift
        both "$name" controller simulate "$@" --out "@W@/$name.dir"
        compare "$name (stdout/stderr/exit)" "$WORK/old/$name.all" "$WORK/new/$name.all"
        (cd "$WORK/old/$name.dir" 2>/dev/null && ls) >"$WORK/old/$name.ls"
        (cd "$WORK/new/$name.dir" 2>/dev/null && ls) >"$WORK/new/$name.ls"
        compare "$name: file list" "$WORK/old/$name.ls" "$WORK/new/$name.ls"
        local f
        while read -r f; do
            [[ -f "$WORK/new/$name.dir/$f" ]] || continue
            compare "$name: $f" "$WORK/old/$name.dir/$f" "$WORK/new/$name.dir/$f"
        done <"$WORK/old/$name.ls"
    }
    for t in ramp spike sawtooth; do
        both_check "sim/$t text" controller simulate --trace "$t"
        both_check "sim/$t json" controller simulate --trace "$t" --json
        out_check "sim/$t out" --trace "$t"
    done
    # diurnal is 24 h of 5 s ticks: 20 s per debug run. Text in full; json and out on 6 h.
    both_check "sim/diurnal text" controller simulate --trace diurnal
    both_check "sim/diurnal 6h json" controller simulate --trace diurnal --duration 6h --json
    out_check "sim/diurnal 6h out" --trace diurnal --duration 6h --resolution 10s
    both_check "sim/csv text" controller simulate --trace "$IN/trace.csv"
    both_check "sim/csv json" controller simulate --trace "$IN/trace.csv" --json
    out_check "sim/csv out" --trace "$IN/trace.csv"
    both_check "sim/csv extra columns" controller simulate --trace "$IN/trace_extra.csv"
    for b in native hpa aws-target-tracking; do
        both_check "sim/ramp compare $b" controller simulate --trace ramp --compare "$b"
        both_check "sim/spike compare $b json" controller simulate --trace spike --compare "$b" --json
    done
    both_check "sim/ramp compare config" controller simulate --trace ramp --compare "$IN/second.toml"
    both_check "sim/spike compare config json" controller simulate --trace spike --compare "$IN/second.toml" --json
    out_check "sim/ramp compare all out" --trace ramp --compare native --compare hpa \
        --compare aws-target-tracking --compare "$IN/second.toml"
    both_check "sim/lookahead ramp" controller simulate --config "$IN/lookahead.toml" --trace ramp
    both_check "sim/lookahead sawtooth json" controller simulate --config "$IN/lookahead.toml" --trace sawtooth --json
    out_check "sim/lookahead spike out compare" --config "$IN/lookahead.toml" --trace spike --compare native
    both_check "sim/aws.toml ramp" controller simulate --config "$AWS_TOML" --trace ramp
    both_check "sim/native.toml ramp json" controller simulate --config "$IN/native.toml" --trace ramp --json
    both_check "sim/stack.toml spike" controller simulate --config "$IN/stack.toml" --trace spike
    both_check "sim/infra toml sawtooth" controller simulate --config "$INFRA_TOML" --trace sawtooth --compare hpa
    both_check "sim/options" controller simulate --trace spike --peak 900 --duration 40m --resolution 5s \
        --boot 45s --drain 10s --warmup 20s --tick 2s --min-size 2 --max-size 30 \
        --target-users-per-instance 40 --slo-users-per-instance 60 --requests-per-user 1.5 \
        --oscillation-window 5m --compare native --compare hpa
    both_check "sim/options json" controller simulate --trace ramp --peak 50 --duration 5m --tick 1s \
        --json --compare aws-target-tracking
    # Bad arguments.
    both_check "sim/bad trace name" controller simulate --trace sine
    both_check "sim/missing csv" controller simulate --trace "$IN/nope.csv"
    printf 'time,users\n0,10\n5,x\n' >"$IN/bad.csv"
    both_check "sim/bad csv" controller simulate --trace "$IN/bad.csv"
    printf '' >"$IN/empty.csv"
    both_check "sim/empty csv" controller simulate --trace "$IN/empty.csv"
    printf 'time,users\n10,5\n5,10\n' >"$IN/backwards.csv"
    both_check "sim/unordered csv" controller simulate --trace "$IN/backwards.csv"
    both_check "sim/bad compare" controller simulate --trace ramp --compare kubernetes
    both_check "sim/bad duration" controller simulate --trace ramp --duration 5parsecs
    both_check "sim/zero peak" controller simulate --trace ramp --peak 0
    both_check "sim/min>max" controller simulate --trace ramp --min-size 5 --max-size 2
    both_check "sim/zero tick" controller simulate --trace ramp --tick 0s
    both_check "sim/no trace" controller simulate
    both_check "sim/out is a file" controller simulate --trace ramp --duration 5m --out "$IN/report.key"
fi

###########################################################################################
# 3. controller policies render
###########################################################################################
if ! skip policies; then
    both_check "policies/render native.toml" controller policies render --config "$IN/native.toml"
    both_check "policies/render stack.toml" controller policies render --config "$IN/stack.toml"
    both_check "policies/render infra controller.aws.toml (refused)" controller policies render --config "$INFRA_TOML"
    both_check "policies/render aws.toml (10 s periods)" controller policies render --config "$AWS_TOML"
    both_check "policies/render local.toml" controller policies render --config "$LOCAL_TOML"
    both_check "policies/render missing file" controller policies render --config "$IN/nope.toml"
    both_check "policies/render no config" controller policies render
fi

###########################################################################################
# 4. Config errors: a corpus through simulate and run
###########################################################################################
if ! skip config; then
    mkdir -p "$IN/cfg"
    python3 - "$IN/cfg" "$IN/report.key" <<'EOF'
import sys, os
d, key = sys.argv[1], sys.argv[2]
LOCAL = f'''provider = "local"
tick = "5s"

[group]
name = "g"
min_size = 1
max_size = 10
desired_capacity = 1

[metrics]
publish = false
namespace = "HelloFleet"

[api]
listen = "@LISTEN@"

[reports]
interval = "1s"
stale_after = "3s"
key_file = "{key}"

[history]
decisions = 1000
metrics = 1440

[local]
balancer = "127.0.0.1:0"
data_dir = "data"
proxy_protocol = true
'''
POL = '''
[policies.scale_out]
name = "scale-out"
adjustment_type = "PercentChangeInCapacity"
min_adjustment_magnitude = 1
estimated_instance_warmup_secs = 10

[policies.scale_out.alarm]
metric = "ConcurrentUsersPerInstance"
statistic = "Average"
threshold = 50
comparison = "GreaterThanOrEqualToThreshold"
period_secs = 5
evaluation_periods = 1
datapoints_to_alarm = 1

[[policies.scale_out.steps]]
lower_bound = 0
upper_bound = 25
scaling_adjustment = 50

[[policies.scale_out.steps]]
lower_bound = 25
scaling_adjustment = 100

[policies.scale_in]
name = "scale-in"
adjustment_type = "ChangeInCapacity"
estimated_instance_warmup_secs = 10

[policies.scale_in.alarm]
metric = "ConcurrentUsersPerInstance"
statistic = "Average"
threshold = 20
comparison = "LessThanOrEqualToThreshold"
period_secs = 5
evaluation_periods = 3
datapoints_to_alarm = 3

[[policies.scale_in.steps]]
upper_bound = 0
scaling_adjustment = -1
'''
AWS = f'''provider = "aws"
tick = "5s"

[group]
name = "hellofleet"
min_size = 2
max_size = 20

[metrics]
publish = true

[api]
listen = "@LISTEN@"

[reports]
interval = "1s"
key_file = "{key}"

[aws]
region = "us-east-1"
connect_timeout = "2s"
attempt_timeout = "20s"
operation_timeout = "30s"
max_attempts = 1
'''
NATIVE_POL = POL.replace("period_secs = 5", "period_secs = 60")
def sub(text, old, new, count=1):
    assert old in text, old
    return text.replace(old, new, count)
L = LOCAL + POL
A = AWS + POL
cases = {
    "empty": "",
    "comments-only": "# nothing here\n",
    "defaults-only-local": 'provider = "local"\n',
    "defaults-only-aws": 'provider = "aws"\n',
    "valid-local": L,
    "valid-local-no-policies": LOCAL,
    "valid-aws": A,
    "valid-aws-lease": A + '\n[lease]\ntable = "hellofleet-lease"\nttl = "30s"\n',
    "valid-native": sub(A, "[aws]", '[policies]\nmode = "native"\n\n[aws]').replace(POL, NATIVE_POL),
    "syntax-error": L + "\n[group\n",
    "duplicate-key": sub(L, 'tick = "5s"', 'tick = "5s"\ntick = "6s"'),
    "unknown-top-field": "colour = \"red\"\n" + L,
    "unknown-group-field": sub(L, 'name = "g"', 'name = "g"\ncolour = "red"'),
    "unknown-section": L + "\n[nope]\nx = 1\n",
    "unknown-policy-field": sub(L, 'name = "scale-out"', 'name = "scale-out"\ncooldown = 300'),
    "tick-int": sub(L, 'tick = "5s"', "tick = 5"),
    "tick-bad-duration": sub(L, 'tick = "5s"', 'tick = "5 parsecs"'),
    "tick-zero": sub(L, 'tick = "5s"', 'tick = "0s"'),
    "tick-negative": sub(L, 'tick = "5s"', 'tick = "-5s"'),
    "tick-huge": sub(L, 'tick = "5s"', 'tick = "1h"'),
    "min-gt-max": sub(L, "min_size = 1", "min_size = 12"),
    "min-string": sub(L, "min_size = 1", 'min_size = "1"'),
    "min-float": sub(L, "min_size = 1", "min_size = 1.5"),
    "min-negative": sub(L, "min_size = 1", "min_size = -1"),
    "max-zero": sub(sub(L, "max_size = 10", "max_size = 0"), "min_size = 1", "min_size = 0"),
    "desired-gt-max": sub(L, "desired_capacity = 1", "desired_capacity = 11"),
    "desired-lt-min": sub(sub(L, "desired_capacity = 1", "desired_capacity = 1"), "min_size = 1", "min_size = 2"),
    "group-name-empty": sub(L, 'name = "g"', 'name = ""'),
    "provider-gcp": sub(L, 'provider = "local"', 'provider = "gcp"'),
    "namespace-aws": sub(L, 'namespace = "HelloFleet"', 'namespace = "AWS/EC2"'),
    "listen-bad": L.replace('listen = "@LISTEN@"', 'listen = "not-an-address"'),
    "header-timeout-1ms": sub(L, 'listen = "@LISTEN@"', 'listen = "@LISTEN@"\nheader_timeout = "1ms"'),
    "max-connections-zero": sub(L, 'listen = "@LISTEN@"', 'listen = "@LISTEN@"\nmax_connections = 0'),
    "max-report-bytes-zero": sub(L, 'listen = "@LISTEN@"', 'listen = "@LISTEN@"\nmax_report_bytes = 0'),
    "stale-below-interval": sub(L, 'stale_after = "3s"', 'stale_after = "500ms"'),
    "key-file-and-env": sub(L, 'interval = "1s"', 'interval = "1s"\nkey_env = "X"'),
    "key-file-missing": sub(L, f'key_file = "{key}"', 'key_file = "/nonexistent/report.key"'),
    "key-none": sub(L, f'key_file = "{key}"\n', ''),
    "key-env-unset": sub(L, f'key_file = "{key}"', 'key_env = "HELLOFLEET_UNSET_KEY_VAR"'),
    "clock-skew-zero": sub(L, 'interval = "1s"', 'interval = "1s"\nmax_clock_skew = "0s"'),
    "history-decisions-zero": sub(L, "decisions = 1000", "decisions = 0"),
    "history-metrics-negative": sub(L, "metrics = 1440", "metrics = -1"),
    "local-bad-balancer": sub(L, 'balancer = "127.0.0.1:0"', 'balancer = "nowhere"'),
    "local-bad-strategy": sub(L, "proxy_protocol = true", 'proxy_protocol = true\nstrategy = "random"'),
    "local-bad-data-dir-type": sub(L, 'data_dir = "data"', "data_dir = 5"),
    "local-bad-data-dir-empty": sub(L, 'data_dir = "data"', 'data_dir = ""'),
    "local-bad-unknown-field": sub(L, "proxy_protocol = true", "proxy_protocol = true\nturbo = true"),
    "local-bad-proxy-type": sub(L, "proxy_protocol = true", 'proxy_protocol = "yes"'),
    "local-bad-zones-empty": sub(L, "proxy_protocol = true", "proxy_protocol = true\nzones = []"),
    "local-bad-health-interval": sub(L, "proxy_protocol = true", 'proxy_protocol = true\nhealth_check_interval = "often"'),
    "local-bad-unhealthy-zero": sub(L, "proxy_protocol = true", "proxy_protocol = true\nunhealthy_threshold = 0"),
    "local-bad-boot-timeout-zero": sub(L, "proxy_protocol = true", 'proxy_protocol = true\nboot_timeout = "0s"'),
    "local-bad-stop-timeout-huge": sub(L, "proxy_protocol = true", 'proxy_protocol = true\nstop_timeout = "100d"'),
    "local-odd-all-fields": sub(L, "proxy_protocol = true", 'proxy_protocol = false\nstrategy = "round_robin"\nzones = ["z1", "z2", "z3"]\nhealth_check_interval = "2s"\nunhealthy_threshold = 5\nderegistration_delay = "1s"\nboot_timeout = "20s"\nstop_timeout = "10s"'),
    "local-on-aws": A + '\n[local]\nbalancer = "127.0.0.1:0"\n',
    "local-bad-on-aws": A + '\n[local]\nbalancer = "nowhere"\n',
    "aws-section-on-local": L + '\n[aws]\nregion = "eu-west-1"\n',
    "lease-on-local": L + '\n[lease]\ntable = "t"\nttl = "30s"\n',
    "aws-without-aws-section": A.split("[aws]")[0] + POL,
    "aws-region-empty": sub(A, 'region = "us-east-1"', 'region = ""'),
    "aws-timeout-bad": sub(A, 'connect_timeout = "2s"', 'connect_timeout = "abc"'),
    "aws-max-attempts-zero": sub(A, "max_attempts = 1", "max_attempts = 0"),
    "aws-unknown-field": sub(A, "max_attempts = 1", "max_attempts = 1\nprofile = \"x\""),
    "aws-lease-ttl-1s": A + '\n[lease]\ntable = "hellofleet-lease"\nttl = "1s"\n',
    "aws-lease-table-short": A + '\n[lease]\ntable = "t"\nttl = "30s"\n',
    "aws-lease-no-table": A + '\n[lease]\nttl = "30s"\n',
    "steps-overlap": sub(L, "lower_bound = 25\n", "lower_bound = 20\n"),
    "steps-gap": sub(L, "lower_bound = 25\n", "lower_bound = 30\n"),
    "steps-empty": L.replace("[[policies.scale_out.steps]]\nlower_bound = 0\nupper_bound = 25\nscaling_adjustment = 50\n\n[[policies.scale_out.steps]]\nlower_bound = 25\nscaling_adjustment = 100\n", "steps = []\n").replace("estimated_instance_warmup_secs = 10\n\n[policies.scale_out.alarm]", "estimated_instance_warmup_secs = 10\nsteps = []\n\n[policies.scale_out.alarm]").replace("\nsteps = []\n\n[policies.scale_in]", "\n[policies.scale_in]"),
    "step-lower-gt-upper": sub(L, "lower_bound = 0\nupper_bound = 25", "lower_bound = 30\nupper_bound = 25"),
    "step-adjustment-zero": sub(L, "scaling_adjustment = 50", "scaling_adjustment = 0"),
    "scale-out-negative-step": sub(L, "scaling_adjustment = 50", "scaling_adjustment = -50"),
    "threshold-nan": sub(L, "threshold = 50", "threshold = nan"),
    "threshold-inf": sub(L, "threshold = 50", "threshold = inf"),
    "threshold-string": sub(L, "threshold = 50", 'threshold = "50"'),
    "adjustment-type-bogus": sub(L, 'adjustment_type = "PercentChangeInCapacity"', 'adjustment_type = "Bogus"'),
    "comparison-wrong-way": sub(L, 'comparison = "GreaterThanOrEqualToThreshold"', 'comparison = "LessThanThreshold"'),
    "metric-bogus": sub(L, 'metric = "ConcurrentUsersPerInstance"', 'metric = "CPU"'),
    "statistic-median": sub(L, 'statistic = "Average"', 'statistic = "Median"'),
    "evaluation-periods-zero": sub(L, "evaluation_periods = 1", "evaluation_periods = 0"),
    "datapoints-gt-periods": sub(L, "datapoints_to_alarm = 1", "datapoints_to_alarm = 4"),
    "period-zero": sub(L, "period_secs = 5", "period_secs = 0"),
    "period-below-tick": sub(L, "period_secs = 5", "period_secs = 2"),
    "warmup-negative": sub(L, "estimated_instance_warmup_secs = 10", "estimated_instance_warmup_secs = -10"),
    "min-magnitude-change-in-capacity": sub(L, 'adjustment_type = "ChangeInCapacity"', 'adjustment_type = "ChangeInCapacity"\nmin_adjustment_magnitude = 2'),
    "scale-in-missing": L.split("[policies.scale_in]")[0],
    "scale-out-missing": LOCAL + "\n[policies.scale_in]" + L.split("[policies.scale_in]")[1],
    "policies-mode-only": LOCAL + '\n[policies]\nmode = "controller"\n',
    "policies-mode-bogus": LOCAL + '\n[policies]\nmode = "autopilot"\n',
    "native-on-local": sub(L, "\n[policies.scale_out]", '\n[policies]\nmode = "native"\n\n[policies.scale_out]'),
    "native-period-45": sub(A, "[aws]", '[policies]\nmode = "native"\n\n[aws]').replace(POL, POL.replace("period_secs = 5", "period_secs = 45")),
    "native-publish-false": sub(sub(A, "[aws]", '[policies]\nmode = "native"\n\n[aws]'), "publish = true", "publish = false").replace(POL, NATIVE_POL),
    "lookahead-window-zero": L + "\n[policies.lookahead]\nwindow_secs = 0\n",
    "lookahead-growth-20": L + "\n[policies.lookahead]\nwindow_secs = 60\nmax_growth = 20\n",
    "lookahead-wrong-metric": sub(L, 'metric = "ConcurrentUsersPerInstance"', 'metric = "ConcurrentUsers"') + "\n[policies.lookahead]\nwindow_secs = 60\n",
    "lookahead-unknown-field": L + "\n[policies.lookahead]\nwindow_secs = 60\nsmoothing = 3\n",
    "bom-prefixed": "\ufeff" + L,
    "name-long": sub(L, 'name = "scale-out"', 'name = "' + "x" * 300 + '"'),
}
for name, text in cases.items():
    with open(os.path.join(d, name + ".toml"), "w", encoding="utf-8") as f:
        f.write(text)
EOF
    # cfg_first N FILE: exit code and the first N stderr lines, ports and times normalised.
    cfg_norm() {
        norm_paths | sed -E 's/127\.0\.0\.1:[0-9]+/127.0.0.1:PORT/g; s/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z?/TIME/g'
    }
    for f in "$IN"/cfg/*.toml; do
        c=$(basename "$f" .toml)
        why=""
        [[ $c == local-bad-* ]] && why="[local] now validated on every load"
        # simulate: 10 minutes of ramp, the whole output compared.
        p=$(free_port)
        sed "s/@LISTEN@/127.0.0.1:$p/" "$f" >"$IN/cfg/$c.sim"
        both "cfg/$c sim" controller simulate --config "$IN/cfg/$c.sim" --trace ramp --duration 10m
        for w in old new; do
            { head -c 20000 "$WORK/$w/cfg/$c sim.all"; } | cfg_norm >"$WORK/$w/cfg/$c sim.cmp"
        done
        compare "config/$c: simulate" "$WORK/old/cfg/$c sim.cmp" "$WORK/new/cfg/$c sim.cmp" "$why"
        # run: with a timeout; an accepted config starts the daemon (its AWS calls go to a closed
        # loopback port), which is stopped once it says where it listens (or after 6 s).
        for w in old new; do
            [[ $w == old ]] && dir=$OLD || dir=$NEW
            p=$(free_port)
            mkdir -p "$WORK/$w/cfgrun" "$WORK/$w/cfgin"
            sed "s/@LISTEN@/127.0.0.1:$p/" "$f" >"$WORK/$w/cfgin/$c.toml"
            start_bg "$WORK/$w/cfgrun/$c.out" "$WORK/$w/cfgrun/$c.err" \
                env -C "$WORK/$w/cfgrun" "$dir/controller" run --config "$WORK/$w/cfgin/$c.toml"
            pid=$BGPID
            state="exited"
            for ((i = 0; i < 60; i++)); do
                kill -0 "$pid" 2>/dev/null || break
                if grep -q 'dashboard http' "$WORK/$w/cfgrun/$c.err" 2>/dev/null; then
                    sleep 1
                    state="started (stopped by the test)"
                    break
                fi
                sleep 0.1
            done
            if kill -0 "$pid" 2>/dev/null; then
                [[ $state == exited ]] && state="still running after 6 s (stopped by the test)"
                stop_bg "$pid"
                rc=$STOP_RC
            else
                wait "$pid"
                rc=$?
            fi
            {
                echo "$state, exit $rc"
                head -n 4 "$WORK/$w/cfgrun/$c.err" | cut -c1-400 | cfg_norm
            } >"$WORK/$w/cfgrun/$c.cmp"
        done
        compare "config/$c: run" "$WORK/old/cfgrun/$c.cmp" "$WORK/new/cfgrun/$c.cmp" "$why"
    done
fi

###########################################################################################
# 5 and 6. controller up (each build in turn), then loadgen steady against it
###########################################################################################
# json_shape FILE: each key path ([] for array items) and its type, sorted and unique.
json_shape() {
    jq -r '[paths(..) as $p | ($p | map(if type == "number" then "[]" else tostring end) | join(".")) + " " + (getpath($p) | type)] | unique | .[]' "$1" 2>/dev/null ||
        { echo "not JSON:"; head -c 300 "$1"; }
}
# http WHICH NAME CURL_ARGS...: saves "status + content-type" and the body.
http() {
    local w=$1 name=$2
    shift 2
    curl -s --max-time 5 -o "$WORK/$w/up/$name.body" -w '%{http_code} %{content_type}\n' "$@" \
        >"$WORK/$w/up/$name.status" 2>/dev/null || echo "curl failed" >>"$WORK/$w/up/$name.status"
}
up_one() {
    local w=$1 dir=$2
    local d=$WORK/$w/up
    mkdir -p "$d/cwd" "$d/cfg"
    local api ctl
    api=$(free_port)
    ctl=$(free_port)
    # The balancer, the API and a relative data dir come from the file (run from $d/cwd, the
    # file in $d/cfg: where "data" lands is part of the behaviour); tick and capacity are flags.
    sed -e "s/^listen = .*/listen = \"127.0.0.1:$ctl\"/" -e "s/^balancer = .*/balancer = \"127.0.0.1:$api\"/" \
        -e 's/^decisions = 1000$/decisions = 5/' -e 's/^metrics = 1440$/metrics = 7/' \
        -e 's/^max_report_bytes = .*/max_report_bytes = 4096/' "$IN/up.toml" >"$d/cfg/up.toml"
    start_bg "$d/up.out" "$d/up.err" env -C "$d/cwd" "$dir/controller" up --config "$d/cfg/up.toml" \
        --tick 1s --desired-capacity 2
    local pid=$BGPID i
    for ((i = 0; i < 200; i++)); do
        curl -s --max-time 1 -o /dev/null "http://127.0.0.1:$ctl/readyz" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if curl -s --max-time 1 -o /dev/null "http://127.0.0.1:$ctl/healthz"; then
        echo "up: the controller answers" >"$d/started"
    else
        echo "up: the controller never answered; stderr: $(head -c 300 "$d/up.err")" >"$d/started"
    fi
    # Wait until both instances are in service (or 25 s).
    for ((i = 0; i < 100; i++)); do
        curl -s --max-time 1 "http://127.0.0.1:$ctl/api/status" >"$d/st.tmp" 2>/dev/null
        [[ $(jq '.group.in_service' "$d/st.tmp" 2>/dev/null) -ge 2 ]] && break
        sleep 0.25
    done
    sleep 2
    for i in 1 2 3 4 5 6; do
        curl -s --max-time 3 -D - -o "$d/hello$i.body" -H "X-User-Id: u$i" "http://127.0.0.1:$api/hello" \
            >"$d/hello$i.head" 2>/dev/null
    done
    http "$w" readyz "http://127.0.0.1:$ctl/readyz"
    http "$w" healthz "http://127.0.0.1:$ctl/healthz"
    http "$w" status "http://127.0.0.1:$ctl/api/status"
    http "$w" decisions "http://127.0.0.1:$ctl/api/decisions"
    http "$w" metrics "http://127.0.0.1:$ctl/api/metrics"
    http "$w" metrics_since "http://127.0.0.1:$ctl/api/metrics?since=99999999999999"
    http "$w" metrics_badsince "http://127.0.0.1:$ctl/api/metrics?since=abc"
    http "$w" page "http://127.0.0.1:$ctl/"
    http "$w" fragment "http://127.0.0.1:$ctl/fragments/live"
    http "$w" css "http://127.0.0.1:$ctl/assets/dashboard.css"
    http "$w" js "http://127.0.0.1:$ctl/assets/live.js"
    http "$w" notfound "http://127.0.0.1:$ctl/nope"
    http "$w" events_head --max-time 2 "http://127.0.0.1:$ctl/events"
    local rep='{"instance_id":"i-forged","seq":1}'
    http "$w" report_unsigned -X POST -H 'Content-Type: application/json' --data "$rep" "http://127.0.0.1:$ctl/api/reports"
    http "$w" report_badsig -X POST -H 'Content-Type: application/json' \
        -H "X-Hellofleet-Signature: t=$(date +%s)000,v1=$(printf '0%.0s' {1..64})" --data "$rep" "http://127.0.0.1:$ctl/api/reports"
    http "$w" report_malformedsig -X POST -H 'X-Hellofleet-Signature: garbage' --data "$rep" "http://127.0.0.1:$ctl/api/reports"
    http "$w" report_stale -X POST -H "X-Hellofleet-Signature: t=1000,v1=$(printf 'a%.0s' {1..64})" --data "$rep" "http://127.0.0.1:$ctl/api/reports"
    head -c 300000 /dev/zero | tr '\0' 'x' >"$d/big.body"
    http "$w" report_toolarge -X POST --data-binary "@$d/big.body" "http://127.0.0.1:$ctl/api/reports"
    http "$w" report_get "http://127.0.0.1:$ctl/api/reports"
    # Correctly signed reports (the key up wrote for its instances): unknown instance, a real
    # instance's id from a "new process", replayed, stale, absurd, time travel, bad sketch.
    local key
    key=$(find "$d" -name report.key 2>/dev/null | head -n 1)
    if [[ -n "$key" ]]; then
        python3 - "$key" "http://127.0.0.1:$ctl/api/reports" "$(jq -r '.instances[0].id' "$d/st.tmp")" \
            >"$d/forged" 2>&1 <<'PY'
import hmac, hashlib, json, sys, time, urllib.request, urllib.error
key = open(sys.argv[1], "rb").read().strip()
url, real = sys.argv[2], sys.argv[3]
def report(iid, seq=1, **kw):
    now = int(time.time() * 1000)
    r = {"instance_id": iid, "seq": seq, "sent_at_ms": now, "started_at_ms": now - 5000,
         "active_window_ms": 10000, "concurrent_users": 3, "users_sketch": {"p": 14, "sparse": [[1, 2], [7, 1]]},
         "in_flight": 0, "requests_total": 10,
         "log": {"enqueued": 1, "shipped": 1, "queued": 0, "dropped": 0, "rejected": 0, "retried": 0, "failed": 0},
         "draining": False, "families": {"hello": 9, "repeat": 1, "factorial": 0, "books": 0}}
    r.update(kw)
    return json.dumps(r).encode()
def send(name, body, t=None, sig=True):
    t = int(time.time() * 1000) if t is None else t
    h = {"Content-Type": "application/json"}
    if sig:
        mac = hmac.new(key, str(t).encode() + b"." + body, hashlib.sha256).hexdigest()
        h["X-Hellofleet-Signature"] = f"t={t},v1={mac}"
    req = urllib.request.Request(url, data=body, headers=h, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            code, text = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        code, text = e.code, e.read().decode()
    print(name, code, text)
send("unknown instance", report("i-forged"))
b = report(real, seq=1)
send("real id, seq 1, new start", b)
t = int(time.time() * 1000)
b = report(real, seq=10**9, started_at_ms=1)
send("real id, huge seq", b, t)
send("the same again (replay)", b, t)
send("stale signature", report(real, seq=10**9 + 1), t - 600000)
send("absurd users", report(real, seq=10**9 + 2, concurrent_users=10**9))
send("time travel", report(real, seq=10**9 + 3, started_at_ms=10**15))
send("bad sketch", report(real, seq=10**9 + 4, users_sketch={"p": 12, "sparse": []}))
send("empty id", report("", seq=1))
send("not JSON", b"{nope")
send("signed empty body", b"")
PY
    fi
    # 6. loadgen steady against this fleet.
    mkdir -p "$d/lg"
    (cd "$d/lg" && timeout -k 3 25 "$dir/loadgen" steady --users 12 --duration 6s --interval 1s \
        --think-time 100ms --host "http://127.0.0.1:$api" --controller "http://127.0.0.1:$ctl" \
        --out-dir "$d/lg/report" >"$d/lg.out" 2>"$d/lg.err")
    echo $? >"$d/lg.rc"
    (cd "$d/lg/report" 2>/dev/null && ls) >"$d/lg.ls"
    head -n 1 "$d/lg/report/timeline.csv" >"$d/lg.csvhead" 2>/dev/null
    http "$w" status_after "http://127.0.0.1:$ctl/api/status"
    http "$w" decisions_after "http://127.0.0.1:$ctl/api/decisions"
    http "$w" metrics_after "http://127.0.0.1:$ctl/api/metrics"
    stop_bg "$pid"
    echo "up stopped by SIGINT: exit $STOP_RC" >"$d/stopped"
    (cd "$d" && find cwd cfg \( -path '*/logs/*' -o -path '*/spool/*' \) -prune -o -print | sed -E 's/[0-9]+/N/g' | sort -u) >"$d/files"
    {
        echo "decisions kept: $(jq length "$d/decisions_after.body" 2>&1), metric points kept: $(jq length "$d/metrics_after.body" 2>&1)"
        jq -c '{provider, group: (.group | {name, min_size, max_size}), policy}' "$d/status_after.body" 2>&1
    } >"$d/config_values"
    curl -s --max-time 2 -o /dev/null "http://127.0.0.1:$ctl/healthz" && echo "still answering after stop" >>"$d/stopped"
    curl -s --max-time 2 -o /dev/null "http://127.0.0.1:$api/hello" && echo "balancer still answering after stop" >>"$d/stopped"
}
# up_flags WHICH DIR: `up` without a config file, everything from flags; round-robin balancer.
up_flags() {
    local w=$1 dir=$2
    local d=$WORK/$w/upflags
    mkdir -p "$d/cwd"
    local api ctl
    api=$(free_port)
    ctl=$(free_port)
    start_bg "$d/up.out" "$d/up.err" env -C "$d/cwd" "$dir/controller" up --api-port "$api" \
        --listen "127.0.0.1:$ctl" --data-dir "$d/data" --tick 1s --strategy round-robin \
        --desired-capacity 3 --max-size 4 --group flagged
    local pid=$BGPID i
    for ((i = 0; i < 120; i++)); do
        curl -s --max-time 1 "http://127.0.0.1:$ctl/api/status" >"$d/status.body" 2>/dev/null
        [[ $(jq '.group.in_service' "$d/status.body" 2>/dev/null) -ge 3 ]] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.25
    done
    for i in 1 2 3 4 5 6; do
        curl -s --max-time 3 -D - -o /dev/null -H "X-User-Id: u$i" "http://127.0.0.1:$api/hello" 2>/dev/null |
            tr -d '\r' | grep -i '^x-instance-id' | tr -d '\n'
        echo
    done >"$d/instances"
    jq -c '{provider, group: (.group | {name, min_size, max_size, desired_capacity}), policy}' \
        "$d/status.body" >"$d/config_values" 2>&1
    json_shape "$d/status.body" >"$d/status.shape"
    stop_bg "$pid"
    echo "exit $STOP_RC" >>"$d/config_values"
    (cd "$d" && find cwd data \( -path '*/logs/*' -o -path '*/spool/*' \) -prune -o -print | sed -E 's/[0-9]+/N/g' | sort -u) >"$d/files"
}
if ! skip up; then
    up_one old "$OLD"
    up_one new "$NEW"
    up_flags old "$OLD"
    up_flags new "$NEW"
    for n in config_values instances status.shape files; do
        compare "up without config, flags only: $n" "$WORK/old/upflags/$n" "$WORK/new/upflags/$n"
    done
    UO=$WORK/old/up UN=$WORK/new/up
    compare "up/config-derived values (history caps, group, policy)" "$UO/config_values" "$UN/config_values"
    for w in old new; do
        norm_paths <"$WORK/$w/up/up.out" | sed -E 's/[0-9a-f]{64}/TOKEN/g' | norm_numbers >"$WORK/$w/up/up.out.norm"
        norm_paths <"$WORK/$w/upflags/up.out" | sed -E 's/[0-9a-f]{64}/TOKEN/g' | norm_numbers >"$WORK/$w/upflags/up.out.norm"
    done
    compare "up/stdout (the URLs it prints), numbers and token normalised" "$UO/up.out.norm" "$UN/up.out.norm"
    compare "up without config: stdout, numbers and token normalised" "$WORK/old/upflags/up.out.norm" "$WORK/new/upflags/up.out.norm"
    # loadgen's timeline.csv "as is" as a simulate trace (the old build's file for both).
    if [[ -s "$UO/lg/report/timeline.csv" ]]; then
        cp "$UO/lg/report/timeline.csv" "$IN/loadgen-timeline.csv"
        both_check "sim/loadgen timeline.csv as the trace" controller simulate --trace "$IN/loadgen-timeline.csv" \
            --tick 1s --boot 2s --compare hpa
    fi
    # Flags that override the file, each refused by validation (nothing starts): same message.
    OVR=(--api-port "$(free_port)" --listen "127.0.0.1:$(free_port)" --data-dir "@W@/ovr")
    CAP_TIMEOUT=20
    both_check "up/--region on the local provider" controller up --region eu-west-1 "${OVR[@]}"
    both_check "up/--provider aws" controller up --provider aws "${OVR[@]}"
    both_check "up/aws.toml" controller up --config "$AWS_TOML" "${OVR[@]}"
    both_check "up/aws.toml --provider local (keeps [lease])" controller up --config "$AWS_TOML" --provider local "${OVR[@]}"
    both_check "up/--min-size 0 --max-size 0" controller up --min-size 0 --max-size 0 "${OVR[@]}"
    both_check "up/--tick 5parsecs" controller up --tick 5parsecs "${OVR[@]}"
    both_check "up/--listen nope" controller up --api-port "$(free_port)" --listen nope --data-dir "@W@/ovr"
    both_check "up/--group ''" controller up --group "" "${OVR[@]}"
    both_check "up/--desired-capacity 50" controller up --desired-capacity 50 "${OVR[@]}"
    both_check "up/--namespace AWS/x" controller up --namespace AWS/x "${OVR[@]}"
    both_check "up/--publish true (local)" controller up --publish true --namespace AWS/x "${OVR[@]}"
    # `up` with the corpus' bad [local] sections: refused before and after, same message.
    for f in "$IN"/cfg/local-bad-*.toml; do
        [[ -f $f ]] || continue
        # No [local] flag (it would replace the bad value); each build its own API port.
        sed "s/@LISTEN@/127.0.0.1:0/" "$f" >"$IN/up-$(basename "$f")"
        both_check "up/config $(basename "$f")" controller up --config "$IN/up-$(basename "$f")"
    done
    both_check "up/data dir not creatable" controller up --api-port "$(free_port)" --listen "127.0.0.1:$(free_port)" --data-dir /proc/nope
    both_check "run/local.toml --region" controller run --config "$LOCAL_TOML" --region eu-west-1
    both_check "run/aws.toml --provider local" controller run --config "$AWS_TOML" --provider local
    both_check "run/local.toml --provider aws" controller run --config "$LOCAL_TOML" --provider aws
    both_check "run/aws.toml --min-size 30" controller run --config "$AWS_TOML" --min-size 30
    both_check "run/aws.toml --tick 0s" controller run --config "$AWS_TOML" --tick 0s
    both_check "run/aws.toml --listen nope" controller run --config "$AWS_TOML" --listen nope
    both_check "run/aws.toml --region ''" controller run --config "$AWS_TOML" --region ""
    both_check "run/native.toml --publish false" controller run --config "$IN/native.toml" --publish false
    both_check "run/aws.toml (key file absent)" controller run --config "$AWS_TOML"
    both_check "run/no --config" controller run
    unset CAP_TIMEOUT
    compare "up/files created (relative data_dir)" "$UO/files" "$UN/files"
    compare "up/started" "$UO/started" "$UN/started"
    compare "up/exit status after SIGINT" "$UO/stopped" "$UN/stopped"
    for n in readyz healthz status decisions metrics metrics_since metrics_badsince page fragment css js \
        notfound report_unsigned report_badsig report_malformedsig report_stale report_toolarge \
        report_get status_after decisions_after; do
        [[ -f $UO/$n.status ]] || continue
        compare "up/$n: status code and type" "$UO/$n.status" "$UN/$n.status"
    done
    norm_numbers <"$UO/readyz.body" >"$UO/readyz.norm"
    norm_numbers <"$UN/readyz.body" >"$UN/readyz.norm"
    compare "up/readyz: body, numbers normalised" "$UO/readyz.norm" "$UN/readyz.norm"
    norm_numbers <"$UO/forged" >"$UO/forged.norm"
    norm_numbers <"$UN/forged" >"$UN/forged.norm"
    compare "up/forged signed reports (status, body; numbers normalised)" "$UO/forged.norm" "$UN/forged.norm"
    for n in healthz notfound metrics_since css js report_unsigned report_badsig report_malformedsig \
        report_stale report_toolarge report_get metrics_badsince; do
        [[ -f $UO/$n.body ]] || continue
        compare "up/$n: body" "$UO/$n.body" "$UN/$n.body"
    done
    for n in status decisions metrics status_after decisions_after; do
        json_shape "$UO/$n.body" >"$UO/$n.shape"
        json_shape "$UN/$n.body" >"$UN/$n.shape"
        compare "up/$n: JSON key paths and types" "$UO/$n.shape" "$UN/$n.shape"
    done
    # The decisions' vocabulary: action, reason and source of each record, in order.
    for w in old new; do
        jq -r '.[] | [.action, .reason, .source, (.policy // "")] | map(tostring) | join(" ")' \
            "$WORK/$w/up/decisions_after.body" 2>/dev/null | sort -u >"$WORK/$w/up/vocab"
        jq -r '[.. | objects | .state? // empty | tostring] | unique | .[]' \
            "$WORK/$w/up/status_after.body" >"$WORK/$w/up/states" 2>/dev/null
        jq -c -S '.[]' "$WORK/$w/up/decisions_after.body" 2>/dev/null |
            sed -E 's/[0-9]+(\.[0-9]+)?/N/g' | sort -u >"$WORK/$w/up/decisions.norm"
    done
    compare "up/decisions: action reason source policy" "$UO/vocab" "$UN/vocab"
    compare "up/decisions: records, numbers normalised" "$UO/decisions.norm" "$UN/decisions.norm"
    compare "up/status: states seen" "$UO/states" "$UN/states"
    for n in page fragment; do
        # Path data depends on the series (time): its commands and number shapes are kept.
        for w in old new; do
            norm_paths <"$WORK/$w/up/$n.body" | python3 -c '
import re, sys
def shape(m):
    toks = re.findall(r"[A-Za-z]|-?[0-9]+(?:\.[0-9]+)?", m.group(1))
    kinds = sorted({t if t.isalpha() else re.sub(r"[0-9]+", "N", t) for t in toks})
    return "d=\"" + " ".join(kinds) + "\""
sys.stdout.write(re.sub(r"(?<=\s)d=\"([^\"]*)\"", shape, sys.stdin.read()))' | norm_numbers >"$WORK/$w/up/$n.norm"
        done
        compare "up/$n HTML, numbers normalised" "$UO/$n.norm" "$UN/$n.norm"
    done
    for w in old new; do
        d=$WORK/$w/up
        for i in 1 2 3 4 5 6; do
            grep -i -v -E '^(date|x-instance-id|set-cookie|content-length):' "$d/hello$i.head" | tr -d '\r'
            norm_numbers <"$d/hello$i.body"
            echo
        done >"$d/hello.norm"
        {
            echo "exit $(cat "$d/lg.rc")"
            norm_paths <"$d/lg.out" | norm_numbers | tr -s ' ' | uniq
            echo "--- stderr"
            norm_paths <"$d/lg.err" | norm_numbers | uniq
        } >"$d/lg.norm"
        grep -E -o '^[A-Za-z]+|level=[a-z]+|"(msg|message)":"[^"]*"' "$d/up.err" | sort | uniq -c |
            sed -E 's/^ *[0-9]+ //' | norm_numbers | sort -u >"$d/uplog.kinds"
    done
    compare "up/hello through the balancer (headers, body)" "$UO/hello.norm" "$UN/hello.norm"
    compare "loadgen/steady against up: output lines" "$UO/lg.norm" "$UN/lg.norm"
    compare "loadgen/steady: report files" "$UO/lg.ls" "$UN/lg.ls"
    compare "loadgen/steady: timeline.csv header" "$UO/lg.csvhead" "$UN/lg.csvhead"
    # Log lines: the first ones (sorted: tasks race), and the set of log targets seen.
    for w in old new; do
        head -n 3 "$WORK/$w/up/up.err" | norm_paths | norm_numbers | sort >"$WORK/$w/up/up.head"
        grep -oE '^[^ ]+ +(INFO|WARN|ERROR|DEBUG) +[A-Za-z0-9_:]+' "$WORK/$w/up/up.err" |
            sed -E 's/^[^ ]+ +[A-Z]+ +//' | sort -u >"$WORK/$w/up/up.targets"
        grep -E 'shutdown signal|stopping|stopped|controller running' "$WORK/$w/up/up.err" |
            sed -E 's/^[^ ]+ +//' | norm_paths | norm_numbers | sort -u >"$WORK/$w/up/up.lifecycle"
    done
    compare "up/stderr first lines (sorted)" "$UO/up.head" "$UN/up.head"
    compare "up/log targets" "$UO/up.targets" "$UN/up.targets"
    compare "up/start and stop log lines" "$UO/up.lifecycle" "$UN/up.lifecycle"
    # `up` refusing bad input.
    both_check "up/bad strategy" controller up --strategy random
    both_check "up/aws provider without aws" controller up --provider aws --data-dir "@W@/upbad" --listen 127.0.0.1:0
    both_check "up/missing config" controller up --config "$IN/nope.toml"
    both_check "up/min>max" controller up --min-size 5 --max-size 2 --data-dir "@W@/upbad" --listen 127.0.0.1:0
fi

###########################################################################################
# 7. service alone
###########################################################################################
if ! skip service; then
    svc_one() {
        local w=$1 dir=$2 d=$WORK/$1/svc p
        mkdir -p "$d"
        p=$(free_port)
        start_bg "$d/out" "$d/err" "$dir/service" --host 127.0.0.1 --port "$p" --no-imds \
            --instance-id i-test --log-sink "file:$d/events.jsonl"
        local pid=$BGPID i
        for ((i = 0; i < 100; i++)); do
            curl -s --max-time 1 -o /dev/null "http://127.0.0.1:$p/readyz" && break
            sleep 0.1
        done
        local n=0 path
        for path in /hello /repeat /readyz /healthz /nope "/api/v1/factorial?number=5" \
            "/api/v1/factorial?number=0" "/api/v1/factorial?number=20" "/api/v1/factorial?number=-1" \
            "/api/v1/factorial?number=abc" "/api/v1/factorial?number=10001" "/api/v1/factorial" \
            "/api/v1/factorial?number=1.5" "/api/v1/factorial?number=99999999999999999999999" \
            "/books" "/books/1"; do
            n=$((n + 1))
            {
                echo "GET $path"
                curl -s --max-time 5 -D - -H 'X-User-Id: tester' "http://127.0.0.1:$p$path" |
                    tr -d '\r' | grep -i -v -E '^(date|set-cookie|content-length):'
                echo
            } >>"$d/responses"
        done
        curl -s --max-time 5 "http://127.0.0.1:$p/metrics" | grep -v '^#' | sed -E 's/[ {].*//' | sort -u >"$d/metric_names"
        stop_bg "$pid"
        {
            echo "exit $STOP_RC"
            grep -oE '^[^ ]+ +(INFO|WARN|ERROR|DEBUG) +[A-Za-z0-9_:]+' "$d/err" | sed -E 's/^[^ ]+ +//' | sort -u
        } >"$d/stopped"
    }
    svc_one old "$OLD"
    svc_one new "$NEW"
    compare "service/responses (hello, repeat, factorial good and bad, readyz, books)" \
        "$WORK/old/svc/responses" "$WORK/new/svc/responses"
    compare "service/metrics names" "$WORK/old/svc/metric_names" "$WORK/new/svc/metric_names"
    compare "service/exit after SIGINT, log targets" "$WORK/old/svc/stopped" "$WORK/new/svc/stopped"
fi

END=$(date +%s)
echo
echo "summary: $SAME same, $DIFFS DIFF, $EXPECTED expected DIFF; $((END - START)) s"
for n in "${FAILED[@]}"; do echo "  DIFF: $n"; done
[[ $DIFFS -eq 0 ]]
