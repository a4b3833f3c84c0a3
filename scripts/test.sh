#!/usr/bin/env bash
# The whole test suite: formatting, lints, every crate's tests, infra checks.
# Needs moto_server, chromium and the infra linters: `bash .ci/install.sh` installs them.
set -euo pipefail
cd "$(dirname "$0")/.."
# The Python test tools (moto_server, locust) live in .ci/install.sh's virtualenv.
export PATH="${HF_VENV:-/opt/hellofleet-venv}/bin:$PATH"

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== doc tests"
cargo test --workspace --locked --doc

echo "== cargo nextest"
cargo nextest run --workspace --locked --no-fail-fast

if [ -f .ci/infra-checks.sh ]; then
  echo "== infra checks"
  bash .ci/infra-checks.sh
fi
