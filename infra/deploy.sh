#!/usr/bin/env bash
# Deploy (create or update) the hellofleet stacks with one image tag, then roll the fleet
# onto it with an instance refresh. See --help.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<EOF
Usage: infra/deploy.sh --tag TAG --admin-cidr CIDR [options]

Creates or updates the registry stack (ECR) and the fleet stack (infra/fleet.yaml) with
the images TAG (both must be pushed: infra/images.sh push --tag TAG), then starts a rolling
instance refresh (launch before terminate, 100 % healthy) and waits for it. The scaling
settings come from the controller config (--config): infra/stack_params.py derives the
stack parameters from it, so stack and controller cannot disagree.

Options (environment variable in brackets):
  --tag TAG              image tag to deploy, normally the commit       [HF_TAG]
  --admin-cidr CIDR      who may open the dashboard, e.g. 203.0.113.7/32 [HF_ADMIN_CIDR]
  --stack NAME           fleet stack name (default hellofleet)          [HF_STACK]
  --registry-stack NAME  ECR stack name (default hellofleet-registry)   [HF_REGISTRY_STACK]
  --config FILE          controller config (default infra/controller.aws.toml) [HF_CONFIG]
  --region REGION        AWS region                      [AWS_REGION, AWS_DEFAULT_REGION]
  --certificate-arn ARN  adds a TLS listener on 443                     [HF_CERTIFICATE_ARN]
  --hosted-zone-id ID    with --domain-name: a Route 53 alias record    [HF_HOSTED_ZONE_ID]
  --domain-name NAME                                                    [HF_DOMAIN_NAME]
  --alert-email ADDR     subscribe to the alarm topic                   [HF_ALERT_EMAIL]
                         (these four, when not given, keep the stack's current values on an
                         update: UsePreviousValue, so a run without them deletes nothing)
  --image-id AMI         pin this AMI instead of resolving --ami-parameter [HF_IMAGE_ID]
  --ami-parameter NAME   SSM parameter resolved once per deploy to the AMI both host kinds
                         run (default $DEFAULT_AMI_PARAMETER) [HF_AMI_PARAMETER]
  --state-dir DIR        where the previous tag and parameters are kept (default infra/.state) [HF_STATE_DIR]
  --no-refresh           update the stack only, no instance refresh
  --refresh-timeout SECS give up waiting for the refresh (default 1800)
  --params-out FILE      also write the rendered stack parameters to FILE
  --dry-run              print the AWS calls instead of making them (no credentials needed);
                         writes nothing (only --params-out FILE, if given) and ends with
                         "dry run: would deploy ...", never "deployed"
  -h, --help             this text

Writes STATE_DIR/STACK.previous-tag and STACK.previous-image-id (the tag and AMI before
this deploy, for infra/rollback.sh)
and STATE_DIR/STACK.params.json (the rendered stack parameters); a dry run says it would.
EOF
}

DEFAULT_AMI_PARAMETER=/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64
tag="${HF_TAG:-}"
image_id="${HF_IMAGE_ID:-}"
ami_parameter="${HF_AMI_PARAMETER:-$DEFAULT_AMI_PARAMETER}"
admin_cidr="${HF_ADMIN_CIDR:-}"
stack="${HF_STACK:-hellofleet}"
registry_stack="${HF_REGISTRY_STACK:-hellofleet-registry}"
config="${HF_CONFIG:-$INFRA_DIR/controller.aws.toml}"
region_flag=""
cert="${HF_CERTIFICATE_ARN:-}"
zone="${HF_HOSTED_ZONE_ID:-}"
domain="${HF_DOMAIN_NAME:-}"
email="${HF_ALERT_EMAIL:-}"
state_dir="${HF_STATE_DIR:-$INFRA_DIR/.state}"
refresh=1
refresh_timeout=1800
params_out=""

