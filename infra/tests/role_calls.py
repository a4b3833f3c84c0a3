#!/usr/bin/env python3
"""Every AWS call the code makes is an action its role's guard rule requires.

    role_calls.py REPO_DIR

infra/guard/roles.guard lists, per role, the actions the role must allow (`some
%<role>_actions == 'service:Action'`); cfn-guard checks the template against them. This
checks the other side: the calls. It finds

- the SDK operations the Rust code calls (`client.operation_name()` in a file that imports
  `aws_sdk_<service>`): controller/src/** for ControllerRole, service/src/** for ServiceRole;
- the AWS CLI calls in the user data of each launch template in infra/fleet.yaml
  (`aws <service> <verb>` in the controller's and the fleet's boot scripts),

and fails naming each call whose action the role's rule does not require, and each
required action that nothing calls (unless IMPLICIT names who calls it: docker pulls,
docker's awslogs driver, Secrets Manager's own KMS call, the scaling-policy reconcile).
Prints the calls it found. Exit status 1 on a miss, 2 on a usage error.
"""

import pathlib
import re
import sys

SDK_PREFIX = {
    "autoscaling": "autoscaling",
    "cloudwatch": "cloudwatch",
    "cloudwatchlogs": "logs",
    "dynamodb": "dynamodb",
}
CLI_PREFIX = {"ssm": "ssm", "secretsmanager": "secretsmanager", "ecr": "ecr",
              "route53": "route53", "autoscaling": "autoscaling"}
# CLI verbs whose IAM action is not the verb in PascalCase.
CLI_ACTION = {"ecr get-login-password": "ecr:GetAuthorizationToken"}


# Required actions no scanned line calls, and who calls them.
IMPLICIT = {
    "ecr:BatchGetImage": "docker pull",
    "ecr:GetDownloadUrlForLayer": "docker pull",
    "ecr:BatchCheckLayerAvailability": "docker pull",
    "logs:CreateLogStream": "docker's awslogs log driver",
    "logs:PutLogEvents": "docker's awslogs log driver",
    "kms:Decrypt": "Secrets Manager, decrypting the report key for GetSecretValue",
    "autoscaling:DescribeScalingActivities": "the scaling-policy reconcile",
    "autoscaling:PutScalingPolicy": "the scaling-policy reconcile",
    "autoscaling:DeletePolicy": "the scaling-policy reconcile",
    "autoscaling:DescribePolicies": "the scaling-policy reconcile",
    "cloudwatch:PutMetricAlarm": "the scaling-policy reconcile",
    "cloudwatch:DeleteAlarms": "the scaling-policy reconcile",
    "cloudwatch:DescribeAlarms": "the scaling-policy reconcile",
    "cloudwatch:DescribeAlarmHistory": "the scaling-policy reconcile",
}


def pascal(words, sep):
    return "".join(w.capitalize() for w in words.split(sep))


def required(guard_text, role_var):
    return set(re.findall(rf"some %{role_var}_actions == '([^']+)'", guard_text))


def sdk_calls(src_dir):
    calls = set()
    for path in sorted(pathlib.Path(src_dir).rglob("*.rs")):
        text = path.read_text(encoding="utf-8")
        for crate in re.findall(r"\baws_sdk_(\w+)::", text):
            if crate not in SDK_PREFIX:
                continue
            # client.op() / self.client.op() / .client\n.op(), builders excluded
            for op in re.findall(r"\bclient\s*\.\s*([a-z][a-z0-9_]*)\s*\(\s*\)", text):
                if op in ("clone", "config"):
                    continue
                calls.add((f"{SDK_PREFIX[crate]}:{pascal(op, '_')}", str(path)))
    return calls


def userdata_cli_calls(template):
    """(role, action, where) for each `aws <service> <verb>` in each launch template's user data."""
    text = pathlib.Path(template).read_text(encoding="utf-8")
    out = set()
    for name, role in (("ControllerLaunchTemplate", "ControllerRole"), ("LaunchTemplate", "ServiceRole")):
        m = re.search(rf"^  {name}:\n(.*?)(?=^  \S)", text, re.M | re.S)
        if not m:
            sys.exit(f"{template}: no {name}")
        for svc, verb in re.findall(r"\baws ([a-z0-9]+) ([a-z][a-z-]*)", m.group(1)):
            if svc not in CLI_PREFIX:
                continue
            key = f"{svc} {verb}"
            action = CLI_ACTION.get(key, f"{CLI_PREFIX[svc]}:{pascal(verb, '-')}")
            out.add((role, action, f"{name} user data: aws {key}"))
    return out


def main(repo):
    root = pathlib.Path(repo)
    guard = (root / "infra/guard/roles.guard").read_text(encoding="utf-8")
    roles = {"ControllerRole": required(guard, "controller"), "ServiceRole": required(guard, "service")}
    if not all(roles.values()):
        sys.exit(2)
    found = [("ControllerRole", a, w) for a, w in sdk_calls(root / "controller/src")]
    found += [("ServiceRole", a, w) for a, w in sdk_calls(root / "service/src")]
    found += sorted(userdata_cli_calls(root / "infra/fleet.yaml"))
    missing = []
    for role, action, where in sorted(set(found)):
        ok = action in roles[role]
        print(f"{'ok  ' if ok else 'MISS'} {role:15} {action:45} {where}")
        if not ok:
            missing.append((role, action, where))
    for role, wanted in roles.items():
        called = {a for r, a, _ in found if r == role}
        for action in sorted(wanted - called):
            if action in IMPLICIT:
                print(f"ok   {role:15} {action:45} (called by {IMPLICIT[action]})")
            else:
                missing.append((role, action, None))
    for role, action, where in missing:
        if where is None:
            print(f"error: {role}'s rule requires {action}, which nothing calls: drop it from the role and the rule",
                  file=sys.stderr)
            continue
        print(f"error: {where} calls {action}, which {role}'s rule in infra/guard/roles.guard does not require",
              file=sys.stderr)
    sdk = {a for r, a, _ in found if r == "ControllerRole" and a.startswith("autoscaling:")}
    if "autoscaling:SetDesiredCapacity" not in sdk or "dynamodb:UpdateItem" not in {a for _, a, _ in found}:
        print("error: the scan found no SetDesiredCapacity or UpdateItem call: the patterns are stale", file=sys.stderr)
        return 1
    return 1 if missing else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
