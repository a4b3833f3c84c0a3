#!/usr/bin/env bash
# Dashboard targets (issue 5), measured on loopback against the in-memory fake fleet:
#   - first page (HTML + CSS + JS, headers included) <= 100 KB, per chart window,
#     with an hour of 1 s samples in the history;
#   - 50 open dashboards (SSE clients) cost the server little per tick: server CPU per
#     tick with 50 clients vs none, as a share of a 1 s tick (the push rate limit) and
#     of the controller's default 5 s tick; and the real controller tick's duration with 50
#     open dashboards vs none (interleaved phases, pooled medians). Target: <= 10 % slower.
# Usage: bench/dashboard.sh [clients=50] [ticks=20]
set -euo pipefail
cd "$(dirname "$0")/.."
clients="${1:-50}"
ticks="${2:-20}"
cargo build --release -q -p dashboard --features test-support --example sse_bench
bin=target/release/examples/sse_bench
echo "# one window (5m) for every client"
"$bin" --clients "$clients" --ticks "$ticks" --windows 5m
echo "# clients spread over the 1m/5m/15m/1h windows (4 renders per tick)"
"$bin" --clients "$clients" --ticks "$ticks" --windows mixed | grep '^sse'
echo "# the real controller tick (daemon::tick_once, memory fleet) with 0 / $clients open dashboards"
DASHBOARD_CLIENTS="$clients" cargo bench -q -p controller --features test-support --bench dashboard_clients 2>&1 \
  | grep '^controller'