while [ $# -gt 0 ]; do
  case "$1" in
    --tag) need_value "$1" "${2:-}"; tag="$2"; shift 2 ;;
    --admin-cidr) need_value "$1" "${2:-}"; admin_cidr="$2"; shift 2 ;;
    --stack) need_value "$1" "${2:-}"; stack="$2"; shift 2 ;;
    --registry-stack) need_value "$1" "${2:-}"; registry_stack="$2"; shift 2 ;;
    --config) need_value "$1" "${2:-}"; config="$2"; shift 2 ;;
    --region) need_value "$1" "${2:-}"; region_flag="$2"; shift 2 ;;
    --certificate-arn) need_value "$1" "${2:-}"; cert="$2"; shift 2 ;;
    --hosted-zone-id) need_value "$1" "${2:-}"; zone="$2"; shift 2 ;;
    --domain-name) need_value "$1" "${2:-}"; domain="$2"; shift 2 ;;
    --alert-email) need_value "$1" "${2:-}"; email="$2"; shift 2 ;;
    --image-id) need_value "$1" "${2:-}"; image_id="$2"; shift 2 ;;
    --ami-parameter) need_value "$1" "${2:-}"; ami_parameter="$2"; shift 2 ;;
    --state-dir) need_value "$1" "${2:-}"; state_dir="$2"; shift 2 ;;
    --no-refresh) refresh=0; shift ;;
    --refresh-timeout) need_value "$1" "${2:-}"; refresh_timeout="$2"; shift 2 ;;
    --params-out) need_value "$1" "${2:-}"; params_out="$2"; shift 2 ;;
    --dry-run) HF_DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

require "--tag" "$tag" "the image tag to deploy (--tag or HF_TAG)"
valid_tag "$tag"
require "--admin-cidr" "$admin_cidr" "who may open the dashboard (--admin-cidr or HF_ADMIN_CIDR), e.g. 203.0.113.7/32"
[[ "$admin_cidr" =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$ ]] || die "--admin-cidr '$admin_cidr' is not an IPv4 CIDR like 203.0.113.7/32"
[ -f "$config" ] || die "--config $config: no such file"
if { [ -n "$zone" ] && [ -z "$domain" ]; } || { [ -z "$zone" ] && [ -n "$domain" ]; }; then
  die "--hosted-zone-id and --domain-name go together"
fi
[ -z "$image_id" ] || [[ "$image_id" =~ ^ami-[0-9a-f]{8,17}$ ]] || die "--image-id '$image_id' is not an AMI id (ami-...)"
[[ "$refresh_timeout" =~ ^[0-9]+$ ]] || die "--refresh-timeout '$refresh_timeout' is not a number of seconds"
region="$(resolve_region "$region_flag")"

# Render the parameters first: a bad config fails here, before any AWS call. A dry run
# renders them into a scratch directory (removed on exit) and writes nothing of its own;
# the commands it prints name the file a real run would write.
params="$state_dir/$stack.params.json"
if [ "$HF_DRY_RUN" = 1 ]; then
  scratch="$(mktemp -d)"
  trap 'rm -rf "$scratch"' EXIT
  rendered="$scratch/$stack.params.json"
else
  mkdir -p "$state_dir"
  rendered="$params"
fi
extra=(ImageTag="$tag" AdminCidr="$admin_cidr" RegistryStack="$registry_stack")
[ -z "$cert" ] || extra+=(CertificateArn="$cert")
[ -z "$zone" ] || extra+=(HostedZoneId="$zone" DomainName="$domain")
[ -z "$email" ] || extra+=(AlertEmail="$email")
# render [stack_params.py options...]: the parameters file, or exit 2 (its message says why).
render() {
  python3 "$INFRA_DIR/stack_params.py" "$config" "$region" "$@" "${extra[@]}" >"$rendered.tmp" || {
    rm -f "$rendered.tmp"
    exit 2
  }
  mv "$rendered.tmp" "$rendered"
}
render
group="$(python3 -c 'import json,sys; print(next(p["ParameterValue"] for p in json.load(open(sys.argv[1])) if p["ParameterKey"]=="GroupName"))' "$rendered")"
warmup="$(python3 -c 'import json,sys; print(next(p["ParameterValue"] for p in json.load(open(sys.argv[1])) if p["ParameterKey"]=="InstanceWarmup"))' "$rendered")"
if [ "$HF_DRY_RUN" = 1 ]; then
  note "dry run: would write the stack parameters to $params"
fi
note "stack $stack, group $group, tag $tag, region $region (parameters: $params)"

account="$(preflight "$region")"
ensure_registry "$registry_stack" "$region"

