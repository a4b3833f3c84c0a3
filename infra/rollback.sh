#!/usr/bin/env bash
# Put the fleet back on the image it ran before the last deploy. See --help.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<EOF
Usage: infra/rollback.sh [--to-tag TAG] [deploy options]

Cancels an instance refresh still running, then runs infra/deploy.sh with the previous
image tag: the one deploy.sh saved in STATE_DIR/STACK.previous-tag, or --to-tag. The
other deploy options (--stack, --admin-cidr, --region, ... or their HF_* variables) are
passed through unchanged, and the AMI that tag ran on (STATE_DIR/STACK.previous-image-id)
unless --image-id is given. The previous launch template is re-created from the previous
tag and rolled out with the same instance refresh, so a rollback is a normal deploy.
With no previous tag (the first deploy failed) it stops and says so: run
infra/teardown.sh to remove a half-made stack.

Options:
  --to-tag TAG   roll back to this tag instead of the saved one
  --if-saved     do nothing (exit 0) when no previous tag was saved: for a pipeline's
                 failure handler, where the deploy may not have started
  --dry-run      print the AWS calls instead of making them
  -h, --help     this text (infra/deploy.sh --help lists the deploy options)
EOF
}

to_tag=""
if_saved=0
stack="${HF_STACK:-hellofleet}"
state_dir="${HF_STATE_DIR:-$INFRA_DIR/.state}"
region_flag=""
pass=()
while [ $# -gt 0 ]; do
  case "$1" in
    --to-tag) need_value "$1" "${2:-}"; to_tag="$2"; shift 2 ;;
    --if-saved) if_saved=1; shift ;;
    --stack) need_value "$1" "${2:-}"; stack="$2"; pass+=("$1" "$2"); shift 2 ;;
    --state-dir) need_value "$1" "${2:-}"; state_dir="$2"; pass+=("$1" "$2"); shift 2 ;;
    --region) need_value "$1" "${2:-}"; region_flag="$2"; pass+=("$1" "$2"); shift 2 ;;
    --tag) die "use --to-tag with rollback.sh" ;;
    --dry-run) HF_DRY_RUN=1; pass+=("$1"); shift ;;
    -h | --help) usage; exit 0 ;;
    *) pass+=("$1"); shift ;;
  esac
done

if [ -z "$to_tag" ]; then
  saved="$state_dir/$stack.previous-tag"
  if [ "$if_saved" = 1 ] && [ ! -s "$saved" ]; then
    echo "nothing to roll back: no previous tag saved in $saved"
    exit 0
  fi
  [ -s "$saved" ] || die "no previous tag for $stack ($saved is missing: the first deploy has nothing to roll back to; pass --to-tag, or remove the stack with infra/teardown.sh)"
  to_tag="$(cat "$saved")"
fi
valid_tag "$to_tag"
region="$(resolve_region "$region_flag")"

group="$(query "hellofleet-fleet" aws cloudformation describe-stacks --region "$region" --stack-name "$stack" \
  --query "Stacks[0].Outputs[?OutputKey=='AutoScalingGroupName'].OutputValue" --output text || true)"
if [ -n "$group" ] && [ "$group" != None ]; then
  # Nothing to cancel is fine (the refresh already ended).
  if run aws autoscaling cancel-instance-refresh --region "$region" --auto-scaling-group-name "$group"; then
    # A new refresh cannot start while this one is still cancelling.
    for _ in $(seq 1 40); do
      status="$(query "Cancelled" aws autoscaling describe-instance-refreshes --region "$region" \
        --auto-scaling-group-name "$group" --max-records 1 --query "InstanceRefreshes[0].Status" --output text)"
      case "$status" in Pending | InProgress | Cancelling | RollbackInProgress | Baking) sleep 15 ;; *) break ;; esac
    done
  else
    note "no instance refresh in progress on $group"
  fi
fi

# Back to the AMI that tag ran on, unless an AMI was given.
saved_ami="$state_dir/$stack.previous-image-id"
if [ -s "$saved_ami" ] && [[ " ${pass[*]} " != *" --image-id "* ]]; then
  pass+=(--image-id "$(cat "$saved_ami")")
fi

note "rolling $stack back to $to_tag"
# HF_ROLLBACK=1: deploy.sh keeps the saved previous tag instead of saving the bad one.
export HF_DRY_RUN HF_ROLLBACK=1
exec "$INFRA_DIR/deploy.sh" --tag "$to_tag" "${pass[@]}"
