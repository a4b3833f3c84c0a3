#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh machine (Debian, root or sudo).
# Idempotent: what is already there is skipped quickly.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# postgresql: the server the books tests start (testkit::Postgres); openssl: its test CA
# and certificate (testkit::tls); curl: an outside client.
apt_pkgs=(chromium fonts-dejavu-core shellcheck procps psmisc python3-venv postgresql openssl curl)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Python tools go into their own virtualenv: Debian 12 and Ubuntu 24.04 refuse
# `pip install` into the system Python (PEP 668). Everything that runs them looks there
# first: testkit (moto_server, locust), scripts/test.sh and infra/tests/run.sh (PATH).
# locust: the independent per-user keep-alive client of controller/tests/it/local_ramp.rs.
VENV="${HF_VENV:-/opt/hellofleet-venv}"
want_py="moto[server]==5.2.1 locust==2.47.0"
if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.hellofleet-pins" 2>/dev/null)" = "$want_py" ]; then
  echo "== python test tools already at $want_py in $VENV"
else
  echo "== pip install $want_py into $VENV"
  $SUDO python3 -m venv "$VENV"
  # shellcheck disable=SC2086  # word splitting of the pin list is intended
  $SUDO "$VENV/bin/python" -m pip install -q --disable-pip-version-check $want_py
  echo "$want_py" | $SUDO tee "$VENV/.hellofleet-pins" >/dev/null
fi

# rustfmt and clippy: scripts/test.sh runs both; a minimal rustup profile lacks them.
for comp in rustfmt clippy; do
  if ! cargo "${comp/rustfmt/fmt}" --version >/dev/null 2>&1; then
    command -v rustup >/dev/null 2>&1 || { echo "error: cargo $comp is missing and there is no rustup to add it" >&2; exit 1; }
    echo "== rustup component add $comp"
    rustup component add "$comp"
  fi
done

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "== cargo install cargo-nextest"
  cargo install --locked cargo-nextest
fi

if [ -f .ci/install-infra-tools.sh ]; then
  echo "== infra tools"
  bash .ci/install-infra-tools.sh
fi
echo "== install done"
