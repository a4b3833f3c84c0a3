#!/usr/bin/env bash
# Tests of the infra scripts: --help, errors for missing parameters and credentials, the
# AWS calls their dry runs print, the single source of the scaling settings (stack
# parameters vs. controller config), and a real smoke test against a local stub server.
# No test talks to AWS: dry runs make no calls, and the credential test points the CLI at
# a closed loopback port. Needs python3 >= 3.11 and the aws CLI.
# Ends with a line "N passed, M failed"; exit status 1 if any failed.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
# moto_server comes from .ci/install.sh's virtualenv when it is there.
export PATH="${HF_VENV:-/opt/hellofleet-venv}/bin:$PATH"

passed=0
failed=0
tmp="$(mktemp -d)"
# Every background process a test starts is recorded here, because each test runs in a
# subshell: stop_named stops one by name, and the EXIT trap stops whatever is left.
spawn() { # spawn NAME LOG CMD...: start CMD in the background, output to LOG
  local name="$1" log="$2"
  shift 2
  "$@" >"$log" 2>&1 &
  echo "$!" >"$tmp/$name.pid"
  echo "$!" >>"$tmp/all.pids"
}
stop_pids() { # stop_pids PID...: TERM, wait up to 5 s, then KILL
  local p i
  [ $# -gt 0 ] || return 0
  kill "$@" 2>/dev/null
  for i in $(seq 1 50); do
    for p in "$@"; do kill -0 "$p" 2>/dev/null && break; done
    kill -0 "$p" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$@" 2>/dev/null
  return 0
}
stop_named() { # stop_named NAME: stop the process spawn NAME started, if any
  [ -f "$tmp/$1.pid" ] || return 0
  stop_pids "$(cat "$tmp/$1.pid")"
  rm -f "$tmp/$1.pid"
}
cleanup() {
  local pids=()
  [ -f "$tmp/all.pids" ] && mapfile -t pids <"$tmp/all.pids"
  stop_pids "${pids[@]}"
  rm -rf "$tmp"
}
trap cleanup EXIT

# No real AWS from here: no credentials, no instance metadata, endpoints on a closed port.
unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN \
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_CREDENTIALS_FULL_URI \
  HF_TAG HF_ADMIN_CIDR HF_STACK HF_REGISTRY_STACK HF_CONFIG HF_STATE_DIR HF_YES HF_DRY_RUN HF_ROLLBACK
export AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_CONFIG_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
export AWS_ENDPOINT_URL=http://127.0.0.1:9 AWS_REGION=eu-west-1 AWS_DEFAULT_REGION=eu-west-1
export HF_STATE_DIR="$tmp/state"

# t NAME CMD...: run CMD (a function or command); it passes when it returns 0.
t() {
  local name="$1" start ms
  shift
  start=$(date +%s%N)
  if ("$@") >"$tmp/out" 2>&1; then
    ms=$((($(date +%s%N) - start) / 1000000))
    passed=$((passed + 1))
    echo "ok   $name ($ms ms)"
  else
    ms=$((($(date +%s%N) - start) / 1000000))
    failed=$((failed + 1))
    echo "FAIL $name ($ms ms)"
    sed 's/^/     | /' "$tmp/out" | tail -n 25
  fi
}

# expect_fail MESSAGE CMD...: CMD exits non-zero and its stderr contains MESSAGE.
expect_fail() {
  local msg="$1" rc=0
  shift
  "$@" >"$tmp/o" 2>"$tmp/e" || rc=$?
  cat "$tmp/o" "$tmp/e"
  [ "$rc" -ne 0 ] || { echo "expected a failure, got exit 0"; return 1; }
  grep -qF -- "$msg" "$tmp/e" || { echo "stderr lacks: $msg"; return 1; }
}

# in_order FILE PATTERN...: each extended regex matches a line after the previous match.
in_order() {
  local file="$1" line=0 p n
  shift
  for p in "$@"; do
    n="$(awk -v start="$line" -v re="$p" 'NR > start && $0 ~ re { print NR; exit }' "$file")"
    [ -n "$n" ] || { echo "no line matching /$p/ after line $line of:"; cat "$file"; return 1; }
    line="$n"
  done
}

param() { # param FILE KEY: a value from a CloudFormation parameters file
  python3 -c 'import json,sys; print(next(p["ParameterValue"] for p in json.load(open(sys.argv[1])) if p["ParameterKey"]==sys.argv[2]))' "$1" "$2"
}

# A dry run writes nothing: the rendered stack parameters come out through --params-out.
P="$tmp/params.json"
deploy_dry() { infra/deploy.sh --dry-run --tag abc123 --admin-cidr 203.0.113.7/32 --params-out "$P" "$@"; }

# ------------------------------------------------------------------ help
for s in deploy teardown smoke images rollback build; do
  t "$s.sh --help prints its usage" bash -c "infra/$s.sh --help | grep -q '^Usage: infra/$s.sh'"
done

# -------------------------------------------------------- clear errors
t "deploy: missing --tag is named" expect_fail "missing --tag" infra/deploy.sh --admin-cidr 1.2.3.4/32 --dry-run
t "deploy: missing --admin-cidr is named" expect_fail "missing --admin-cidr" infra/deploy.sh --tag abc --dry-run
t "deploy: bad CIDR is refused" expect_fail "is not an IPv4 CIDR" deploy_dry --admin-cidr 0.0.0.0
t "deploy: bad tag is refused" expect_fail "is not a valid image tag" infra/deploy.sh --tag 'a b' --admin-cidr 1.2.3.4/32 --dry-run
t "deploy: flag without value" expect_fail "--tag needs a value" infra/deploy.sh --tag --dry-run
t "deploy: unknown flag" expect_fail "unknown argument '--bogus'" deploy_dry --bogus
t "deploy: zone without domain" expect_fail "go together" deploy_dry --hosted-zone-id Z123
t "deploy: missing region is named" expect_fail "missing AWS region" env -u AWS_REGION -u AWS_DEFAULT_REGION infra/deploy.sh --dry-run --tag abc --admin-cidr 1.2.3.4/32
t "deploy: no credentials is a clear error" expect_fail "no usable AWS credentials" infra/deploy.sh --tag abc --admin-cidr 1.2.3.4/32
t "images: missing verb" expect_fail "missing verb" infra/images.sh
t "images: unknown verb" expect_fail "unknown verb 'ship'" infra/images.sh ship --tag abc
t "images: missing tag" expect_fail "missing --tag" infra/images.sh build --dry-run
t "teardown: refuses without --yes" expect_fail "without --yes" infra/teardown.sh
t "teardown: no credentials is a clear error" expect_fail "no usable AWS credentials" infra/teardown.sh --yes
t "smoke: missing target" expect_fail "pass --stack NAME or --url URL" infra/smoke.sh
t "rollback: nothing saved" expect_fail "no previous tag" infra/rollback.sh --dry-run --admin-cidr 1.2.3.4/32
t "rollback --if-saved: nothing saved is fine" bash -c "infra/rollback.sh --if-saved --admin-cidr 1.2.3.4/32 | grep -q 'nothing to roll back'"

# ------------------------------------------------- config: the one source
bad_config() { # bad_config SED_EXPR MESSAGE: a broken copy of the config is refused, naming the field
  sed "$1" infra/controller.aws.toml >"$tmp/bad.toml"
  expect_fail "$2" deploy_dry --config "$tmp/bad.toml"
}
t "config: provider must be aws" bad_config 's/^provider = "aws"/provider = "local"/' 'provider:'
t "config: listen must be 0.0.0.0" bad_config 's/^listen = .*/listen = "127.0.0.1:9090"/' 'api.listen:'
t "config: scale-in threshold below scale-out" bad_config 's/threshold = 20,/threshold = 60,/' 'policies.scale_in.alarm.threshold'
t "config: no desired_capacity on AWS" bad_config 's/^max_size = 10$/max_size = 10\ndesired_capacity = 3/' 'group.desired_capacity'
t "config: min <= max" bad_config 's/^max_size = .*/max_size = 1/' 'group:'
# shellcheck disable=SC2016 # a sed script, not a shell expansion
t "config: region must match" bad_config '$a [aws]\nregion = "us-east-1"' 'aws.region'
t "config: a broken file is named" bad_config 's/^tick = .*/tick = /' 'not valid TOML'
t "config: missing file" expect_fail "no such file" deploy_dry --config "$tmp/nope.toml"

agree() { # the rendered stack parameters and the controller config the host gets agree
  deploy_dry >/dev/null || return 1
  python3 - "$P" infra/controller.aws.toml <<'EOF'
import json, sys, tomllib
params = {p["ParameterKey"]: p.get("ParameterValue") for p in json.load(open(sys.argv[1]))}
host = tomllib.loads(params["ControllerConfig"])      # what the controller host reads
source = tomllib.load(open(sys.argv[2], "rb"))        # the one source
assert host == source, "the stored config differs from infra/controller.aws.toml"
num = lambda v: float(v)
checks = {
    "GroupName": host["group"]["name"],
    "MinSize": host["group"]["min_size"],
    "MaxSize": host["group"]["max_size"],
    "ScaleOutMetric": host["policies"]["scale_out"]["alarm"]["metric"],
    "ScaleOutThreshold": host["policies"]["scale_out"]["alarm"]["threshold"],
    "ScaleInThreshold": host["policies"]["scale_in"]["alarm"]["threshold"],
    "InstanceWarmup": host["policies"]["scale_out"]["estimated_instance_warmup_secs"],
    "MetricNamespace": host["metrics"]["namespace"],
    "ControllerPort": host["api"]["listen"].rsplit(":", 1)[1],
}
for key, want in checks.items():
    got = params[key]
    same = num(got) == num(want) if isinstance(want, (int, float)) else got == str(want)
    assert same, f"{key}: stack parameter {got!r} but controller config {want!r}"
import hashlib
assert params["ConfigDigest"] == hashlib.sha256(params["ControllerConfig"].encode()).hexdigest()
print("agree:", ", ".join(f"{k}={params[k]}" for k in checks))
EOF
}
t "config: stack parameters and controller config agree" agree

follows() { # a changed threshold and size move both the stack and the controller's copy
  sed -e 's/threshold = 50,/threshold = 77,/' -e 's/^max_size = .*/max_size = 12/' \
    infra/controller.aws.toml >"$tmp/changed.toml"
  deploy_dry --config "$tmp/changed.toml" >/dev/null || return 1
  local p="$P" stored
  stored="$(param "$p" ControllerConfig)"
  [ "$(param "$p" ScaleOutThreshold)" = 77 ] && [ "$(param "$p" MaxSize)" = 12 ] &&
    grep -q 'threshold = 77,' <<<"$stored" && grep -q '^max_size = 12$' <<<"$stored"
}
t "config: a changed threshold moves stack and controller together" follows

template_params() { # every required template parameter is rendered, every rendered key exists
  deploy_dry >/dev/null || return 1
  python3 - infra/fleet.yaml "$P" <<'EOF'
import json, re, sys
text = open(sys.argv[1]).read()
block = text.split("\nParameters:\n", 1)[1].split("\nConditions:\n", 1)[0]
declared = {}
for m in re.finditer(r"^  (\w+):\n((?:    .*\n)+)", block, re.M):
    declared[m.group(1)] = "Default:" in m.group(2)
given = {p["ParameterKey"] for p in json.load(open(sys.argv[2]))}
missing = [k for k, has_default in declared.items() if not has_default and k not in given]
unknown = sorted(given - declared.keys())
assert not missing, f"required parameters deploy.sh does not render: {missing}"
assert not unknown, f"rendered keys the template does not declare: {unknown}"
print(f"{len(declared)} parameters declared, {len(given)} rendered")
EOF
}
t "template: deploy renders every required parameter and no unknown one" template_params

uses() { # the template wires the shared settings where they matter
  local f=infra/fleet.yaml
  # shellcheck disable=SC2016 # a CloudFormation ${...}, not a shell expansion
  grep -q 'AutoScalingGroupName: !Ref GroupName' $f &&
    grep -q 'DefaultInstanceWarmup: !Ref InstanceWarmup' $f &&
    grep -q 'cloudwatch:namespace: !Ref MetricNamespace' $f &&
    grep -q 'Threshold: !Ref ScaleOutThreshold' $f &&
    grep -q 'autoScalingGroupName/${GroupName}' $f &&
    grep -q 'HealthCheckPath: /readyz' $f &&
    grep -q 'HttpTokens: required' $f &&
    grep -q 'LifecycleTransition: autoscaling:EC2_INSTANCE_TERMINATING' $f
}
t "template: group name, warmup, namespace, threshold, readiness, IMDSv2, drain hook wired" uses

refresh_settings() { # the instance refresh settings the stack hands to deploy.sh
  python3 - infra/fleet.yaml <<'EOF'
import json, re, sys
text = open(sys.argv[1]).read()
m = re.search(r"^  InstanceRefreshPreferences:\n(?:    .*\n)*?    Value: !Sub '(.*)'$", text, re.M)
assert m, "no InstanceRefreshPreferences output"
prefs = json.loads(m.group(1).replace("${InstanceWarmup}", "60").replace("${UnhealthyHostsAlarm}", "alarm"))
want = {"MinHealthyPercentage": 100, "MaxHealthyPercentage": 200, "InstanceWarmup": 60,
        "SkipMatching": True, "AlarmSpecification": {"Alarms": ["alarm"]}}
assert prefs == want, prefs
print(prefs)
EOF
}
t "template: the instance refresh settings launch before terminate and watch the alarm" refresh_settings

# ------------------------------------------------------ cfn-guard rules
# infra/guard/*.guard: pass on the real template, fail on copies with one edge or action gone.
GUARD="$(command -v cfn-guard || echo "$HOME/.cargo/bin/cfn-guard")"
guard() { # guard TEMPLATE: exit 0 when every rule passes
  [ -x "$GUARD" ] || { echo "cfn-guard is missing: cargo install --locked cfn-guard (.ci/install.sh)"; return 2; }
  "$GUARD" validate --rules infra/guard --data "$1" --show-summary fail
}
# mutated NAME PYTHON_EXPR: a copy of the template, s -> EXPR(s), which must differ from it.
mutated() {
  python3 - "$2" infra/fleet.yaml "$tmp/$1.yaml" <<'EOF'
import sys
expr, src, dst = sys.argv[1:]
s = open(src).read()
out = eval(expr, {"s": s})
assert out != s, "the mutation changed nothing"
open(dst, "w").write(out)
EOF
}
guard_fails() { # guard_fails NAME EXPR RULE: the copy fails, naming RULE
  mutated "$1" "$2" || return 1
  if guard "$tmp/$1.yaml" >"$tmp/g" 2>&1; then cat "$tmp/g"; echo "the rules passed a template with $1"; return 1; fi
  cat "$tmp/g"
  grep -q "$3 *FAIL" "$tmp/g"
}
t "cfn-guard: the real template passes every rule" guard infra/fleet.yaml
t "cfn-guard: the NLB without DependsOn GatewayAttachment fails" guard_fails nlb \
  "s.replace('DependsOn: [GatewayAttachment, DefaultRoute, SubnetARoutes, SubnetBRoutes]\n    Metadata:', 'DependsOn: [DefaultRoute, SubnetARoutes, SubnetBRoutes]\n    Metadata:', 1)" \
  internet_facing_lbs_wait_for_the_gateway_and_routes
t "cfn-guard: a group without DependsOn its routes fails" guard_fails group \
  "s.replace('    DependsOn: [GatewayAttachment, DefaultRoute, SubnetARoutes, SubnetBRoutes]\n    Properties:\n      AutoScalingGroupName', '    DependsOn: [GatewayAttachment]\n    Properties:\n      AutoScalingGroupName', 1)" \
  groups_with_public_ips_wait_for_the_gateway_and_routes
t "cfn-guard: the controller role without a lease action fails" guard_fails lease \
  "s.replace('Action: [dynamodb:GetItem, dynamodb:UpdateItem, dynamodb:DeleteItem]', 'Action: [dynamodb:GetItem, dynamodb:UpdateItem]', 1)" \
  controller_role_allows_what_the_controller_calls
t "cfn-guard: the controller role without SetDesiredCapacity fails" guard_fails setdesired \
  "s.replace('Action: [autoscaling:SetDesiredCapacity, ', 'Action: [', 1)" \
  controller_role_allows_what_the_controller_calls
t "cfn-guard: the service role without CompleteLifecycleAction fails" guard_fails drain \
  "s.replace('Action: autoscaling:CompleteLifecycleAction', 'Action: logs:PutLogEvents', 1)" \
  service_role_allows_what_the_service_calls
t "cfn-guard: an action nothing calls fails" guard_fails extra \
  "s.replace('Action: autoscaling:CompleteLifecycleAction', 'Action: [autoscaling:CompleteLifecycleAction, s3:GetObject]', 1)" \
  service_role_allows_what_the_service_calls
t "cfn-guard: a role without its own rule fails" guard_fails role \
  "s.replace('  ServiceProfile:\n', '  ExtraRole:\n    Type: AWS::IAM::Role\n    Properties:\n      AssumeRolePolicyDocument: {}\n  ServiceProfile:\n', 1)" \
  every_role_has_a_rule

t "roles: every AWS call in the code and the user data is an action its role's rule requires" python3 infra/tests/role_calls.py .
role_calls_fails() { # role_calls_fails SED_EXPR MESSAGE: a copy with the rule changed is refused
  rm -rf "$tmp/rc" && mkdir -p "$tmp/rc/infra" "$tmp/rc/controller" "$tmp/rc/service" &&
    cp -r infra/guard infra/fleet.yaml "$tmp/rc/infra/" && cp -r controller/src "$tmp/rc/controller/" &&
    cp -r service/src "$tmp/rc/service/" && sed -i "$1" "$tmp/rc/infra/guard/roles.guard" || return 1
  expect_fail "$2" python3 infra/tests/role_calls.py "$tmp/rc"
}
t "roles: a call whose action the rule lacks is named" role_calls_fails \
  "/some %controller_actions == 'dynamodb:DeleteItem'/d" "controller/src/aws_lease.rs calls dynamodb:DeleteItem"
t "roles: a required action nothing calls is named" role_calls_fails \
  "s/some %service_actions == 'logs:PutLogEvents'/&\n    some %service_actions == 'logs:DescribeLogStreams'/" \
  "requires logs:DescribeLogStreams, which nothing calls"

t "checkov: every skip in the templates and Dockerfiles carries its reason" \
  python3 infra/tests/skip_reasons.py infra/fleet.yaml infra/registry.yaml infra/docker/service.Dockerfile infra/docker/controller.Dockerfile

# -------------------------------------------------------------- dry runs
deploy_calls() {
  deploy_dry >"$tmp/d" 2>/dev/null || return 1
  in_order "$tmp/d" \
    '^aws sts get-caller-identity --region eu-west-1' \
    '^aws cloudformation deploy .*--stack-name hellofleet-registry .*registry.yaml' \
    '^aws ecr describe-images .*hellofleet-registry/service .*imageTag=abc123' \
    '^aws ecr describe-images .*hellofleet-registry/controller .*imageTag=abc123' \
    "^aws cloudformation describe-stacks .*--stack-name hellofleet .*ParameterKey=='\\\\''ImageTag" \
    '^aws cloudformation create-change-set .*--change-set-type UPDATE .*fleet.yaml --parameters file://.*hellofleet.params.json --capabilities CAPABILITY_IAM' \
    '^aws cloudformation wait change-set-create-complete' \
    '^aws cloudformation execute-change-set' \
    '^aws cloudformation wait stack-update-complete' \
    '^aws autoscaling start-instance-refresh .*--auto-scaling-group-name hellofleet-fleet --strategy Rolling' \
    '^aws autoscaling describe-instance-refreshes' \
    '^dry run: would deploy abc123: service http'
  grep -q '"MinHealthyPercentage":100,"MaxHealthyPercentage":200,"InstanceWarmup":60,"SkipMatching":true' "$tmp/d" &&
    grep -q '"Alarms":\["hellofleet-unhealthy-hosts"\]' "$tmp/d"
}
t "deploy --dry-run: registry, image check, change set, instance refresh, in order" deploy_calls

deploy_options() {
  deploy_dry --stack blue --registry-stack reg --certificate-arn arn:aws:acm:eu-west-1:1:certificate/x \
    --hosted-zone-id Z1 --domain-name hello.example.com --alert-email ops@example.com --no-refresh >"$tmp/d" 2>/dev/null || return 1
  local p="$P"
  [ "$(param "$p" CertificateArn)" = arn:aws:acm:eu-west-1:1:certificate/x ] &&
    [ "$(param "$p" DomainName)" = hello.example.com ] && [ "$(param "$p" HostedZoneId)" = Z1 ] &&
    [ "$(param "$p" AlertEmail)" = ops@example.com ] && [ "$(param "$p" RegistryStack)" = reg ] &&
    [ "$(param "$p" ImageTag)" = abc123 ] && [ "$(param "$p" AdminCidr)" = 203.0.113.7/32 ] &&
    grep -q -- '--stack-name blue ' "$tmp/d" && grep -q 'reg/service' "$tmp/d" &&
    ! grep -q start-instance-refresh "$tmp/d"
}
t "deploy --dry-run: optional TLS, DNS, e-mail reach the stack; --no-refresh skips the refresh" deploy_options

deploy_env() { # the HF_* variables the Jenkinsfile sets work like the flags
  HF_TAG=envtag HF_ADMIN_CIDR=198.51.100.0/24 HF_STACK=green infra/deploy.sh --dry-run --params-out "$P" >"$tmp/d" 2>/dev/null &&
    [ "$(param "$P" ImageTag)" = envtag ] && grep -q '^dry run: would deploy envtag' "$tmp/d" &&
    grep -q -- '--stack-name green ' "$tmp/d"
}
t "deploy: HF_* environment variables stand in for flags" deploy_env

no_state_in_dry_run() { # writes nothing, says what it would have done, never "deployed"
  rm -rf "$HF_STATE_DIR" "$tmp/dry-home"
  mkdir -p "$tmp/dry-home"
  (cd "$tmp/dry-home" && HF_STATE_DIR="$tmp/dry-home/state" "$OLDPWD/infra/deploy.sh" --dry-run --tag abc123 \
    --admin-cidr 203.0.113.7/32) >"$tmp/d" 2>"$tmp/e" || { cat "$tmp/e"; return 1; }
  [ -z "$(ls -A "$tmp/dry-home")" ] || { echo "a dry run wrote: $(ls -A "$tmp/dry-home")"; return 1; }
  grep -q "dry run: would write the stack parameters to $tmp/dry-home/state/hellofleet.params.json" "$tmp/e" &&
    grep -q "dry run: would save the previous tag to $tmp/dry-home/state/hellofleet.previous-tag" "$tmp/e" &&
    grep -q '^dry run: would deploy abc123: service http.*(nothing was changed or written)$' "$tmp/d" &&
    ! grep -q '^deployed' "$tmp/d" "$tmp/e"
}
t "deploy --dry-run writes nothing and says what it would have done" no_state_in_dry_run

images_calls() {
  infra/images.sh build --tag abc --dry-run >"$tmp/b" 2>/dev/null &&
    in_order "$tmp/b" '^docker build --platform linux/amd64 .*-f .*infra/docker/service.Dockerfile -t hellofleet/service:abc' \
      '^docker build --platform linux/amd64 .*-f .*infra/docker/controller.Dockerfile -t hellofleet/controller:abc' &&
    infra/images.sh scan --tag abc --dry-run >"$tmp/s" 2>/dev/null &&
    in_order "$tmp/s" '^trivy image --exit-code 1 .*hellofleet/service:abc' '^trivy image .*hellofleet/controller:abc' &&
    infra/images.sh push --tag abc --dry-run >"$tmp/p" 2>/dev/null &&
    in_order "$tmp/p" '^aws sts get-caller-identity' \
      '^aws cloudformation deploy .*hellofleet-registry' \
      '^aws ecr get-login-password --region eu-west-1 \| docker login --username AWS --password-stdin 123456789012.dkr.ecr.eu-west-1.amazonaws.com$' \
      '^docker push 123456789012.dkr.ecr.eu-west-1.amazonaws.com/hellofleet-registry/service:abc$' \
      '^aws ecr describe-image-scan-findings .*hellofleet-registry/service .*imageScanStatus.status' \
      '^aws ecr describe-image-scan-findings .*hellofleet-registry/service .*CRITICAL' \
      '^docker push .*/hellofleet-registry/controller:abc$' \
      '^aws ecr describe-image-scan-findings .*hellofleet-registry/controller .*imageScanStatus.status' &&
    ! grep -q 'wait image-scan-complete' "$tmp/p" &&
    [ "$(grep -c '^docker build --platform linux/amd64 ' "$tmp/b")" -eq "$(grep -c '^docker build' "$tmp/b")" ]
}
t "images --dry-run: build, scan, login, push and the ECR scan gate" images_calls

teardown_calls() {
  infra/teardown.sh --dry-run >"$tmp/t" 2>/dev/null || return 1
  in_order "$tmp/t" '^aws sts get-caller-identity' \
    "^aws cloudformation describe-stacks .*--stack-name hellofleet .*OutputKey=='\\\\''ControllerZoneId" \
    '^aws route53 list-resource-record-sets --hosted-zone-id Z0000000DRYRUN' \
    '^aws route53 change-resource-record-sets --hosted-zone-id Z0000000DRYRUN' \
    '^aws cloudformation delete-stack .*--stack-name hellofleet$' \
    '^aws cloudformation wait stack-delete-complete .*--stack-name hellofleet$' \
    '^aws ecr list-images .*hellofleet-registry/service' \
    '^aws ecr batch-delete-image .*hellofleet-registry/service' \
    '^aws ecr list-images .*hellofleet-registry/controller' \
    '^aws ecr batch-delete-image .*hellofleet-registry/controller' \
    '^aws cloudformation delete-stack .*--stack-name hellofleet-registry$' \
    '^aws cloudformation wait stack-delete-complete .*--stack-name hellofleet-registry$' \
    '^teardown of hellofleet done'
  infra/teardown.sh --dry-run --keep-registry >"$tmp/k" 2>/dev/null &&
    grep -q 'delete-stack .*--stack-name hellofleet$' "$tmp/k" && ! grep -q 'hellofleet-registry' "$tmp/k"
}
t "teardown --dry-run: the controller's DNS record, the fleet stack, then every image, then the registry" teardown_calls

rollback_calls() {
  mkdir -p "$HF_STATE_DIR" && echo good42 >"$HF_STATE_DIR/hellofleet.previous-tag" &&
    echo ami-0000000000000abcd >"$HF_STATE_DIR/hellofleet.previous-image-id"
  infra/rollback.sh --dry-run --admin-cidr 1.2.3.4/32 --params-out "$P" >"$tmp/r" 2>/dev/null || return 1
  in_order "$tmp/r" '^aws autoscaling cancel-instance-refresh .*hellofleet-fleet' \
    '^aws cloudformation create-change-set' '^aws autoscaling start-instance-refresh' '^dry run: would deploy good42:' &&
    [ "$(param "$P" ImageTag)" = good42 ] && [ "$(param "$P" ImageId)" = ami-0000000000000abcd ] &&
    ! grep -q '^aws ssm get-parameter' "$tmp/r" &&
    [ "$(cat "$HF_STATE_DIR/hellofleet.previous-tag")" = good42 ]
}
t "rollback --dry-run: cancel the refresh, deploy the saved previous tag on its AMI" rollback_calls

# ------------------------------------- deploy for real, with a stand-in aws CLI
# The paths a dry run cannot take (stack states, an empty change set, a failed refresh),
# with infra/tests/fake_aws.py answering as AWS would.
# fake_deploy RULES_JSON [deploy args...]: run deploy.sh against the rules; calls in $tmp/fake/calls.
fake_deploy() {
  local rules="$1"
  shift
  rm -rf "$tmp/fake" && mkdir -p "$tmp/fake/bin"
  printf '%s\n' "$rules" >"$tmp/fake/rules.json"
  printf '#!/bin/bash\nexec python3 %s "$@"\n' "$PWD/infra/tests/fake_aws.py" >"$tmp/fake/bin/aws"
  printf '#!/bin/bash\nexit 0\n' >"$tmp/fake/bin/sleep"
  chmod +x "$tmp/fake/bin/aws" "$tmp/fake/bin/sleep"
  FAKE_AWS_DIR="$tmp/fake" PATH="$tmp/fake/bin:$PATH" infra/deploy.sh --tag new1 --admin-cidr 1.2.3.4/32 "$@"
}
# rules_with STATUS_RULES...: the common answers plus the given ones (JSON objects), first.
rules_with() {
  local IFS=,
  printf '%s\n' "[$*,
    {\"match\": \"^sts get-caller-identity\", \"out\": \"111122223333\\n\"},
    {\"match\": \"^cloudformation deploy .*hellofleet-registry\", \"out\": \"ok\\n\"},
    {\"match\": \"^ecr describe-images .*imageTag=new1\", \"out\": \"new1\\n\"},
    {\"match\": \"^ssm get-parameter .*al2023-ami-kernel-default-x86_64\", \"out\": \"ami-0fedcba9876543210\\n\"},
    {\"match\": \"^cloudformation describe-stacks .*ImageTag\", \"out\": \"old1\\n\"},
    {\"match\": \"^cloudformation describe-stacks .*ImageId\", \"out\": \"ami-00000000000000001\\n\"},
    {\"match\": \"^cloudformation create-change-set\", \"out\": \"{}\\n\"},
    {\"match\": \"^cloudformation wait change-set-create-complete\"},
    {\"match\": \"^cloudformation execute-change-set\"},
    {\"match\": \"^cloudformation wait stack-(update|create)-complete\"},
    {\"match\": \"InstanceRefreshPreferences\", \"out\": \"PREFS-FROM-STACK\\n\"},
    {\"match\": \"ServiceUrl\", \"out\": \"http://nlb.example\\n\"},
    {\"match\": \"DashboardUrl\", \"out\": \"http://nlb.example:9090/\\n\"},
    {\"match\": \"^autoscaling start-instance-refresh\", \"out\": \"rid-1\\n\"}]"
}
STATUS_OK='{"match": "describe-stacks .*StackStatus", "out": "UPDATE_COMPLETE\n"}'

fake_update() {
  fake_deploy "$(rules_with "$STATUS_OK" \
    '{"match": "describe-instance-refreshes", "out": "InProgress\t50\n", "times": 2}' \
    '{"match": "describe-instance-refreshes", "out": "Successful\t100\n"}')" >"$tmp/o" 2>&1 || { cat "$tmp/o"; return 1; }
  cat "$tmp/o" "$tmp/fake/calls"
  in_order "$tmp/fake/calls" '^cloudformation create-change-set .*--change-set-type UPDATE' \
    '^cloudformation execute-change-set' '^cloudformation wait stack-update-complete' \
    '^autoscaling start-instance-refresh .*--preferences PREFS-FROM-STACK ' \
    '^autoscaling describe-instance-refreshes .*rid-1' &&
    [ "$(grep -c describe-instance-refreshes "$tmp/fake/calls")" -eq 3 ] &&
    [ "$(cat "$HF_STATE_DIR/hellofleet.previous-tag")" = old1 ] &&
    [ "$(cat "$HF_STATE_DIR/hellofleet.previous-image-id")" = ami-00000000000000001 ] &&
    grep -q '^deployed new1: service http://nlb.example, dashboard http://nlb.example:9090/' "$tmp/o"
}
t "deploy (stand-in aws): update, refresh polled until Successful, previous tag saved" fake_update

fake_refresh_fails() {
  fake_deploy "$(rules_with "$STATUS_OK" '{"match": "describe-instance-refreshes", "out": "Failed\t40\n"}')" >"$tmp/o" 2>&1
  local rc=$?
  cat "$tmp/o"
  [ "$rc" -ne 0 ] && grep -q 'instance refresh rid-1 ended: Failed' "$tmp/o" && ! grep -q '^deployed' "$tmp/o"
}
t "deploy (stand-in aws): a failed instance refresh fails the deploy" fake_refresh_fails

fake_no_changes() {
  fake_deploy "$(rules_with "$STATUS_OK" \
    '{"match": "wait change-set-create-complete", "rc": 255, "err": "Waiter failed\n"}' \
    '{"match": "describe-change-set", "out": "The submitted information didn'"'"'t contain changes.\n"}' \
    '{"match": "delete-change-set"}' \
    '{"match": "describe-instance-refreshes", "out": "Successful\t100\n"}')" >"$tmp/o" 2>&1 || { cat "$tmp/o"; return 1; }
  cat "$tmp/o" "$tmp/fake/calls"
  grep -q 'already at this template' "$tmp/o" && grep -q '^cloudformation delete-change-set' "$tmp/fake/calls" &&
    ! grep -q '^cloudformation execute-change-set' "$tmp/fake/calls"
}
t "deploy (stand-in aws): an empty change set is deleted, not executed" fake_no_changes

fake_change_set_fails() {
  fake_deploy "$(rules_with "$STATUS_OK" \
    '{"match": "wait change-set-create-complete", "rc": 255}' \
    '{"match": "describe-change-set", "out": "Parameter MaxSize failed to satisfy constraint\n"}')" >"$tmp/o" 2>&1
  local rc=$?
  cat "$tmp/o"
  [ "$rc" -ne 0 ] && grep -q 'failed: Parameter MaxSize failed to satisfy constraint' "$tmp/o"
}
t "deploy (stand-in aws): a failed change set is an error with CloudFormation's reason" fake_change_set_fails

fake_create() {
  mkdir -p "$HF_STATE_DIR" && echo stale >"$HF_STATE_DIR/hellofleet.previous-tag"
  fake_deploy "$(rules_with '{"match": "describe-stacks .*StackStatus", "rc": 255, "err": "Stack with id hellofleet does not exist\n"}')" >"$tmp/o" 2>&1 || { cat "$tmp/o"; return 1; }
  cat "$tmp/o" "$tmp/fake/calls"
  grep -q 'create-change-set .*--change-set-type CREATE' "$tmp/fake/calls" &&
    grep -q '^cloudformation wait stack-create-complete' "$tmp/fake/calls" &&
    ! grep -q 'start-instance-refresh' "$tmp/fake/calls" && [ ! -e "$HF_STATE_DIR/hellofleet.previous-tag" ]
}
t "deploy (stand-in aws): a new stack is created, no refresh, no previous tag" fake_create

fake_bad_state() {
  fake_deploy "$(rules_with '{"match": "describe-stacks .*StackStatus", "out": "ROLLBACK_COMPLETE\n"}')" >"$tmp/o" 2>&1
  local rc=$?
  cat "$tmp/o"
  [ "$rc" -ne 0 ] && grep -q 'is ROLLBACK_COMPLETE .*teardown.sh --keep-registry' "$tmp/o" &&
    ! grep -q create-change-set "$tmp/fake/calls"
}
t "deploy (stand-in aws): a stack whose creation failed is named, with the way out" fake_bad_state

kept_params() { # an update keeps the optional settings not given; the AMI is pinned
  fake_deploy "$(rules_with "$STATUS_OK" '{"match": "describe-instance-refreshes", "out": "Successful\t100\n"}')" \
    --alert-email ops@example.com --params-out "$tmp/kept.json" >"$tmp/o" 2>&1 || { cat "$tmp/o"; return 1; }
  python3 - "$tmp/kept.json" <<'EOF2'
import json, sys
ps = {p["ParameterKey"]: p for p in json.load(open(sys.argv[1]))}
for k in ("CertificateArn", "HostedZoneId", "DomainName"):
    assert ps[k] == {"ParameterKey": k, "UsePreviousValue": True}, ps.get(k)
assert ps["AlertEmail"] == {"ParameterKey": "AlertEmail", "ParameterValue": "ops@example.com"}, ps["AlertEmail"]
assert ps["ImageId"]["ParameterValue"] == "ami-0fedcba9876543210", ps["ImageId"]
print("kept:", sorted(k for k, p in ps.items() if p.get("UsePreviousValue")))
EOF2
  grep -q '^ssm get-parameter .*--name /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64' "$tmp/fake/calls" &&
    [ "$(grep -c '^ssm get-parameter' "$tmp/fake/calls")" -eq 1 ]
}
t "deploy (stand-in aws): an update keeps TLS, DNS, e-mail unless given; the AMI resolved once and pinned" kept_params

created_params() { # a create has no previous values: nothing kept; an explicit AMI is not resolved
  fake_deploy "$(rules_with '{"match": "describe-stacks .*StackStatus", "rc": 255, "err": "does not exist\n"}')" \
    --image-id ami-0aaaabbbbccccdddd --params-out "$tmp/created.json" >"$tmp/o" 2>&1 || { cat "$tmp/o"; return 1; }
  ! grep -q UsePreviousValue "$tmp/created.json" && [ "$(param "$tmp/created.json" ImageId)" = ami-0aaaabbbbccccdddd ] &&
    ! grep -q '^ssm get-parameter' "$tmp/fake/calls"
}
t "deploy (stand-in aws): a create keeps nothing; --image-id pins the given AMI" created_params

review_in_progress() { # the leftover of a failed first change set is deleted, then created afresh
  fake_deploy "$(rules_with '{"match": "describe-stacks .*StackStatus", "out": "REVIEW_IN_PROGRESS\n"}' \
    '{"match": "^cloudformation delete-stack"}' '{"match": "^cloudformation wait stack-delete-complete"}')" >"$tmp/o" 2>&1 ||
    { cat "$tmp/o"; return 1; }
  cat "$tmp/o" "$tmp/fake/calls"
  in_order "$tmp/fake/calls" '^cloudformation delete-stack .*--stack-name hellofleet$' '^cloudformation wait stack-delete-complete' \
    '^cloudformation create-change-set .*--change-set-type CREATE' '^cloudformation execute-change-set'
}
t "deploy (stand-in aws): a stack left REVIEW_IN_PROGRESS is deleted and created afresh" review_in_progress

first_change_set_fails() { # a failed CREATE change set does not leave the stack REVIEW_IN_PROGRESS
  fake_deploy "$(rules_with '{"match": "describe-stacks .*StackStatus", "rc": 255, "err": "does not exist\n"}' \
    '{"match": "wait change-set-create-complete", "rc": 255}' \
    '{"match": "describe-change-set", "out": "Template error: bad\n"}' '{"match": "^cloudformation delete-stack"}')" >"$tmp/o" 2>&1
  local rc=$?
  cat "$tmp/o" "$tmp/fake/calls"
  [ "$rc" -ne 0 ] && grep -q 'failed: Template error: bad' "$tmp/o" &&
    in_order "$tmp/fake/calls" '^cloudformation describe-change-set' '^cloudformation delete-stack .*--stack-name hellofleet$' &&
    ! grep -q execute-change-set "$tmp/fake/calls"
}
t "deploy (stand-in aws): a failed first change set deletes the stack it left" first_change_set_fails

t "deploy: a tag of null (an empty GIT_COMMIT) is refused" expect_fail "is not a commit id" deploy_dry --tag null
t "images: a tag of None is refused" expect_fail "is not a commit id" infra/images.sh build --tag None --dry-run

# fake_push RULES_JSON: images.sh push with the stand-in aws CLI and a docker that logs.
fake_push() {
  rm -rf "$tmp/fake" && mkdir -p "$tmp/fake/bin"
  printf '%s\n' "$1" >"$tmp/fake/rules.json"
  printf '#!/bin/bash\nexec python3 %s "$@"\n' "$PWD/infra/tests/fake_aws.py" >"$tmp/fake/bin/aws"
  # shellcheck disable=SC2016 # the stand-in's own $1 and $*
  printf '#!/bin/bash\n[ "$1" = login ] && cat >/dev/null\necho "docker $*" >>"%s/calls"\n' "$tmp/fake" >"$tmp/fake/bin/docker"
  printf '#!/bin/bash\nexit 0\n' >"$tmp/fake/bin/sleep"
  chmod +x "$tmp/fake/bin/aws" "$tmp/fake/bin/docker" "$tmp/fake/bin/sleep"
  FAKE_AWS_DIR="$tmp/fake" PATH="$tmp/fake/bin:$PATH" infra/images.sh push --tag new1
}
PUSH_COMMON='{"match": "^sts get-caller-identity", "out": "111122223333\n"},
  {"match": "^cloudformation deploy", "out": "ok\n"},
  {"match": "^ecr get-login-password", "out": "token\n"}'
# Basic scanning ends COMPLETE; enhanced scanning (continuous) shows ACTIVE and never COMPLETE.
SCAN_BASIC='{"match": "^ecr describe-image-scan-findings .*imageScanStatus", "out": "IN_PROGRESS\n", "times": 1},
  {"match": "^ecr describe-image-scan-findings .*imageScanStatus", "out": "COMPLETE\n"}'
SCAN_ENHANCED='{"match": "^ecr describe-image-scan-findings .*imageScanStatus", "out": "ACTIVE\n"}'

push_new() {
  fake_push "[{\"match\": \"^ecr describe-images .*controller\", \"out\": \"{}\"},
    {\"match\": \"^ecr describe-images\", \"rc\": 255, \"err\": \"ImageNotFoundException\\n\"}, $SCAN_BASIC,
    {\"match\": \"^ecr describe-image-scan-findings\", \"out\": \"None\\n\"}, $PUSH_COMMON]" >"$tmp/o" 2>&1 ||
    { cat "$tmp/o"; return 1; }
  cat "$tmp/o" "$tmp/fake/calls"
  in_order "$tmp/fake/calls" '^docker login --username AWS --password-stdin 111122223333.dkr.ecr.eu-west-1.amazonaws.com$' \
    '^docker tag hellofleet/service:new1 111122223333.dkr.ecr.eu-west-1.amazonaws.com/hellofleet-registry/service:new1$' \
    '^docker push 111122223333.dkr.ecr.eu-west-1.amazonaws.com/hellofleet-registry/service:new1$' &&
    ! grep -q 'push .*controller' "$tmp/fake/calls" && grep -q 'hellofleet-registry/controller:new1 is already in ECR' "$tmp/o"
}
t "images push (stand-ins): pushes what is missing, leaves an immutable tag alone" push_new

push_critical() {
  fake_push "[{\"match\": \"^ecr describe-images\", \"rc\": 255}, $SCAN_ENHANCED,
    {\"match\": \"^ecr describe-image-scan-findings\", \"out\": \"3\\n\"}, $PUSH_COMMON]" >"$tmp/o" 2>&1
  local rc=$?
  cat "$tmp/o"
  [ "$rc" -ne 0 ] && grep -q 'hellofleet-registry/service:new1 has 3 CRITICAL findings' "$tmp/o" &&
    ! grep -q 'controller' "$tmp/fake/calls"
}
t "images push (stand-ins): CRITICAL findings in ECR's scan stop the pipeline" push_critical

# ------------------------------------------------------ smoke, for real
start_stub() {
  stop_named stub
  rm -f "$tmp/port"
  spawn stub "$tmp/stub.log" python3 infra/tests/stub_server.py "$1" "$tmp/port"
  for _ in $(seq 1 100); do [ -s "$tmp/port" ] && return 0; sleep 0.05; done
  echo "stub server did not start"
  return 1
}
smoke_good() {
  start_stub good || return 1
  infra/smoke.sh --url "http://127.0.0.1:$(cat "$tmp/port")" --requests 5 --wait 5 >"$tmp/s" 2>&1 || { cat "$tmp/s"; return 1; }
  grep -q 'passed: 10 requests, instances seen: i-stub0 i-stub1' "$tmp/s"
}
t "smoke: passes against a healthy endpoint and lists the instances" smoke_good
smoke_bad() {
  start_stub "$1" || return 1
  expect_fail "$2" infra/smoke.sh --url "http://127.0.0.1:$(cat "$tmp/port")" --requests 3 --wait 5
}
t "smoke: fails when /repeat is short" smoke_bad bad-repeat "3 of 6 requests failed"
t "smoke: fails without X-Instance-Id" smoke_bad no-header "6 of 6 requests failed"
smoke_down() {
  start_stub good || return 1
  local port
  port="$(cat "$tmp/port")"
  stop_named stub
  expect_fail "did not answer within 0s" infra/smoke.sh --url "http://127.0.0.1:$port" --wait 0
}
t "smoke: fails clearly when nothing answers" smoke_down
smoke_dry() {
  infra/smoke.sh --dry-run --stack hellofleet >"$tmp/s" 2>/dev/null &&
    in_order "$tmp/s" "^aws cloudformation describe-stacks .*ServiceUrl" '^curl .*/hello$' '^curl .*/repeat$'
}
t "smoke --dry-run: reads the URL from the stack, then /hello and /repeat" smoke_dry

# ------------------------------------------------- the user data scripts
# The scripts the instances run at boot, taken out of the template (infra/tests/userdata.py)
# and run here with stand-ins for docker, aws, systemctl and the metadata service.
userdata_lint() {
  local f
  command -v shellcheck >/dev/null 2>&1 || { echo "shellcheck is missing: apt-get install shellcheck"; return 1; }
  python3 infra/tests/userdata.py infra/fleet.yaml "$tmp/ud" >"$tmp/ud.list" || return 1
  [ "$(grep -c '\.sh$' "$tmp/ud.list")" -ge 6 ] || { cat "$tmp/ud.list"; return 1; }
  while read -r f; do
    case "$f" in
      *.sh) if ! bash -n "$f" || ! shellcheck -s bash -e SC1091 "$f"; then echo "in $f"; return 1; fi ;;
    esac
  done <"$tmp/ud.list"
}
t "user data: the boot scripts and the scripts they install pass bash -n and shellcheck" userdata_lint

# stand_ins DIR: fake docker, aws, systemctl, sleep and hellofleet-imds that log their calls.
stand_ins() {
  local bin="$1/bin" c
  mkdir -p "$bin"
  for c in docker aws systemctl; do
    printf '#!/bin/bash\necho "%s $*" >>"%s/calls"\n' "$c" "$1" >"$bin/$c"
  done
  # Secrets answer JSON, as the RDS-managed database secret does (the others take it as text).
  cat >>"$bin/aws" <<'EOF'
[ "$1 $2" = "secretsmanager get-secret-value" ] && echo '{"username":"books","password":"p@ss/w:rd"}'
exit 0
EOF
  # docker run also records the environment the container would get.
  cat >>"$bin/docker" <<EOF
[ "\$1" = run ] && echo "env AWS_REGION=\$AWS_REGION PORT=\$PORT LOG_SINK=\$LOG_SINK LOG_GROUP=\$LOG_GROUP REPORT_TO=\$REPORT_TO REPORT_KEY_FILE=\$REPORT_KEY_FILE" >>"$1/calls"
exit 0
EOF
  # The metadata service: the lifecycle state turns Terminated on the third look.
  cat >"$bin/hellofleet-imds" <<EOF
#!/bin/bash
case "\$1" in
  instance-id) echo i-0123456789 ;;
  autoscaling/target-lifecycle-state)
    n=\$(cat "$1/looks" 2>/dev/null || echo 0); echo \$((n + 1)) >"$1/looks"
    if [ "\$n" -ge 2 ]; then echo Terminated; else echo InService; fi ;;
esac
EOF
  printf '#!/bin/bash\nexit 0\n' >"$bin/sleep"
  chmod +x "$bin"/*
}

userdata_run() { # run_script NAME: one installed script with the stand-ins, root under $tmp/root
  local root="$tmp/root"
  rm -rf "$root" "$tmp/ud2" && mkdir -p "$root/etc/hellofleet"
  python3 infra/tests/userdata.py infra/fleet.yaml "$tmp/ud2" "$root" >/dev/null || return 1
  cp "$tmp/ud2/userdata1-service.env" "$root/etc/hellofleet/service.env"
  stand_ins "$root"
  PATH="$root/bin:$PATH" timeout 20 bash "$tmp/ud2/userdata1-$1.sh" || { echo "$1 failed"; cat "$root/calls"; return 1; }
  cat "$root/calls"
}

drain_protocol() {
  userdata_run hellofleet-drain >"$tmp/calls" || { cat "$tmp/calls"; return 1; }
  cat "$tmp/calls"
  in_order "$tmp/calls" '^systemctl stop hellofleet-service$' \
    '^aws autoscaling complete-lifecycle-action --region eu-west-1 --auto-scaling-group-name stand-in-GroupName --lifecycle-hook-name drain --instance-id i-0123456789 --lifecycle-action-result CONTINUE$' &&
    [ "$(grep -c . "$tmp/calls")" -eq 2 ] &&
    grep -q 'LifecycleHookName: drain' infra/fleet.yaml
}
t "user data: on Terminated the drain stops the service, then completes the hook it names" drain_protocol

service_start() {
  userdata_run hellofleet-service >"$tmp/calls" || { cat "$tmp/calls"; return 1; }
  cat "$tmp/calls"
  # (the two sides of the login pipe run together: either may log first)
  grep -qx 'aws ecr get-login-password --region eu-west-1' "$tmp/calls" &&
  in_order "$tmp/calls" '^docker login -u AWS --password-stdin stand-in-Registry$' '^docker pull stand-in-Image$' \
    '^docker run --rm --name service --network host .*awslogs-stream=service/i-0123456789 .*-e INSTANCE_ID=i-0123456789 .* stand-in-Image$' \
    '^env AWS_REGION=eu-west-1 PORT=8080 LOG_SINK=cloudwatch LOG_GROUP=stand-in-ServiceLogGroup REPORT_TO=http://controller.stand-in-AWS--StackName.hellofleet.internal:stand-in-ControllerPort REPORT_KEY_FILE=[^ ]*/etc/hellofleet/report.key$' &&
  # The report key comes from the stack's secret before the container starts, into a 0600 file.
  in_order "$tmp/calls" '^aws secretsmanager get-secret-value --region eu-west-1 --secret-id stand-in-ReportKeySecret --query SecretString --output text$' \
    '^docker run --rm --name service .*-v [^ ]*/etc/hellofleet/report.key:[^ ]*/etc/hellofleet/report.key:ro .*-e REPORT_KEY_FILE .*stand-in-Image$' &&
  [ "$(stat -c %a "$tmp/root/etc/hellofleet/report.key")" = 600 ] &&
  # The log spool's data dir is on the host, so the next container after a crash ships it.
  grep -q '^docker run --rm --name service .*-v [^ ]*/var/lib/hellofleet:[^ ]*/var/lib/hellofleet .*-e DATA_DIR .*stand-in-Image$' "$tmp/calls" &&
  [ "$(stat -c %a "$tmp/root/var/lib/hellofleet")" = 700 ] &&
  # The books URL: the secret's password escaped, the database's certificate checked against
  # the RDS CA bundle at the very path the service image puts it.
  grep -qx 'BOOKS_DB=postgres://books:p%40ss%2Fw%3Ard@[^/]*/books?sslmode=verify-full&sslrootcert=/etc/ssl/certs/rds-global-bundle.pem' "$tmp/root/etc/hellofleet/books.env" &&
  grep -qx 'COPY --from=builder --chmod=0444 /out/rds-global-bundle.pem /etc/ssl/certs/rds-global-bundle.pem' infra/docker/service.Dockerfile &&
  grep -q 'https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem' infra/docker/service.Dockerfile
}
t "user data: the service starts from ECR with its region, port, log sink, group, controller and report key" service_start

# The controller host's scripts, with stand-ins: aws answers the two SSM parameters from
# files under the root (the image, the config), the metadata service gives an IP.
controller_root() {
  local root="$tmp/croot" f
  rm -rf "$root" "$tmp/ud3" && mkdir -p "$root/etc/hellofleet"
  python3 infra/tests/userdata.py infra/fleet.yaml "$tmp/ud3" "$root" >/dev/null || return 1
  cp "$tmp/ud3/userdata0-controller.env" "$root/etc/hellofleet/controller.env"
  stand_ins "$root"
  cat >"$root/bin/aws" <<EOF
#!/bin/bash
echo "aws \$*" >>"$root/calls"
case "\$*" in
  *"ssm get-parameter "*"--name stand-in-ControllerImageParameter "*) cat "$root/image" ;;
  *"ssm get-parameter "*"--name stand-in-ControllerConfigParameter "*) cat "$root/config" ;;
esac
exit 0
EOF
  # shellcheck disable=SC2016 # the stand-in's own $1
  printf '#!/bin/bash\n[ "$1" = local-ipv4 ] && echo 10.40.1.23\n' >"$root/bin/hellofleet-imds"
  for f in hellofleet-desired hellofleet-controller hellofleet-controller-watch; do
    cp "$tmp/ud3/userdata0-$f.sh" "$root/bin/$f"
  done
  chmod +x "$root/bin"/*
  echo "repo/controller:v1" >"$root/image"
  printf 'provider = "aws"\ntick = "5s"\n' >"$root/config"
}
controller_start() {
  controller_root || return 1
  local root="$tmp/croot"
  PATH="$root/bin:$PATH" timeout 20 hellofleet-controller || { cat "$root/calls"; return 1; }
  cat "$root/calls"
  in_order "$root/calls" '^aws ssm get-parameter --region eu-west-1 --name stand-in-ControllerImageParameter ' \
    '^aws route53 change-resource-record-sets --hosted-zone-id stand-in-ControllerZone --change-batch .*"Action":"UPSERT".*"Name":"controller.stand-in-AWS--StackName.hellofleet.internal","Type":"A","TTL":10,"ResourceRecords":\[\{"Value":"10.40.1.23"\}\]' \
    '^docker pull repo/controller:v1$' \
    '^docker run --rm --name controller --network host .* repo/controller:v1 run --config [^ ]*/etc/hellofleet/controller.toml$' &&
    grep -qx 'tick = "5s"' "$root/etc/hellofleet/controller.toml" && [ -s "$root/etc/hellofleet/desired" ]
}
t "user data: the controller starts on the image and config from SSM, after pointing its name at its own IP" controller_start

controller_watch() {
  controller_start >/dev/null || { echo "start failed"; return 1; }
  local root="$tmp/croot"
  : >"$root/calls"
  PATH="$root/bin:$PATH" timeout 20 hellofleet-controller-watch || return 1
  ! grep -qE '^(docker pull|systemctl restart)' "$root/calls" || { echo "restarted without a change:"; cat "$root/calls"; return 1; }
  echo "repo/controller:v2" >"$root/image"
  PATH="$root/bin:$PATH" timeout 20 hellofleet-controller-watch || return 1
  cat "$root/calls"
  in_order "$root/calls" '^docker pull repo/controller:v2$' '^systemctl restart hellofleet-controller.service$' || return 1
  # A config change restarts it too.
  : >"$root/calls"
  PATH="$root/bin:$PATH" timeout 20 hellofleet-controller >/dev/null || return 1
  printf 'provider = "aws"\ntick = "10s"\n' >"$root/config"
  : >"$root/calls"
  PATH="$root/bin:$PATH" timeout 20 hellofleet-controller-watch || return 1
  grep -qx 'systemctl restart hellofleet-controller.service' "$root/calls"
}
t "user data: the controller restarts in place, new image pulled first, only when the image or config changed" controller_watch

controller_heals() { # the template: a group of one in both zones, found by name, a tolerant silent alarm
  python3 - infra/fleet.yaml <<'EOF'
import re, sys
t = open(sys.argv[1]).read()
def block(name):
    m = re.search(rf"^  {name}:\n(.*?)(?=^  \S)", t, re.M | re.S)
    assert m, name
    return m.group(1)
g = block("ControllerGroup")
assert 'MinSize: "1"' in g and 'MaxSize: "1"' in g, g
assert "VPCZoneIdentifier: [!Ref SubnetA, !Ref SubnetB]" in g and "HealthCheckType: ELB" in g, g
assert "UpdatePolicy" not in g, "a stack update must not replace the controller"
assert "AWS::EC2::Instance" not in t, "no single controller instance"
fleet_lt = block("LaunchTemplate")
assert "PrivateIp" not in fleet_lt and "controller.${AWS::StackName}.hellofleet.internal" in fleet_lt, "the fleet names the controller"
ctl_lt = block("ControllerLaunchTemplate")
for changing in ("ImageTag", "ConfigDigest", "ControllerConfig}"):
    assert changing not in ctl_lt, f"{changing} in the controller's launch template: a deploy would replace the host"
a = block("ControllerSilentAlarm")
assert "Period: 60" in a and "EvaluationPeriods: 4" in a and "DatapointsToAlarm: 4" in a, a
assert "Type: AWS::EC2::Image::Id" in block("ImageId"), "the AMI is a pinned id"
assert "DesiredCapacityType" not in t
print("controller: group of one across both zones, by name, restarts in place; silent alarm 4 of 4 minutes")
EOF
}
t "template: the controller heals (group of one, both zones), has a stable name, is not replaced by deploys" controller_heals

stack_params_checks() { # the renderer refuses what would deploy the wrong thing
  expect_fail "is not an AMI id" python3 infra/stack_params.py infra/controller.aws.toml eu-west-1 ImageId=latest &&
    expect_fail "--keep needs" python3 infra/stack_params.py infra/controller.aws.toml eu-west-1 --keep &&
    sed 's/^table = "hellofleet-fleet-lease"/table = "other"/' infra/controller.aws.toml >"$tmp/lt.toml" &&
    expect_fail "lease.table" python3 infra/stack_params.py "$tmp/lt.toml" eu-west-1 &&
    python3 infra/stack_params.py infra/controller.aws.toml eu-west-1 --keep AlertEmail,CertificateArn \
      CertificateArn=arn:x ImageId=ami-0123456789abcdef0 >"$tmp/sp.json" &&
    python3 - "$tmp/sp.json" <<'EOF'
import json, sys
ps = {p["ParameterKey"]: p for p in json.load(open(sys.argv[1]))}
assert ps["AlertEmail"] == {"ParameterKey": "AlertEmail", "UsePreviousValue": True}, ps["AlertEmail"]
assert ps["CertificateArn"]["ParameterValue"] == "arn:x", "a given value wins over --keep"
assert ps["ImageId"]["ParameterValue"] == "ami-0123456789abcdef0"
EOF
}
t "stack_params: an AMI that is not an id, a bad --keep and a foreign lease table are refused; given values win" stack_params_checks

# ------------------------------------------- against an AWS emulator (moto)
# What moto can play: CloudFormation for the registry stack, ECR, Auto Scaling. (It cannot
# create the fleet stack, so deploy's later calls are covered by the dry runs above.)
stop_emulator() {
  stop_named controller
  stop_named moto
}
# printed_port LOG MARKER: the port of the first "MARKER http://127.0.0.1:PORT" in LOG.
# Servers here start on port 0 and print the port they bound: a port picked free and
# released first could be taken by another process before the server binds it.
printed_port() {
  sed -n "s|.*$2 http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p" "$1" 2>/dev/null | head -n 1
}
start_emulator() {
  command -v moto_server >/dev/null 2>&1 || { echo "moto_server is missing: bash .ci/install.sh (into ${HF_VENV:-/opt/hellofleet-venv})"; return 1; }
  local port
  spawn moto "$tmp/moto.log" moto_server -H 127.0.0.1 -p 0
  for _ in $(seq 1 100); do
    port="$(printed_port "$tmp/moto.log" "Running on")"
    [ -n "$port" ] && curl -sf -o /dev/null "http://127.0.0.1:$port/moto-api/" &&
      { echo "$port" >"$tmp/moto.port"; return 0; }
    sleep 0.1
  done
  echo "moto_server did not start"; cat "$tmp/moto.log"
  return 1
}
# emu CMD...: run CMD with the emulator's endpoint and fake credentials.
emu_env() {
  echo env "AWS_ENDPOINT_URL=http://127.0.0.1:$(cat "$tmp/moto.port")" AWS_ACCESS_KEY_ID=testing \
    AWS_SECRET_ACCESS_KEY=testing AWS_SHARED_CREDENTIALS_FILE=/dev/null
}
emu() {
  local e
  read -r -a e <<<"$(emu_env)"
  "${e[@]}" "$@"
}
put_image() { # put_image REPO TAG: a small distinct manifest under TAG
  local digest
  digest="$(printf '%s' "$1:$2" | sha256sum | cut -c1-64)"
  emu aws ecr put-image --region eu-west-1 --repository-name "$1" --image-tag "$2" --image-manifest \
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"size\":1,\"digest\":\"sha256:$digest\"},\"layers\":[]}" >/dev/null
}

emulated_registry() {
  start_emulator || return 1
  emu aws cloudformation deploy --region eu-west-1 --stack-name hellofleet-registry \
    --template-file infra/registry.yaml --no-fail-on-empty-changeset >/dev/null || return 1
  local r
  r="$(emu aws ecr describe-repositories --region eu-west-1 --query 'repositories[].[repositoryName,imageTagMutability]' --output text)"
  grep -q $'hellofleet-registry/service\tIMMUTABLE' <<<"$r" && grep -q $'hellofleet-registry/controller\tIMMUTABLE' <<<"$r"
}
t "emulator: the registry stack makes both repositories, tags immutable" emulated_registry

deploy_needs_images() {
  put_image hellofleet-registry/service v1 && put_image hellofleet-registry/controller v0 &&
    expect_fail "image hellofleet-registry/controller:v1 is not in ECR" emu infra/deploy.sh --tag v1 --admin-cidr 1.2.3.4/32
}
t "emulator: deploy refuses a tag whose image was not pushed" deploy_needs_images

teardown_real() {
  local i
  for i in 1 2; do put_image hellofleet-registry/service "r$i" || return 1; done
  emu aws ecr batch-get-image --region eu-west-1 --repository-name hellofleet-registry/service \
    --image-ids imageTag=r1 --query 'images[0].imageManifest' --output text >"$tmp/m" &&
    emu aws ecr put-image --region eu-west-1 --repository-name hellofleet-registry/service \
      --image-tag r1-again --image-manifest "$(cat "$tmp/m")" >/dev/null || return 1
  emu infra/teardown.sh --yes >"$tmp/td" 2>&1 || { cat "$tmp/td"; return 1; }
  cat "$tmp/td"
  grep -q "no stack hellofleet" "$tmp/td" && grep -q "deleted stack hellofleet-registry" "$tmp/td" || return 1
  [ -z "$(emu aws ecr describe-repositories --region eu-west-1 --query 'repositories[].repositoryName' --output text)" ] ||
    { echo "repositories left behind"; return 1; }
  ! emu aws cloudformation describe-stacks --region eu-west-1 --stack-name hellofleet-registry \
    --query 'Stacks[0].StackStatus' --output text 2>/dev/null | grep -qv DELETE_COMPLETE
}
t "emulator: teardown deletes every image (two tags on one digest too), the repositories and the stack" teardown_real

teardown_zone() { # the controller's record (written by its host, not the stack) goes before the stack
  # (moto's CloudFormation gives no id for a hosted zone it makes: the zone is made here
  # and the stand-in stack only reports it, as the fleet stack's ControllerZoneId does.)
  local zone left
  zone="$(emu aws route53 create-hosted-zone --name hellofleet.hellofleet.internal --caller-reference "t$RANDOM" \
    --vpc VPCRegion=eu-west-1,VPCId=vpc-12345678 --query HostedZone.Id --output text)" || return 1
  zone="${zone#/hostedzone/}"
  cat >"$tmp/zone.yaml" <<'EOF'
Parameters:
  ZoneId: { Type: String }
Resources:
  Topic:
    Type: AWS::SNS::Topic
Outputs:
  ControllerZoneId:
    Value: !Ref ZoneId
EOF
  # (create-stack: moto's change sets leave a stack's outputs empty)
  emu aws cloudformation create-stack --region eu-west-1 --stack-name hellofleet --template-body "file://$tmp/zone.yaml" \
    --parameters "ParameterKey=ZoneId,ParameterValue=$zone" >/dev/null || return 1
  # What the controller host's unit does at start.
  emu aws route53 change-resource-record-sets --hosted-zone-id "$zone" --change-batch \
    '{"Changes":[{"Action":"UPSERT","ResourceRecordSet":{"Name":"controller.hellofleet.hellofleet.internal","Type":"A","TTL":10,"ResourceRecords":[{"Value":"10.9.0.7"}]}}]}' >/dev/null || return 1
  emu infra/teardown.sh --yes --keep-registry >"$tmp/tz" 2>&1 || { cat "$tmp/tz"; return 1; }
  cat "$tmp/tz"
  grep -q "deleted the controller's records in zone $zone" "$tmp/tz" && grep -q "deleted stack hellofleet" "$tmp/tz" || return 1
  left="$(emu aws route53 list-resource-record-sets --hosted-zone-id "$zone" --query 'ResourceRecordSets[].Type' --output text)"
  echo "left in the zone: $left"
  ! grep -qw A <<<"$left" && emu aws route53 delete-hosted-zone --id "$zone" >/dev/null
}
t "emulator: teardown deletes the controller's DNS record, then the fleet stack" teardown_zone

controller_takes_config() { # the config the stack stores drives the real controller
  local bin="${CARGO_TARGET_DIR:-target}/debug/controller" port i
  [ -x "$bin" ] || { echo "$bin is missing: cargo build -p controller (scripts/test.sh builds it before these checks)"; return 1; }
  deploy_dry >/dev/null 2>&1 && param "$P" ControllerConfig >"$tmp/stored.toml" || return 1
  # The stored config requires signed reports and names the key file the host's unit writes
  # from the stack's secret: without that file the controller does not start, naming the field.
  grep -qx 'require_signature = true' "$tmp/stored.toml" || { echo "signatures not required"; return 1; }
  if timeout 20 "$bin" run --config "$tmp/stored.toml" --listen 127.0.0.1:0 >"$tmp/nokey.log" 2>&1; then
    echo "the controller started without its report key"; return 1
  fi
  grep -q 'reports.key_file' "$tmp/nokey.log" || { cat "$tmp/nokey.log"; return 1; }
  (umask 077; python3 -c 'import secrets; print(secrets.token_hex(32))' >"$tmp/report.key")
  sed -i "s|^key_file = .*|key_file = \"$tmp/report.key\"|" "$tmp/stored.toml"
  emu aws ec2 create-launch-template --region eu-west-1 --launch-template-name hflt \
    --launch-template-data '{"ImageId":"ami-12c6146b","InstanceType":"t3.small"}' >/dev/null &&
    emu aws autoscaling create-auto-scaling-group --region eu-west-1 --auto-scaling-group-name hellofleet-fleet \
      --launch-template LaunchTemplateName=hflt --min-size 2 --max-size 10 --desired-capacity 2 \
      --availability-zones eu-west-1a || return 1
  local e
  read -r -a e <<<"$(emu_env)"
  # env execs the controller, so the recorded pid is the controller's.
  spawn controller "$tmp/ctl.log" "${e[@]}" "$bin" run --config "$tmp/stored.toml" --listen "127.0.0.1:0"
  for i in $(seq 1 150); do
    port="$(printed_port "$tmp/ctl.log" "controller: dashboard")"
    [ -n "$port" ] && curl -sf "http://127.0.0.1:$port/api/status" >"$tmp/status.json" 2>/dev/null && break
    kill -0 "$(cat "$tmp/controller.pid")" 2>/dev/null || { echo "controller exited:"; cat "$tmp/ctl.log"; return 1; }
    sleep 0.1
  done
  python3 - "$tmp/status.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
g = s["group"]
assert s["provider"] == "aws", s["provider"]
assert (g["name"], g["min_size"], g["max_size"]) == ("hellofleet-fleet", 2, 10), g
print("controller steers", g["name"], "min", g["min_size"], "max", g["max_size"], "desired", g["desired_capacity"])
EOF
  local rc=$?
  stop_named controller
  return $rc
}
t "emulator: the real controller runs on the stored config and steers the group it names" controller_takes_config
stop_emulator

# ------------------------------------------------ images and pipeline
dockerfiles() {
  local f
  for f in infra/docker/service.Dockerfile infra/docker/controller.Dockerfile; do
    [ "$(grep -c '^FROM ' "$f")" -ge 2 ] || { echo "$f: not multi-stage"; return 1; }
    grep -q '^FROM gcr.io/distroless/cc-debian12:nonroot$' "$f" || { echo "$f: runtime is not distroless"; return 1; }
    grep -q '^USER 65532:65532$' "$f" || { echo "$f: not non-root"; return 1; }
    grep -q 'cargo build --release --locked' "$f" || { echo "$f: no locked release build"; return 1; }
  done
  grep -qx 'target' .dockerignore
}
t "Dockerfiles: multi-stage, distroless, non-root, locked release build" dockerfiles

# ------------------------------------------------ native policies as CloudFormation
# `controller policies render` prints the config's step policies and alarms as a template
# deployed beside the fleet stack (infra/README.md, "Native step policies").
policies_render() {
  local bin="${CARGO_TARGET_DIR:-target}/debug/controller" venv="${INFRA_TOOLS_VENV:-/opt/hellofleet-infra-tools}" tool
  [ -x "$bin" ] || { echo "$bin is missing: cargo build -p controller (scripts/test.sh builds it before these checks)"; return 1; }
  for tool in cfn-lint checkov; do
    [ -x "$venv/bin/$tool" ] || { echo "$venv/bin/$tool is missing: bash .ci/install-infra-tools.sh"; return 1; }
  done
  mkdir -p "$tmp/pol"
  # The stack's config as is has 5 s periods, which CloudWatch alarms refuse: named.
  if "$bin" policies render --config infra/controller.aws.toml >"$tmp/pol/bad.yaml" 2>"$tmp/pol/err"; then
    echo "rendered 5 s alarm periods"; return 1
  fi
  grep -q 'period_secs' "$tmp/pol/err" || { cat "$tmp/pol/err"; return 1; }
  rm -f "$tmp/pol/bad.yaml"
  sed 's/period_secs = 5\b/period_secs = 10/' infra/controller.aws.toml >"$tmp/native.toml"
  "$bin" policies render --config "$tmp/native.toml" >"$tmp/pol/policies.yaml" || return 1
  if [ "$(grep -c 'Type: AWS::AutoScaling::ScalingPolicy' "$tmp/pol/policies.yaml")" -ne 2 ] ||
    [ "$(grep -c 'Type: AWS::CloudWatch::Alarm' "$tmp/pol/policies.yaml")" -ne 2 ]; then
    cat "$tmp/pol/policies.yaml"; return 1
  fi
  "$venv/bin/cfn-lint" --non-zero-exit-code warning -- infra/fleet.yaml "$tmp/pol/policies.yaml" || return 1
  cp infra/fleet.yaml "$tmp/pol/fleet.yaml"
  "$venv/bin/checkov" --directory "$tmp/pol" --framework cloudformation --skip-download --compact --quiet
}
t "policies render: the native policies as CloudFormation pass cfn-lint and checkov beside the stack" policies_render

jenkinsfile() { # every stage runs a script of this repository, and credentials come from bindings
  local s
  grep -oE "sh '[^']+'" Jenkinsfile | sed -E "s/sh '(bash )?([^ ']+).*/\\2/" | sort -u >"$tmp/j"
  [ "$(wc -l <"$tmp/j")" -ge 6 ] || { cat "$tmp/j"; return 1; }
  while read -r s; do [ -f "$s" ] || { echo "Jenkinsfile runs $s, which does not exist"; return 1; }; done <"$tmp/j"
  for s in '.ci/run' 'infra/build.sh' 'infra/images.sh build' 'infra/images.sh scan' 'infra/images.sh push' \
    'infra/deploy.sh' 'infra/smoke.sh' 'infra/rollback.sh --if-saved'; do
    grep -qF "$s" Jenkinsfile || { echo "no stage runs $s"; return 1; }
  done
  grep -q "AmazonWebServicesCredentialsBinding', credentialsId: 'hellofleet-aws'" Jenkinsfile &&
    ! grep -qiE 'AKIA|aws_secret_access_key *=' Jenkinsfile
}
t "Jenkinsfile: every stage runs an existing script; credentials by binding only" jenkinsfile

pure_core_has_no_io() { # fleetcore (the pure core) depends on no runtime, HTTP or AWS crate, and testkit is no normal dependency
  local tree bad
  tree="$(cargo tree -p fleetcore -e normal --prefix none --offline 2>&1)" || { echo "$tree"; return 1; }
  bad="$(echo "$tree" | grep -E '^(tokio|hyper|reqwest|axum|tower|mio|socket2|aws-[a-z-]+|chart|resvg|sqlx) ' | sort -u)"
  [ -z "$bad" ] || { echo "fleetcore depends on: $bad"; return 1; }
  echo "$tree" | grep -q '^proto ' || { echo "cargo tree output unexpected: $tree"; return 1; }
  for c in controller service loadgen dashboard; do
    if cargo tree -p "$c" -e normal --prefix none --offline 2>/dev/null | grep -q '^testkit '; then
      echo "$c depends on testkit outside its tests"; return 1
    fi
  done
}
t "fleetcore, the pure core, depends on no runtime, HTTP or AWS crate; testkit is a dev-dependency only" pure_core_has_no_io

readme_test_command_is_ci() { # the README's test command is what .ci/run runs, and it installs what is missing first
  local readme ci
  readme="$(awk '/^```sh/{f=1;next} f&&/^```/{exit} f' README.md | sed -n 2p | sed -E 's/ *#.*//')"
  [ -n "$readme" ] || { echo "README: no second command in the first sh block"; return 1; }
  ci="$(grep -vE '^\s*(#|$|set |cd |start=|echo )' .ci/run)"
  [ "$ci" = "$readme" ] || { echo ".ci/run runs '$ci', the README says '$readme'"; return 1; }
  grep -q '^  bash .ci/install.sh$' scripts/test.sh || { echo "scripts/test.sh does not install first"; return 1; }
  if grep -qE '^[^#]*\.ci/install\.sh' .ci/run; then echo ".ci/run installs on its own"; return 1; fi
}
t "README: its test command is exactly what .ci/run runs, and it installs what is missing itself" readme_test_command_is_ci

jenkins_no_silent_skip() { # the pipeline fails fast instead of skipping, and keeps optional settings
  local stages
  ! grep -q "when { branch" Jenkinsfile || { echo "a 'when { branch }' only works in a multibranch job"; return 1; }
  ! grep -q 'GIT_COMMIT}"' Jenkinsfile || { echo "HF_TAG straight from GIT_COMMIT (null when empty)"; return 1; }
  # Preflight is the first stage, and it errors on a missing branch and on a bad commit id.
  stages="$(grep -oE "stage\('[^']+'\)" Jenkinsfile | head -n1)"
  [ "$stages" = "stage('Preflight')" ] || { echo "first stage: $stages"; return 1; }
  if ! grep -q "env.BRANCH_NAME ?: params.DEPLOY_BRANCH" Jenkinsfile || ! grep -q "error('No branch" Jenkinsfile ||
    ! grep -q 'commit ==~ /\[0-9a-f\]{40}/' Jenkinsfile || ! grep -q 'env.HF_TAG = commit' Jenkinsfile; then
    echo "preflight checks missing"
    return 1
  fi
  # Every stage that changes AWS is gated on the branch preflight found.
  for s in 'Push to ECR' 'Deploy (instance refresh)' 'Smoke test through the NLB'; do
    grep -A1 -F "stage('$s')" Jenkinsfile | grep -q 'when { expression { deploys() } }' || { echo "$s is not gated"; return 1; }
  done
  for v in CERTIFICATE_ARN HOSTED_ZONE_ID DOMAIN_NAME ALERT_EMAIL; do
    grep -q "HF_$v = \"\${params.$v}\"" Jenkinsfile || { echo "$v is not passed to deploy.sh"; return 1; }
  done
}
t "Jenkinsfile: fails fast without a branch or a commit id; AWS stages gated on it; optional settings passed" jenkins_no_silent_skip

jenkins_empty_optionals_are_kept() { # what Jenkins passes for an empty parameter keeps the stack's value
  HF_CERTIFICATE_ARN="" HF_HOSTED_ZONE_ID="" HF_DOMAIN_NAME="" HF_ALERT_EMAIL="" deploy_dry >/dev/null 2>&1 || return 1
  python3 - "$P" <<'EOF'
import json, sys
ps = {p["ParameterKey"]: p for p in json.load(open(sys.argv[1]))}
for k in ("CertificateArn", "HostedZoneId", "DomainName", "AlertEmail"):
    assert ps[k].get("UsePreviousValue") is True, ps.get(k)
EOF
}
t "deploy: empty optional settings from Jenkins keep the stack's values" jenkins_empty_optionals_are_kept

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
