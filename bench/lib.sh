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

# free_port: a free loopback TCP port.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# median "A B C…": the median of the numbers.
median() { tr ' ' '\n' <<<"$1" | awk 'NF' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# rss_kb PID: the process's resident set in KiB (0 once it is gone).
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# nginx_conf DIR PORT [LOCATION…]: writes DIR/nginx.conf, one worker on 127.0.0.1:PORT
# answering GET /hello with "Hello World" and any further `location` lines given.
nginx_conf() {
  local dir="$1" port="$2" extra=""
  shift 2
  for l in "$@"; do extra+="    $l"$'\n'; done
  mkdir -p "$dir/logs"
  cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  keepalive_requests 100000000;
  default_type text/plain;
  server {
    listen 127.0.0.1:$port;
    location = /hello { return 200 "Hello World"; }
${extra}  }
}
CONF
}
