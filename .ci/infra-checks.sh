#!/usr/bin/env bash
# The infrastructure checks: templates, Dockerfiles, Jenkinsfile, every shell script, and
# the tests of the infra scripts. Installs nothing: .ci/install-infra-tools.sh does.
#
#   cfn-lint        infra/*.yaml, zero errors and zero warnings
#   checkov         infra/ (CloudFormation and Dockerfiles), zero failed checks; every skip
#                   carries its reason in the template (tested by infra/tests/run.sh)
#   cfn-guard       infra/guard/*.guard against infra/fleet.yaml: the DependsOn edges AWS
#                   documents, and each role's actions exactly what the code calls
#   hadolint        infra/docker/*.Dockerfile, no finding at any level
#   npm-groovy-lint Jenkinsfile, zero errors and zero warnings
#   ShellCheck      every *.sh in the repository and every file with a sh/bash shebang
#   infra tests     bash infra/tests/run.sh
#
# Runs every check even after a failure, then exits 1 if any failed. The last line is
# "infra: N passed, M failed" (one per check above plus one per infra test).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

VENV="${INFRA_TOOLS_VENV:-/opt/hellofleet-infra-tools}"
NGL="$VENV/node/node_modules/.bin/npm-groovy-lint"
GUARD="$(command -v cfn-guard || echo "$HOME/.cargo/bin/cfn-guard")"
missing=()
for tool in "$VENV/bin/cfn-lint" "$VENV/bin/checkov" "$VENV/bin/hadolint" "$NGL" "$GUARD"; do
  [ -x "$tool" ] || missing+=("$tool")
done
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
command -v java >/dev/null 2>&1 || missing+=(java)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "error: infra tools missing: ${missing[*]}; run: bash .ci/install-infra-tools.sh" >&2
  exit 2
fi
# The infra tests need an aws CLI; install-infra-tools.sh puts one in the venv if the
# machine has none, so the venv comes last on PATH. moto_server comes from the test tools'
# virtualenv (.ci/install.sh), first on PATH.
export PATH="${HF_VENV:-/opt/hellofleet-venv}/bin:$PATH:$VENV/bin"

passed=0
failed=0
failures=()
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

# check NAME CMD...: run CMD, show its output, count it.
check() {
  local name="$1" start rc
  shift
  echo "== $name"
  start=$(date +%s)
  "$@" >"$log" 2>&1
  rc=$?
  cat "$log"
  if [ "$rc" -eq 0 ]; then
    passed=$((passed + 1))
    echo "-- $name: ok ($(($(date +%s) - start)) s)"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "-- $name: FAILED (exit $rc, $(($(date +%s) - start)) s)"
  fi
}

check "cfn-lint" "$VENV/bin/cfn-lint" --non-zero-exit-code warning -- infra/fleet.yaml infra/registry.yaml

# --skip-download: checkov otherwise asks its vendor's API for guidelines (no network here).
check "checkov" "$VENV/bin/checkov" --directory infra --framework cloudformation dockerfile \
  --skip-download --compact --quiet

check "cfn-guard" "$GUARD" validate --rules infra/guard --data infra/fleet.yaml --show-summary fail

check "hadolint" "$VENV/bin/hadolint" infra/docker/service.Dockerfile infra/docker/controller.Dockerfile

# --noserver: otherwise npm-groovy-lint leaves a CodeNarc JVM running in the background.
check "npm-groovy-lint" "$NGL" --noserver --failon warning Jenkinsfile

# Every shell script: *.sh, plus files whose first line is a sh/bash shebang (.ci/run).
scripts=()
while IFS= read -r -d '' f; do
  case "$f" in
    *.sh) scripts+=("$f") ;;
    *) head -n1 "$f" 2>/dev/null | grep -qE '^#!.*[/ ](ba)?sh([[:space:]]|$)' && scripts+=("$f") ;;
  esac
done < <(git ls-files -z --cached --others --exclude-standard -- ':!:target' ':!:**/node_modules/**')
shellcheck_all() {
  local f bad=()
  echo "${#scripts[@]} scripts"
  for f in "${scripts[@]}"; do
    shellcheck -x "$f" || bad+=("$f")
  done
  if [ "${#bad[@]}" -gt 0 ]; then
    echo "shellcheck failed for: ${bad[*]}"
    return 1
  fi
}
check "shellcheck" shellcheck_all

check "infra script tests" bash infra/tests/run.sh
tests_line="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n1)"
if [ -n "$tests_line" ]; then
  read -r tp _ tf _ <<<"${tests_line//,/}"
  # The runner's own cases replace its single check in the totals.
  if [ "$tf" -eq 0 ]; then passed=$((passed - 1)); else failed=$((failed - 1)); fi
  passed=$((passed + tp))
  failed=$((failed + tf))
fi

[ "${#failures[@]}" -eq 0 ] || echo "infra checks that failed: ${failures[*]}"
echo "infra: $passed passed, $failed failed"
[ "${#failures[@]}" -eq 0 ]
