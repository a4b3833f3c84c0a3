#!/usr/bin/env bash
# Build, scan and push the service and controller images. See --help.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<EOF
Usage: infra/images.sh VERB --tag TAG [options]

Verbs:
  build   docker build both images from infra/docker/*.Dockerfile (context: the repo
          root), tagged hellofleet/service:TAG and hellofleet/controller:TAG, always for
          linux/amd64 (the hosts are t3: an arm64 agent or laptop would build images that
          die at start)
  scan    scan both local images with trivy; fails on fixable HIGH or CRITICAL findings
  push    create or update the registry stack, push both images to ECR as TAG (tags are
          immutable: an image already there is left alone), then wait for ECR's scan
          (basic: COMPLETE; enhanced: ACTIVE, at most --scan-timeout) and fail on CRITICAL
          findings. trivy (scan) is the gate that always runs; ECR's is the second.

Options (environment variable in brackets):
  --tag TAG              image tag, normally the commit                  [HF_TAG]
  --registry-stack NAME  ECR stack name (default hellofleet-registry)    [HF_REGISTRY_STACK]
  --region REGION        AWS region (push only)          [AWS_REGION, AWS_DEFAULT_REGION]
  --scan-timeout SECS    give up waiting for ECR's scan (default 600)
  --dry-run              print the commands instead of running them
  -h, --help             this text
EOF
}

verb="${1:-}"
case "$verb" in
  build | scan | push) shift ;;
  -h | --help) usage; exit 0 ;;
  "") die "missing verb: build, scan or push (see --help)" ;;
  *) die "unknown verb '$verb': build, scan or push (see --help)" ;;
esac

tag="${HF_TAG:-}"
registry_stack="${HF_REGISTRY_STACK:-hellofleet-registry}"
region_flag=""
scan_timeout=600
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) need_value "$1" "${2:-}"; tag="$2"; shift 2 ;;
    --registry-stack) need_value "$1" "${2:-}"; registry_stack="$2"; shift 2 ;;
    --region) need_value "$1" "${2:-}"; region_flag="$2"; shift 2 ;;
    --scan-timeout) need_value "$1" "${2:-}"; scan_timeout="$2"; shift 2 ;;
    --dry-run) HF_DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
require "--tag" "$tag" "the image tag (--tag or HF_TAG), normally the commit"
valid_tag "$tag"
[[ "$scan_timeout" =~ ^[0-9]+$ ]] || die "--scan-timeout '$scan_timeout' is not a number of seconds"

images=(service controller)

case "$verb" in
  build)
    [ "$HF_DRY_RUN" = 1 ] || command -v docker >/dev/null 2>&1 || die "docker is not installed"
    for image in "${images[@]}"; do
      DOCKER_BUILDKIT=1 run docker build --platform linux/amd64 --pull -f "$INFRA_DIR/docker/$image.Dockerfile" \
        -t "hellofleet/$image:$tag" --label "org.opencontainers.image.revision=$tag" "$REPO_DIR"
    done
    ;;
  scan)
    [ "$HF_DRY_RUN" = 1 ] || command -v trivy >/dev/null 2>&1 ||
      die "trivy is not installed (the Jenkins agent has it); ECR's scan on push still gates 'push'"
    for image in "${images[@]}"; do
      run trivy image --exit-code 1 --ignore-unfixed --severity HIGH,CRITICAL --no-progress "hellofleet/$image:$tag"
    done
    ;;
  push)
    region="$(resolve_region "$region_flag")"
    [ "$HF_DRY_RUN" = 1 ] || command -v docker >/dev/null 2>&1 || die "docker is not installed"
    account="$(preflight "$region")"
    ensure_registry "$registry_stack" "$region"
    registry="$account.dkr.ecr.$region.amazonaws.com"
    run_login "$region" "$registry"
    for image in "${images[@]}"; do
      repo="$registry_stack/$image"
      if [ "$HF_DRY_RUN" != 1 ] && aws ecr describe-images --region "$region" --repository-name "$repo" \
        --image-ids "imageTag=$tag" >/dev/null 2>&1; then
        note "$repo:$tag is already in ECR (immutable tags): not pushed again"
      else
        run docker tag "hellofleet/$image:$tag" "$registry/$repo:$tag"
        run docker push "$registry/$repo:$tag"
      fi
      # Not `aws ecr wait image-scan-complete`: with enhanced scanning the status is
      # ACTIVE (continuous), never COMPLETE, and that waiter would fail every push.
      waited=0
      while :; do
        scan="$(query COMPLETE aws ecr describe-image-scan-findings --region "$region" --repository-name "$repo" \
          --image-id "imageTag=$tag" --query "imageScanStatus.status" --output text 2>/dev/null || echo PENDING)"
        case "$scan" in
          COMPLETE | ACTIVE) break ;;
          FAILED | UNSUPPORTED_IMAGE | FINDINGS_UNAVAILABLE | SCAN_ELIGIBILITY_EXPIRED)
            die "$repo:$tag: ECR's scan ended $scan (aws ecr describe-image-scan-findings --repository-name $repo --image-id imageTag=$tag)" ;;
        esac
        [ "$waited" -lt "$scan_timeout" ] || die "$repo:$tag: ECR's scan still $scan after ${scan_timeout}s (--scan-timeout)"
        sleep 10
        waited=$((waited + 10))
      done
      note "$repo:$tag: ECR scan $scan"
      critical="$(query 0 aws ecr describe-image-scan-findings --region "$region" --repository-name "$repo" \
        --image-id "imageTag=$tag" --query "imageScanFindings.findingSeverityCounts.CRITICAL" --output text)"
      case "$critical" in
        None | 0 | "") note "$repo:$tag: no critical findings" ;;
        *) die "$repo:$tag has $critical CRITICAL findings (aws ecr describe-image-scan-findings --repository-name $repo --image-id imageTag=$tag)" ;;
      esac
    done
    ;;
esac
