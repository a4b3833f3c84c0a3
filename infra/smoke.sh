#!/usr/bin/env bash
# Smoke-test a deployed fleet through its load balancer. See --help.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<EOF
Usage: infra/smoke.sh (--stack NAME | --url URL) [options]

Waits until GET /hello answers (a new NLB takes a minute or two to resolve), then sends
--requests requests to /hello and to /repeat and checks every answer: status 200, the
body (Hello World; 100 lines of it for /repeat) and an X-Instance-Id header. Prints the
instances seen. Works against any base URL, e.g. the local balancer of 'controller up'.

Options (environment variable in brackets):
  --stack NAME       read the URL from the stack's ServiceUrl output   [HF_STACK]
  --url URL          test this base URL instead                       [HF_SMOKE_URL]
  --requests N       requests per path (default 20)
  --wait SECS        how long to wait for the first answer (default 300)
  --region REGION    AWS region (with --stack)           [AWS_REGION, AWS_DEFAULT_REGION]
  --dry-run          print the calls instead of making them
  -h, --help         this text
EOF
}

stack="${HF_STACK:-}"
url="${HF_SMOKE_URL:-}"
requests=20
wait_secs=300
region_flag=""
while [ $# -gt 0 ]; do
  case "$1" in
    --stack) need_value "$1" "${2:-}"; stack="$2"; shift 2 ;;
    --url) need_value "$1" "${2:-}"; url="$2"; shift 2 ;;
    --requests) need_value "$1" "${2:-}"; requests="$2"; shift 2 ;;
    --wait) need_value "$1" "${2:-}"; wait_secs="$2"; shift 2 ;;
    --region) need_value "$1" "${2:-}"; region_flag="$2"; shift 2 ;;
    --dry-run) HF_DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ "$requests" =~ ^[1-9][0-9]*$ ]] || die "--requests '$requests' is not a positive number"
[[ "$wait_secs" =~ ^[0-9]+$ ]] || die "--wait '$wait_secs' is not a number of seconds"
[ -n "$url" ] || [ -n "$stack" ] || die "missing target: pass --stack NAME or --url URL (see --help)"
command -v curl >/dev/null 2>&1 || die "curl is not installed"

if [ -z "$url" ]; then
  region="$(resolve_region "$region_flag")"
  preflight "$region" >/dev/null
  url="$(stack_output "$stack" "$region" ServiceUrl "http://$stack-nlb.elb.$region.amazonaws.com")"
  if [ -z "$url" ] || [ "$url" = None ]; then
    die "stack $stack has no ServiceUrl output (is it deployed?)"
  fi
fi
url="${url%/}"

if [ "$HF_DRY_RUN" = 1 ]; then
  print_cmd curl -sS --max-time 5 "$url/hello"
  print_cmd curl -sS --max-time 10 -D - "$url/hello"
  echo "# x $requests: expect 200, body Hello World, an X-Instance-Id header" >&3
  print_cmd curl -sS --max-time 10 -D - "$url/repeat"
  echo "# x $requests: expect 200, 100 lines of Hello World, an X-Instance-Id header" >&3
  exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

note "waiting for $url/hello (up to ${wait_secs}s)"
start=$(date +%s)
until curl -sf --max-time 5 -o /dev/null "$url/hello"; do
  [ $(($(date +%s) - start)) -lt "$wait_secs" ] || die "$url/hello did not answer within ${wait_secs}s"
  sleep 5
done

fail=0
: >"$tmp/instances"
# check PATH N EXPECTED_LINES: N requests; each must be 200 with the body and the header.
check() {
  local path="$1" n="$2" lines="$3" i code body_lines good id
  for ((i = 1; i <= n; i++)); do
    if ! code="$(curl -sS --max-time 10 -D "$tmp/h" -o "$tmp/b" -w '%{http_code}' "$url$path")"; then
      echo "FAIL $path #$i: no answer" >&2
      fail=$((fail + 1))
      continue
    fi
    body_lines="$(grep -c . "$tmp/b" || true)"
    good="$(grep -cx 'Hello World' "$tmp/b" || true)"
    id="$(tr -d '\r' <"$tmp/h" | awk -F': *' 'tolower($1) == "x-instance-id" { print $2 }')"
    if [ "$code" != 200 ] || [ "$good" != "$lines" ] || [ "$body_lines" != "$lines" ] || [ -z "$id" ]; then
      echo "FAIL $path #$i: status $code, $good/$body_lines 'Hello World' lines (want $lines), X-Instance-Id '${id}'" >&2
      fail=$((fail + 1))
    else
      echo "$id" >>"$tmp/instances"
    fi
  done
}
check /hello "$requests" 1
check /repeat "$requests" 100

seen="$(sort -u "$tmp/instances" | tr '\n' ' ')"
if [ "$fail" -gt 0 ]; then
  die "smoke test of $url: $fail of $((2 * requests)) requests failed"
fi
echo "smoke test of $url passed: $((2 * requests)) requests, instances seen: ${seen% }"
