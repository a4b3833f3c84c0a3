# shellcheck shell=bash
# Shared by infra/*.sh (sourced, not run): dry-run plumbing, errors, AWS preflight.
#
# Dry run: every command that talks to AWS or changes something goes through `run`
# (or `run_login`); with HF_DRY_RUN=1 it is printed, shell-quoted, on the original stdout
# (fd 3) instead of run. Commands whose output a script needs go through `query`, which in
# a dry run prints the command and yields a placeholder, so the rest of the script still
# shows what it would do. A dry run needs no credentials and makes no network call.

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck disable=SC2034 # used by the scripts that source this file
REPO_DIR="$(cd "$INFRA_DIR/.." && pwd)"
HF_DRY_RUN="${HF_DRY_RUN:-0}"
# The account a dry run pretends to be (the documentation account).
DRY_RUN_ACCOUNT=123456789012
exec 3>&1

die() {
  echo "error: $*" >&2
  exit 2
}

note() {
  echo "== $*" >&2
}

# print_cmd ARGS...: one shell-quoted command line on fd 3.
print_cmd() {
  local out="" a
  for a in "$@"; do
    if [[ "$a" =~ ^[A-Za-z0-9_./:=,@%+-]+$ ]]; then
      out+=" $a"
    else
      out+=" '${a//\'/\'\\\'\'}'"
    fi
  done
  echo "${out# }" >&3
}

# run CMD ARGS...: run it, or print it in a dry run.
run() {
  if [ "$HF_DRY_RUN" = 1 ]; then
    print_cmd "$@"
    return 0
  fi
  "$@"
}

# query PLACEHOLDER CMD ARGS...: run it and print its output; in a dry run print the
# command on fd 3 and PLACEHOLDER on stdout.
query() {
  local placeholder="$1"
  shift
  if [ "$HF_DRY_RUN" = 1 ]; then
    print_cmd "$@"
    printf '%s\n' "$placeholder"
    return 0
  fi
  "$@"
}

# run_login REGION REGISTRY: docker login to ECR with a short-lived token.
run_login() {
  if [ "$HF_DRY_RUN" = 1 ]; then
    echo "aws ecr get-login-password --region $1 | docker login --username AWS --password-stdin $2" >&3
    return 0
  fi
  aws ecr get-login-password --region "$1" | docker login --username AWS --password-stdin "$2"
}

# need_value FLAG VALUE: the flag's argument, or a clear error.
need_value() {
  if [ -z "${2:-}" ] || [ "${2#--}" != "$2" ]; then
    die "$1 needs a value (see --help)"
  fi
}

# require NAME VALUE HOW: a missing required setting is an error naming the flag and env var.
require() {
  [ -n "$2" ] || die "missing $1: $3 (see --help)"
}

# resolve_region [FLAG_VALUE]: prints the region from the flag, AWS_REGION or AWS_DEFAULT_REGION.
resolve_region() {
  local r="${1:-${AWS_REGION:-${AWS_DEFAULT_REGION:-}}}"
  [ -n "$r" ] || die "missing AWS region: pass --region or set AWS_REGION"
  printf '%s\n' "$r"
}

# preflight REGION: the aws CLI exists and credentials work; prints the account id.
preflight() {
  local region="$1" account err
  if [ "$HF_DRY_RUN" = 1 ]; then
    print_cmd aws sts get-caller-identity --region "$region" --query Account --output text
    printf '%s\n' "$DRY_RUN_ACCOUNT"
    return 0
  fi
  command -v aws >/dev/null 2>&1 || die "the aws CLI is not installed (pip install awscli, or AWS CLI v2)"
  if ! account="$(aws sts get-caller-identity --region "$region" --query Account --output text 2>&1)"; then
    err="$(printf '%s\n' "$account" | grep . | tail -n 2 | tr '\n' ' ')"
    die "no usable AWS credentials for $region (aws sts get-caller-identity failed: ${err% }). Set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (Jenkins: the credentials binding)"
  fi
  printf '%s\n' "$account"
}

# stack_output STACK REGION KEY PLACEHOLDER: one output of a stack.
stack_output() {
  query "$4" aws cloudformation describe-stacks --region "$2" --stack-name "$1" \
    --query "Stacks[0].Outputs[?OutputKey=='$3'].OutputValue" --output text
}

# stack_exists STACK REGION: true if the stack exists (a dry run assumes it does).
stack_exists() {
  if [ "$HF_DRY_RUN" = 1 ]; then
    print_cmd aws cloudformation describe-stacks --region "$2" --stack-name "$1" --query "Stacks[0].StackStatus" --output text
    return 0
  fi
  aws cloudformation describe-stacks --region "$2" --stack-name "$1" >/dev/null 2>&1
}

# ensure_registry STACK REGION: create or update the ECR repositories' stack. "Nothing
# to change" is success, whether the CLI reports it from the change set or the call.
ensure_registry() {
  local out
  if [ "$HF_DRY_RUN" = 1 ]; then
    print_cmd aws cloudformation deploy --region "$2" --stack-name "$1" \
      --template-file "$INFRA_DIR/registry.yaml" --no-fail-on-empty-changeset
    return 0
  fi
  if out="$(aws cloudformation deploy --region "$2" --stack-name "$1" \
    --template-file "$INFRA_DIR/registry.yaml" --no-fail-on-empty-changeset 2>&1)"; then
    note "registry stack $1 is up to date"
    return 0
  fi
  case "$out" in
    *"No updates are to be performed"* | *"didn't contain changes"*) note "registry stack $1 is up to date" ;;
    *) die "the registry stack $1 failed to deploy: $out" ;;
  esac
}

# valid_tag TAG: an ECR tag we accept (the commit, usually).
valid_tag() {
  [[ "$1" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ ]] || die "--tag '$1' is not a valid image tag ([A-Za-z0-9._-], at most 128)"
  # What an unset commit id becomes on the way (Groovy's null, the CLI's None): tags are
  # immutable, so such a tag would later deploy whatever image first took it.
  case "$1" in
    null | None | undefined) die "--tag '$1' is not a commit id (was GIT_COMMIT empty?)" ;;
  esac
}