# Both images must exist: the pipeline pushes before it deploys.
for repo in service controller; do
  found="$(query "$tag" aws ecr describe-images --region "$region" --repository-name "$registry_stack/$repo" \
    --image-ids "imageTag=$tag" --query "imageDetails[].imageTags[]" --output text 2>/dev/null || true)"
  grep -qxF -- "$tag" <<<"$(tr -s '[:space:]' '\n' <<<"$found")" ||
    die "image $registry_stack/$repo:$tag is not in ECR (account $account); run infra/images.sh push --tag $tag first"
done

# The AMI, resolved once for this deploy and pinned in the stack: an update never moves to
# a newer AMI by itself (which would replace the hosts), only a deploy does.
if [ -z "$image_id" ]; then
  image_id="$(query ami-0123456789abcdef0 aws ssm get-parameter --region "$region" --name "$ami_parameter" \
    --query Parameter.Value --output text)" || die "cannot resolve the AMI from the SSM parameter $ami_parameter"
  [[ "$image_id" =~ ^ami-[0-9a-f]{8,17}$ ]] || die "the SSM parameter $ami_parameter holds '$image_id', not an AMI id"
fi
extra+=(ImageId="$image_id")
note "AMI $image_id"

# Remember what runs now, for infra/rollback.sh.
status="$(query UPDATE_COMPLETE aws cloudformation describe-stacks --region "$region" --stack-name "$stack" \
  --query "Stacks[0].StackStatus" --output text 2>/dev/null || true)"
case "$status" in
  "" | None) ;;
  REVIEW_IN_PROGRESS)
    # A first CREATE change set that failed (or was never executed) leaves this behind;
    # the stack has no resources: delete it and create it afresh.
    note "stack $stack is REVIEW_IN_PROGRESS (a first change set failed): deleting it"
    run aws cloudformation delete-stack --region "$region" --stack-name "$stack"
    run aws cloudformation wait stack-delete-complete --region "$region" --stack-name "$stack" ||
      die "stack $stack (REVIEW_IN_PROGRESS) did not delete; see describe-stack-events"
    status="" ;;
  ROLLBACK_COMPLETE | ROLLBACK_FAILED | DELETE_FAILED)
    die "stack $stack is $status (its creation failed or it half-deleted): remove it with infra/teardown.sh --keep-registry --yes, then deploy again" ;;
  *_IN_PROGRESS) die "stack $stack is busy ($status); wait for it to finish and deploy again" ;;
esac
if [ -n "$status" ] && [ "$status" != None ]; then
  change_type=UPDATE
  previous="$(query "previous-tag" aws cloudformation describe-stacks --region "$region" --stack-name "$stack" \
    --query "Stacks[0].Parameters[?ParameterKey=='ImageTag'].ParameterValue" --output text)"
  if [ "${HF_ROLLBACK:-0}" = 1 ]; then
    :
  elif [ "$HF_DRY_RUN" = 1 ]; then
    note "dry run: would save the previous tag to $state_dir/$stack.previous-tag"
  else
    printf '%s\n' "$previous" >"$state_dir/$stack.previous-tag"
    note "previous tag: $previous (saved to $state_dir/$stack.previous-tag)"
    # The AMI it ran on too, so a rollback returns to both (a stack from before the AMI was
    # pinned holds an SSM parameter name here: nothing to save).
    previous_ami="$(aws cloudformation describe-stacks --region "$region" --stack-name "$stack" \
      --query "Stacks[0].Parameters[?ParameterKey=='ImageId'].ParameterValue" --output text 2>/dev/null || true)"
    if [[ "$previous_ami" =~ ^ami-[0-9a-f]{8,17}$ ]]; then
      printf '%s\n' "$previous_ami" >"$state_dir/$stack.previous-image-id"
    else
      rm -f "$state_dir/$stack.previous-image-id"
    fi
  fi
else
  change_type=CREATE
  if [ "${HF_ROLLBACK:-0}" != 1 ] && [ "$HF_DRY_RUN" != 1 ]; then
    rm -f "$state_dir/$stack.previous-tag"
  fi
fi
# The final parameters: the pinned AMI and, on an update, the optional settings not given
# kept as they are (a create has no previous values: the template's defaults apply).
if [ "$change_type" = UPDATE ]; then
  render --keep CertificateArn,HostedZoneId,DomainName,AlertEmail
else
  render
