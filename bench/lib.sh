# shellcheck shell=bash
# Shared by the bench scripts (sourced, from the repository's root).

# need CMD...: installs from Debian's packages (package = command name) the commands missing.
need() {
  local missing=() c sudo=""
  for c in "$@"; do command -v "$c" >/dev/null || missing+=("$c"); done
  [ "${#missing[@]}" -eq 0 ] && return 0
  echo "== installing ${missing[*]} (Debian)"
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# build_service: the release service binary, unless SKIP_BUILD is set.
build_service() {
  [ -n "${SKIP_BUILD:-}" ] && return 0
  echo "== cargo build --release -p service"
  cargo build --release -q -p service
}

# wait_up PORT: waits (10 s at most) until GET /hello on PORT answers, or exits.
wait_up() {
  for _ in $(seq 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$1/hello" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "server on :$1 did not come up" >&2
  exit 1
}
