#!/usr/bin/env bash
# Benchmark: the factorial API and the books store, the service pinned to one core.
#
#   bench/books.sh        # DURATION=5s CONNECTIONS=32 by default
#
# 1. GET /api/v1/factorial?number=100 and =5000: the service vs Python's
#    math.factorial behind gunicorn (bench/factorial_app.py, two sync workers),
#    both pinned to SERVER_CORE, one after the other in the same run; wrk on CLIENT_CORE.
# 2. GET /books/{id} and POST /books on SQLite (a file in a temp dir, WAL) and on
#    PostgreSQL (initdb'd in a temp dir, on CLIENT_CORE beside wrk, fsync off),
#    the service pinned to SERVER_CORE.
# Only loopback traffic; every process started here is stopped on exit.
set -euo pipefail

DURATION="${DURATION:-5s}"
CONNECTIONS="${CONNECTIONS:-32}"
SERVER_CORE="${SERVER_CORE:-0}"
CLIENT_CORE="${CLIENT_CORE:-1}"

cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
need wrk curl
python3 -c 'import gunicorn' 2>/dev/null || python3 -m pip install -q --disable-pip-version-check 'gunicorn==23.0.0'
build_service
BIN="$(pwd)/${CARGO_TARGET_DIR:-target}/release/service"
PG_BIN="${PG_BIN:-$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -1)}"
[ -x "$PG_BIN/pg_ctl" ] || { echo "PostgreSQL is missing: apt-get install -y postgresql" >&2; exit 1; }

TMP="$(mktemp -d)"
chmod 755 "$TMP"
PIDS=()
PG_DATA=""
AS_PG=()
[ "$(id -u)" -eq 0 ] && AS_PG=(runuser -u postgres --)
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if [ -n "$PG_DATA" ]; then
    "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

TOKEN="bench-token-0123456789abcdef"
echo "$TOKEN" >"$TMP/token"

# rate URL [LUA]: 2xx responses/s of wrk against URL (any other answer is left out and its
# count printed).
rate() {
  local out bad total secs
  out="$(taskset -c "$CLIENT_CORE" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" ${2:+-s "$2"} "$1")"
  bad="$(awk '/Non-2xx/ {print $NF}' <<<"$out")"
  [ -n "$bad" ] && echo "  ($bad answers not 2xx from $1: not counted)" >&2
  total="$(awk '/requests in/ {print $1}' <<<"$out")"
  secs="$(awk '/requests in/ {sub(/s,$/, "", $4); print $4}' <<<"$out")"
  python3 -c "print(int(($total - ${bad:-0}) / $secs))"
}

start_service() { # PORT FLAGS...
  local port="$1"; shift
  taskset -c "$SERVER_CORE" "$BIN" --host 127.0.0.1 --port "$port" --no-imds \
    --log-sink file:/dev/null --books-token-file "$TMP/token" "$@" 2>"$TMP/svc-$port.log" &
  PIDS+=("$!")
  for _ in $(seq 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null && return 0
    sleep 0.1
  done
  cat "$TMP/svc-$port.log" >&2; exit 1
}

cat >"$TMP/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.body = '{"title":"Memórias Póstumas de Brás Cubas","author":"Machado de Assis","year":1881}'
LUA

echo "== factorial: service vs gunicorn (2 workers), both on core $SERVER_CORE, $DURATION each, $CONNECTIONS connections"
SVC_PORT="$(free_port)"
# Enough slots for every connection: this measures throughput, not the 503s past the bound.
start_service "$SVC_PORT" --factorial-concurrency 64
GU_PORT="$(free_port)"
(cd bench && exec taskset -c "$SERVER_CORE" python3 -m gunicorn -w 2 -b "127.0.0.1:$GU_PORT" \
  --log-level warning factorial_app:app) &
PIDS+=("$!")
for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$GU_PORT/?number=1" 2>/dev/null && break; sleep 0.1; done
for n in 100 5000; do
  s="$(rate "http://127.0.0.1:$SVC_PORT/api/v1/factorial?number=$n")"
  g="$(rate "http://127.0.0.1:$GU_PORT/?number=$n")"
  echo "factorial?number=$n  service $s/s  gunicorn $g/s  ratio $(python3 -c "print(f'{$s/max($g,1):.2f}')")"
done

books() { # NAME PORT
  local base="http://127.0.0.1:$2"
  curl -fsS -o /dev/null -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    --data '{"title":"Dom Casmurro","author":"Machado de Assis"}' "$base/books"
  echo "books on $1: GET /books/1 $(rate "$base/books/1")/s  POST /books $(rate "$base/books" "$TMP/post.lua")/s"
}

echo "== books: the service on core $SERVER_CORE (pool 5), $DURATION each"
P="$(free_port)"
: >"$TMP/books.sqlite" # the service never creates it (controller up does)
start_service "$P" --books-db "sqlite://$TMP/books.sqlite"
books SQLite "$P"

PG_DATA="$TMP/pg"
mkdir -p "$PG_DATA"
[ "$(id -u)" -eq 0 ] && chown postgres:postgres "$PG_DATA"
"${AS_PG[@]}" "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust --no-sync >/dev/null
PG_PORT="$(free_port)"
"${AS_PG[@]}" taskset -c "$CLIENT_CORE" "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/log" -w \
  -o "-p $PG_PORT -k $PG_DATA -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
P="$(free_port)"
start_service "$P" --books-db "postgres://postgres@127.0.0.1:$PG_PORT/postgres"
books PostgreSQL "$P"
