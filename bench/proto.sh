#!/usr/bin/env bash
# proto benchmarks, release build:
#   sign — signing and verifying one load report (HMAC-SHA256), typical and large, beside
#          parsing the same body (reference, same run): verify ≤ 50 µs for a typical report
# Prints its figures and exits non-zero when over budget. No network.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p proto --bench sign
