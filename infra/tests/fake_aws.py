#!/usr/bin/env python3
"""A stand-in `aws` CLI for infra/tests/run.sh: answers by rules and logs every call.

FAKE_AWS_DIR holds rules.json, a list of {"match": REGEX, "out": TEXT, "err": TEXT,
"rc": N, "times": N}. The joined arguments are matched top to bottom; the first rule that
matches (and has not used up its "times") answers. Every call is appended to
FAKE_AWS_DIR/calls. A call no rule matches fails with exit 255, like an AWS error.
"""

import json
import os
import re
import sys

d = os.environ["FAKE_AWS_DIR"]
line = " ".join(sys.argv[1:])
with open(os.path.join(d, "calls"), "a", encoding="utf-8") as f:
    f.write(line + "\n")
with open(os.path.join(d, "rules.json"), encoding="utf-8") as f:
    rules = json.load(f)
used_path = os.path.join(d, "used.json")
used = json.load(open(used_path, encoding="utf-8")) if os.path.exists(used_path) else {}
for i, rule in enumerate(rules):
    if not re.search(rule["match"], line):
        continue
    if "times" in rule and used.get(str(i), 0) >= rule["times"]:
        continue
    used[str(i)] = used.get(str(i), 0) + 1
    with open(used_path, "w", encoding="utf-8") as f:
        json.dump(used, f)
    sys.stdout.write(rule.get("out", ""))
    sys.stderr.write(rule.get("err", ""))
    sys.exit(rule.get("rc", 0))
sys.stderr.write(f"fake aws: no rule for: {line}\n")
sys.exit(255)