fi
[ -z "$params_out" ] || cp "$rendered" "$params_out"

# A change set rather than `cloudformation deploy`: it takes the parameters file as
# is (the controller config is multi-line) with AWS CLI v1 and v2 alike.
change_set="deploy-$(date -u +%Y%m%d%H%M%S)"
run aws cloudformation create-change-set --region "$region" --stack-name "$stack" \
  --change-set-name "$change_set" --change-set-type "$change_type" \
  --template-body "file://$INFRA_DIR/fleet.yaml" --parameters "file://$params" \
  --capabilities CAPABILITY_IAM --tags Key=hellofleet:stack,Value="$stack"
if ! run aws cloudformation wait change-set-create-complete --region "$region" \
  --stack-name "$stack" --change-set-name "$change_set"; then
  reason="$(aws cloudformation describe-change-set --region "$region" --stack-name "$stack" \
    --change-set-name "$change_set" --query StatusReason --output text 2>/dev/null || true)"
  case "$reason" in
    *"didn't contain changes"* | *"No updates are to be performed"*)
      note "the stack is already at this template and parameters"
      aws cloudformation delete-change-set --region "$region" --stack-name "$stack" --change-set-name "$change_set" || true
      ;;
    *)
      if [ "$change_type" = CREATE ]; then
        # Otherwise the stack stays REVIEW_IN_PROGRESS and every later run finds it busy.
        aws cloudformation delete-stack --region "$region" --stack-name "$stack" || true
        note "deleted the empty stack $stack the failed change set left (REVIEW_IN_PROGRESS)"
      fi
      die "change set $change_set failed: $reason" ;;
  esac
else
  run aws cloudformation execute-change-set --region "$region" --stack-name "$stack" --change-set-name "$change_set"
  if [ "$change_type" = CREATE ]; then
    run aws cloudformation wait stack-create-complete --region "$region" --stack-name "$stack" ||
      die "stack $stack failed to create; see: aws cloudformation describe-stack-events --stack-name $stack"
  else
    run aws cloudformation wait stack-update-complete --region "$region" --stack-name "$stack" ||
      die "stack $stack failed to update (CloudFormation rolled it back); see describe-stack-events"
  fi
fi

if [ "$refresh" = 1 ] && [ "$change_type" = UPDATE ]; then
  # The refresh settings live in the stack, beside the group (output
  # InstanceRefreshPreferences); a dry run shows what that output holds.
  prefs="$(stack_output "$stack" "$region" InstanceRefreshPreferences \
    "{\"MinHealthyPercentage\":100,\"MaxHealthyPercentage\":200,\"InstanceWarmup\":$warmup,\"SkipMatching\":true,\"AlarmSpecification\":{\"Alarms\":[\"$stack-unhealthy-hosts\"]}}")"
  refresh_id="$(query "refresh-id" aws autoscaling start-instance-refresh --region "$region" \
    --auto-scaling-group-name "$group" --strategy Rolling --preferences "$prefs" \
    --query InstanceRefreshId --output text)"
  note "instance refresh $refresh_id started"
  waited=0
  while :; do
    status="$(query "Successful 100" aws autoscaling describe-instance-refreshes --region "$region" \
      --auto-scaling-group-name "$group" --instance-refresh-ids "$refresh_id" \
      --query "InstanceRefreshes[0].[Status,PercentageComplete]" --output text)"
    note "refresh: $status"
    case "$status" in
      Successful*) break ;;
      Failed* | Cancelled* | Rollback*) die "instance refresh $refresh_id ended: $status" ;;
    esac
    [ "$waited" -lt "$refresh_timeout" ] || die "instance refresh $refresh_id still running after ${refresh_timeout}s"
    sleep 15
    waited=$((waited + 15))
  done
fi

url="$(stack_output "$stack" "$region" ServiceUrl "http://$stack-nlb.elb.$region.amazonaws.com")"
dashboard="$(stack_output "$stack" "$region" DashboardUrl "http://$stack-nlb.elb.$region.amazonaws.com:9090/")"
if [ "$HF_DRY_RUN" = 1 ]; then
  echo "dry run: would deploy $tag: service $url, dashboard $dashboard (nothing was changed or written)"
else
  echo "deployed $tag: service $url, dashboard $dashboard"
fi
