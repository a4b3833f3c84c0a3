#!/usr/bin/env bash
# Controller benchmarks (issue 3), release build:
#   tick       — one tick over 1,000 instances' reports (aggregate + decide + encode): ≤ 5 ms
#   daemon_rss — the daemon's RSS with 1,000 instances reporting over HTTP: ≤ 50 MB
# Each prints its figures with a reference measured in the same run, and exits non-zero
# when over budget. Everything runs on 127.0.0.1 and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p controller --features test-support --bench tick
cargo bench -p controller --features test-support --bench daemon_rss
