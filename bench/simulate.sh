#!/usr/bin/env bash
# `controller simulate` benchmark (issues 7 and 16), release build:
#   a 24-hour trace at 1-second resolution simulates in <= 1 s, and so do three compared
#   runs (the config beside all three baselines: four runs) on it.
# The budgeted run: the built-in diurnal trace (86,401 points) at the config's default 5 s
# tick (17,280 ticks of the daemon's tick core). Also shown: a 24 h CSV file (parsing
# included), the same day at a 1 s tick (86,400 ticks: one per trace point) and with the
# SVG/PNG charts. Reference measured in the same run: `controller --version` (process
# start-up). Exits non-zero when a budgeted run takes more than 1 s. No network.
# Then the issue-16 goal tables: every built-in trace, the default policies beside the three
# baselines (scores side by side), and `ramp` with [policies.lookahead] on.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p controller
bin=target/release/controller
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A 24 h CSV trace at 1 s resolution (86,401 rows): a day curve plus a sawtooth.
awk 'BEGIN { print "time,users"; pi = atan2(0, -1);
  for (t = 0; t <= 86400; t++) {
    u = 40 + 360 * (1 - cos(2 * pi * t / 86400)) / 2 + 30 * ((t % 600) / 600);
    printf "%d,%d\n", t, u } }' > "$work/day.csv"

# Wall time of a command in seconds (best of 3).
best() {
  local best=""
  for _ in 1 2 3; do
    local s e
    s=$(date +%s.%N)
    "$@" > /dev/null
    e=$(date +%s.%N)
    best=$(echo "$s $e ${best:-999}" | awk '{ d = $2 - $1; print (d < $3 ? d : $3) }')
  done
  echo "$best"
}

startup=$(best "$bin" --version)
t5=$(best "$bin" simulate --trace diurnal --duration 24h --resolution 1s --max-size 20 --json)
t1=$(best "$bin" simulate --trace diurnal --duration 24h --resolution 1s --max-size 20 --tick 1s --json)
tcsv=$(best "$bin" simulate --trace "$work/day.csv" --max-size 20 --json)
charts=$(best "$bin" simulate --trace diurnal --duration 24h --resolution 1s --max-size 20 --json --out "$work/out")
t3=$(best "$bin" simulate --trace diurnal --duration 24h --resolution 1s --max-size 20 --json \
  --compare native --compare hpa --compare aws-target-tracking)

printf '%-58s %8s %10s\n' "run (24 h trace, 1 s resolution)" "seconds" "of budget"
row() { printf '%-58s %8.3f %9.0f%%\n' "$1" "$2" "$(echo "$2" | awk '{ print $1 * 100 }')"; }
row "reference: controller --version (start-up)" "$startup"
row "BUDGET: diurnal, tick 5s (17,280 ticks)" "$t5"
row "day.csv (86,401 rows parsed), tick 5s" "$tcsv"
row "BUDGET: diurnal, tick 5s, + 3 compared runs (4 runs)" "$t3"
row "diurnal, tick 5s, + SVG and PNG charts (--out)" "$charts"
row "diurnal, tick 1s (86,400 ticks)" "$t1"
"$bin" simulate --trace diurnal --duration 24h --resolution 1s --max-size 20 | sed 's/^/  /'

# Issue 16 goal tables (the scores are deterministic: one run each).
sed -e 's/^# \[policies.lookahead\]/[policies.lookahead]/' -e 's/^# window_secs = /window_secs = /' \
  -e 's/^# horizon_secs = /horizon_secs = /' -e 's/^# max_growth = /max_growth = /' \
  controller/examples/local.toml > "$work/lookahead.toml"
for trace in ramp spike diurnal sawtooth; do
  echo
  "$bin" simulate --trace "$trace" --max-size 40 \
    --compare native --compare hpa --compare aws-target-tracking | sed 's/^/  /'
done
echo
"$bin" simulate --trace ramp --max-size 40 --compare "$work/lookahead.toml" | sed 's/^/  /'

for pair in "day:$t5" "day with 3 compared runs:$t3"; do
  if awk -v t="${pair##*:}" 'BEGIN { exit !(t > 1.0) }'; then
    echo "OVER BUDGET: the 24 h ${pair%:*} at the default tick took ${pair##*:}s (> 1 s)" >&2
    exit 1
  fi
done
