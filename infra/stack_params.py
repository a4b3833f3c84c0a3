#!/usr/bin/env python3
"""Render the fleet stack's parameters from the controller config (the one source).

    stack_params.py CONFIG.toml REGION [--keep Key,...] [Key=Value ...]  > params.json

Reads the controller's TOML config, checks what the stack relies on, and prints the
CloudFormation parameters file (a JSON list of ParameterKey/ParameterValue) with:

- GroupName, MinSize, MaxSize                       <- [group]
- ScaleOutMetric, ScaleOutThreshold, ScaleInThreshold <- [policies.*.alarm]
- InstanceWarmup                                      <- policies.scale_out.estimated_instance_warmup_secs
- MetricNamespace                                     <- metrics.namespace
- ControllerPort                                      <- api.listen
- ControllerConfig                                    <- the file itself, full-line comments dropped
- ConfigDigest                                        <- its sha256 (a change restarts the controller host)

plus every extra Key=Value given (image tag, admin CIDR, the pinned AMI id ImageId, ...).
Each key named by --keep that no Key=Value gives is rendered as {"ParameterKey": K,
"UsePreviousValue": true}: on a stack update the optional settings (CertificateArn,
HostedZoneId, DomainName, AlertEmail) keep what the stack has unless given, so a run
that does not name them never deletes a TLS listener or a DNS record. (Not for a create:
there is no previous value.) ImageId must be an AMI id (ami-...), resolved once per deploy.

The config's [lease] table must be "<group.name>-lease", the table the stack creates.
Exit status 2 with a message naming the field when the config cannot back a deployment.
Needs Python >= 3.11 (tomllib).
"""

import hashlib
import json
import math
import re
import sys
import tomllib

SSM_STANDARD_LIMIT = 4096


class ConfigError(Exception):
    pass


def field(doc, dotted, default=None, required=True):
    node = doc
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            if required:
                raise ConfigError(f"{dotted}: missing (the stack needs it)")
            return default
        node = node[part]
    return node


def number(doc, dotted):
    value = field(doc, dotted)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{dotted}: {value!r} is not a number")
    return value


def fmt(value):
    """Numbers as CloudFormation expects them: no trailing .0."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def stripped(text):
    return "\n".join(
        line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ) + "\n"


def derive(text, region):
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"not valid TOML: {e}") from e
    provider = field(doc, "provider", "local", required=False)
    if provider != "aws":
        raise ConfigError(f"provider: {provider!r}, the stack runs the controller with \"aws\"")
    cfg_region = field(doc, "aws.region", None, required=False)
    if cfg_region is not None and cfg_region != region:
        raise ConfigError(f"aws.region: {cfg_region!r} differs from the deploy region {region!r}")
    if field(doc, "metrics.publish", True, required=False) is False:
        raise ConfigError("metrics.publish: false, but the stack's alarms watch the published metrics")

    name = field(doc, "group.name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,62}", name):
        raise ConfigError(f"group.name: {name!r} must be letters, digits and '-' (at most 63)")
    lo, hi = number(doc, "group.min_size"), number(doc, "group.max_size")
    if field(doc, "group.desired_capacity", None, required=False) is not None:
        raise ConfigError(
            "group.desired_capacity: leave it out on AWS: the controller would reset the group "
            "to it at every restart, and every deploy restarts it (the group starts at min_size)"
        )
    if not (0 <= lo <= hi) or hi < 1:
        raise ConfigError(f"group: need 0 <= min_size ({lo}) <= max_size ({hi}) and max_size >= 1")

    out_threshold = number(doc, "policies.scale_out.alarm.threshold")
    in_threshold = number(doc, "policies.scale_in.alarm.threshold")
    if in_threshold >= out_threshold:
        raise ConfigError(
            f"policies.scale_in.alarm.threshold: {in_threshold} must be below the scale-out threshold {out_threshold}"
        )
    metric = field(doc, "policies.scale_out.alarm.metric")
    warmup = number(doc, "policies.scale_out.estimated_instance_warmup_secs")

    namespace = field(doc, "metrics.namespace", "HelloFleet", required=False)
    if not isinstance(namespace, str) or not namespace or namespace.startswith("AWS/"):
        raise ConfigError(f"metrics.namespace: {namespace!r} must be a non-empty custom namespace")

    listen = field(doc, "api.listen")
    m = re.fullmatch(r"0\.0\.0\.0:(\d{1,5})", str(listen))
    if not m:
        raise ConfigError(f"api.listen: {listen!r} must be \"0.0.0.0:PORT\" so the NLB and instances reach it")

    table = field(doc, "lease.table")
    if table != f"{name}-lease":
        raise ConfigError(f"lease.table: {table!r}, the stack's lease table is {name + '-lease'!r}")
    lease_key = field(doc, "lease.key", name, required=False)
    if lease_key != name:
        raise ConfigError(f"lease.key: {lease_key!r}, leave it out (the group's name) so a replaced controller uses the same lease")

    config = stripped(text)
    if len(config.encode()) > SSM_STANDARD_LIMIT:
        raise ConfigError(f"the config is {len(config.encode())} bytes without comments; the limit is {SSM_STANDARD_LIMIT}")

    return {
        "GroupName": name,
        "MinSize": fmt(lo),
        "MaxSize": fmt(hi),
        "ScaleOutMetric": str(metric),
        "ScaleOutThreshold": fmt(out_threshold),
        "ScaleInThreshold": fmt(in_threshold),
        "InstanceWarmup": str(max(0, math.ceil(warmup))),
        "MetricNamespace": namespace,
        "ControllerPort": m.group(1),
        "ControllerConfig": config,
        "ConfigDigest": hashlib.sha256(config.encode()).hexdigest(),
    }


def main(argv):
    if len(argv) < 3 or argv[1] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    path, region, extras = argv[1], argv[2], argv[3:]
    keep = []
    if extras[:1] == ["--keep"]:
        if len(extras) < 2 or not extras[1]:
            print("error: --keep needs a comma-separated list of parameter keys", file=sys.stderr)
            return 2
        keep = [k for k in extras[1].split(",") if k]
        extras = extras[2:]
    try:
        with open(path, encoding="utf-8") as f:
            params = derive(f.read(), region)
    except OSError as e:
        print(f"error: cannot read the controller config {path}: {e.strerror}", file=sys.stderr)
        return 2
    except ConfigError as e:
        print(f"error: {path}: {e}", file=sys.stderr)
        return 2
    for extra in extras:
        key, sep, value = extra.partition("=")
        if not sep or not key:
            print(f"error: extra parameter {extra!r} is not Key=Value", file=sys.stderr)
            return 2
        params[key] = value
    image_id = params.get("ImageId")
    if image_id is not None and not re.fullmatch(r"ami-[0-9a-f]{8,17}", image_id):
        print(f"error: ImageId {image_id!r} is not an AMI id (ami-...): resolve the SSM parameter first", file=sys.stderr)
        return 2
    rendered = [{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()]
    rendered += [{"ParameterKey": k, "UsePreviousValue": True} for k in keep if k not in params]
    json.dump(sorted(rendered, key=lambda p: p["ParameterKey"]), sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
