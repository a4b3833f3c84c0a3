#!/usr/bin/env python3
"""Lint the shell scripts embedded in the fleet template's user data.

    userdata.py TEMPLATE OUT_DIR [ROOT]

Finds every `UserData: Fn::Base64: !Sub - |` block, substitutes the ${...} references the
way Fn::Sub would (with stand-in values), and writes the boot script plus every script it
installs under /usr/local/bin (its quoted heredocs) into OUT_DIR, one file each, for
`bash -n` and shellcheck, and every env file it writes under /etc/hellofleet as
userdataN-NAME.env. With ROOT, paths under /etc/hellofleet/ (and /var/lib/hellofleet) move under ROOT, so
a test can run the scripts with stand-in commands. Prints the file names.
"""

import os
import re
import sys


def blocks(text):
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() != "UserData:":
            continue
        # the literal block after the next "- |" line
        j = i + 1
        while j < len(lines) and lines[j].strip() != "- |":
            j += 1
        indent = len(lines[j]) - len(lines[j].lstrip()) + 2
        body = []
        for k in range(j + 1, len(lines)):
            if lines[k].strip() and len(lines[k]) - len(lines[k].lstrip()) < indent:
                break
            body.append(lines[k][indent:])
        yield "\n".join(body).rstrip() + "\n"


def substitute(script, root):
    if root:
        for d in ("/etc/hellofleet/", "/var/lib/hellofleet"):
            script = script.replace(d, root.rstrip("/") + d)
    script = re.sub(r"\$\{AWS::Region\}", "eu-west-1", script)
    script = re.sub(r"\$\{!([^}]+)\}", r"${\1}", script)  # ${!x} is a literal ${x}
    return re.sub(r"\$\{([A-Za-z0-9:.]+)\}", lambda m: "stand-in-" + m.group(1).replace(":", "-").replace(".", "-"), script)


def main(template, out, root=""):
    os.makedirs(out, exist_ok=True)
    found = []
    for n, block in enumerate(blocks(open(template, encoding="utf-8").read())):
        script = substitute(block, root)
        if script.startswith("#cloud-boothook\n"):
            script = script[len("#cloud-boothook\n"):]
        path = os.path.join(out, f"userdata{n}.sh")
        open(path, "w", encoding="utf-8").write(script)
        found.append(path)
        for m in re.finditer(r"cat > /usr/local/bin/([\w-]+) <<'EOF'\n(.*?)\nEOF\n", script, re.S):
            inner = os.path.join(out, f"userdata{n}-{m.group(1)}.sh")
            open(inner, "w", encoding="utf-8").write(m.group(2) + "\n")
            found.append(inner)
        for m in re.finditer(r"cat > \S*/etc/hellofleet/([\w-]+)\.env <<EOF\n(.*?)\nEOF\n", script, re.S):
            env = os.path.join(out, f"userdata{n}-{m.group(1)}.env")
            open(env, "w", encoding="utf-8").write(m.group(2) + "\n")
            found.append(env)
    if not found:
        sys.exit("no UserData found")
    print("\n".join(found))


if __name__ == "__main__":
    main(*sys.argv[1:4])
