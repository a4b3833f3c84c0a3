#!/usr/bin/env python3
"""Every checkov skip in the given files carries its reason (at least a short sentence).

Templates: `Metadata: checkov: skip: - id: CKV_... / comment: ...`.
Dockerfiles: `# checkov:skip=CKV_...: reason`.
"""

import re
import sys

bad, count = [], 0
for path in sys.argv[1:]:
    text = open(path, encoding="utf-8").read()
    for m in re.finditer(r"- id: (CKV\w+)\n(\s+comment: (.*))?", text):
        count += 1
        if not m.group(3) or len(m.group(3).strip()) < 20:
            bad.append(f"{path}: {m.group(1)}")
    for m in re.finditer(r"checkov:skip=(CKV\w+):?(.*)", text):
        count += 1
        if len(m.group(2).strip()) < 20:
            bad.append(f"{path}: {m.group(1)}")
if bad:
    sys.exit(f"checkov skips without a reason: {bad}")
print(f"{count} skips, each with its reason")
