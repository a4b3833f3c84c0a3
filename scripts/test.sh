#!/usr/bin/env bash
# The whole test suite: formatting, lints, every crate's tests, infra checks.
# The README's test command, and exactly what CI (.ci/run) runs. On a fresh machine it first
# installs what the tests need (.ci/install.sh: Debian packages, the Python and npm tools,
# cargo-nextest, cfn-guard; root or sudo); on a machine that has them that step takes seconds.
# HF_SKIP_INSTALL=1 skips it (then a missing tool fails its test, naming how to install it).
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step says when it starts, in seconds since the suite started (where CI's time goes).
started=$SECONDS
step() { echo "== $* (at $((SECONDS - started)) s)"; }
trap 'echo "== suite ended after $((SECONDS - started)) s"' EXIT

if [ "${HF_SKIP_INSTALL:-0}" != 1 ]; then
  step "install what the tests need (.ci/install.sh; HF_SKIP_INSTALL=1 skips)"
  bash .ci/install.sh
fi
# The Python test tools (moto_server, locust) live in .ci/install.sh's virtualenv.
export PATH="${HF_VENV:-/opt/hellofleet-venv}/bin:$PATH"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo doc (a codemap link to a moved or private item is an error)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

step "doc tests"
cargo test --workspace --locked --doc

step "cargo nextest"
cargo nextest run --workspace --locked --no-fail-fast

if [ -f .ci/infra-checks.sh ]; then
  step "infra checks"
  bash .ci/infra-checks.sh
fi
