#!/usr/bin/env bash
# Remove everything deploy.sh and images.sh created. See --help.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<EOF
Usage: infra/teardown.sh --yes [options]

Deletes, in order: the controller's DNS record (its host writes it, so the stack cannot
delete the private zone while it is there), the fleet stack (instances, NLB, VPC,
controller group, lease table, log groups and
their events, alarms, topic, SSM config; its KMS key is scheduled for deletion), every
image in both ECR repositories, the registry stack (the repositories), and the local
state in STATE_DIR. Nothing is left that costs money.

Options (environment variable in brackets):
  --yes                  required unless --dry-run: this deletes data    [HF_YES=1]
  --stack NAME           fleet stack (default hellofleet)               [HF_STACK]
  --registry-stack NAME  ECR stack (default hellofleet-registry)        [HF_REGISTRY_STACK]
  --keep-registry        delete only the fleet stack; keep images and repositories
  --region REGION        AWS region                      [AWS_REGION, AWS_DEFAULT_REGION]
  --state-dir DIR        local deploy state (default infra/.state)       [HF_STATE_DIR]
  --dry-run              print the AWS calls instead of making them (no credentials needed)
  -h, --help             this text
EOF
}

yes="${HF_YES:-0}"
stack="${HF_STACK:-hellofleet}"
registry_stack="${HF_REGISTRY_STACK:-hellofleet-registry}"
keep_registry=0
region_flag=""
state_dir="${HF_STATE_DIR:-$INFRA_DIR/.state}"
while [ $# -gt 0 ]; do
  case "$1" in
    --yes) yes=1; shift ;;
    --stack) need_value "$1" "${2:-}"; stack="$2"; shift 2 ;;
    --registry-stack) need_value "$1" "${2:-}"; registry_stack="$2"; shift 2 ;;
    --keep-registry) keep_registry=1; shift ;;
    --region) need_value "$1" "${2:-}"; region_flag="$2"; shift 2 ;;
    --state-dir) need_value "$1" "${2:-}"; state_dir="$2"; shift 2 ;;
    --dry-run) HF_DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[ "$yes" = 1 ] || [ "$HF_DRY_RUN" = 1 ] || die "refusing to delete $stack and $registry_stack without --yes"
region="$(resolve_region "$region_flag")"
preflight "$region" >/dev/null

if stack_exists "$stack" "$region"; then
  # The controller host UPSERTs its record in the stack's private zone at every start: a
  # zone holding records the stack did not make cannot be deleted, so they go first.
  zone_id="$(stack_output "$stack" "$region" ControllerZoneId Z0000000DRYRUN)"
  if [ -n "$zone_id" ] && [ "$zone_id" != None ]; then
    records="$(query "[]" aws route53 list-resource-record-sets --hosted-zone-id "$zone_id" \
      --query "ResourceRecordSets[?Type!='NS' && Type!='SOA']" --output json)"
    if [ "$HF_DRY_RUN" = 1 ]; then
      print_cmd aws route53 change-resource-record-sets --hosted-zone-id "$zone_id" --change-batch "<DELETE each record listed>"
    elif [ "$(tr -d '[:space:]' <<<"$records")" != "[]" ]; then
      batch="$(python3 -c 'import json, sys; print(json.dumps({"Changes": [{"Action": "DELETE", "ResourceRecordSet": r} for r in json.load(sys.stdin)]}))' <<<"$records")"
      run aws route53 change-resource-record-sets --hosted-zone-id "$zone_id" --change-batch "$batch" >/dev/null
      note "deleted the controller's records in zone $zone_id"
    fi
  fi
  run aws cloudformation delete-stack --region "$region" --stack-name "$stack"
  run aws cloudformation wait stack-delete-complete --region "$region" --stack-name "$stack" ||
    die "stack $stack did not delete; see: aws cloudformation describe-stack-events --stack-name $stack"
  note "deleted stack $stack"
else
  note "no stack $stack"
fi

if [ "$keep_registry" = 0 ]; then
  if stack_exists "$registry_stack" "$region"; then
    # The repositories have EmptyOnDelete, but deleting the images first makes the
    # teardown explicit and works for repositories made before that property existed.
    for image in service controller; do
      repo="$registry_stack/$image"
      # Every digest (the CLI follows the pages), deleted 100 at a time (the API's limit),
      # listed again until none is left (bounded: an emulator may need several rounds).
      for ((round = 1; round <= 50; round++)); do
        listed="$(query "" aws ecr list-images --region "$region" --repository-name "$repo" \
          --query "imageIds[].imageDigest" --output text || true)"
        mapfile -t digests < <(tr -s '[:space:]' '\n' <<<"${listed//None/}" | grep . | sort -u)
        [ "${#digests[@]}" -gt 0 ] || break
        for ((i = 0; i < ${#digests[@]}; i += 100)); do
          chunk=("${digests[@]:i:100}")
          run aws ecr batch-delete-image --region "$region" --repository-name "$repo" \
            --image-ids "${chunk[@]/#/imageDigest=}" --query "failures" --output text >/dev/null
        done
      done
      [ "${#digests[@]}" -eq 0 ] || die "$repo still has images after $round rounds of deletion"
      if [ "$HF_DRY_RUN" = 1 ]; then
        print_cmd aws ecr batch-delete-image --region "$region" --repository-name "$repo" --image-ids "imageDigest=<each digest listed>"
      fi
      note "emptied $repo"
    done
    run aws cloudformation delete-stack --region "$region" --stack-name "$registry_stack"
    run aws cloudformation wait stack-delete-complete --region "$region" --stack-name "$registry_stack" ||
      die "stack $registry_stack did not delete; see describe-stack-events"
    note "deleted stack $registry_stack"
  else
    note "no stack $registry_stack"
  fi
fi

run rm -f "$state_dir/$stack.previous-tag" "$state_dir/$stack.previous-image-id" "$state_dir/$stack.params.json"
echo "teardown of $stack done"
