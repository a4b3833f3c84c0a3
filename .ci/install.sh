#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh machine (Debian, root or sudo).
# Idempotent: what is already there is skipped quickly.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# postgresql: the server the books tests start (testkit::Postgres); curl: an outside client.
apt_pkgs=(chromium fonts-dejavu-core shellcheck procps psmisc postgresql curl)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "== pip install moto[server] locust"
# locust: the independent per-user keep-alive client of controller/tests/local_ramp.rs.
python3 -m pip install -q --disable-pip-version-check 'moto[server]==5.2.1' 'locust==2.47.0'

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "== cargo install cargo-nextest"
  cargo install --locked cargo-nextest
fi

if [ -f .ci/install-infra-tools.sh ]; then
  echo "== infra tools"
  bash .ci/install-infra-tools.sh
fi
echo "== install done"
