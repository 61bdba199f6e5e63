#!/usr/bin/env python3
"""Every plugin of the collection renders with ansible-doc, under its own name.

What `ansible-doc -l` lists per plugin type is the list checked (not the file names), and each entry
must be documented as itself: a filter file that defines two filters documents only one of them, so
`ansible-doc` would print the other's documentation under the wrong name. Every file in the plugin
directory must show up in the list (one plugin per file). Exit 1 naming each problem.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLLECTION = "onprem.k8snet"
TYPES = {"module": "modules", "filter": "filter", "lookup": "lookup"}


def ansible_doc(*args: str) -> dict:
    done = subprocess.run([str(Path(sys.executable).parent / "ansible-doc"), "--json", *args],
                          check=False, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"ansible-doc {' '.join(args)} failed: {done.stderr.strip()}")
    return json.loads(done.stdout)


def problems() -> list[str]:
    found = []
    for plugin_type, directory in TYPES.items():
        listed = sorted(ansible_doc("-t", plugin_type, "-l", COLLECTION))
        files = sorted(f"{COLLECTION}.{p.stem}" for p in (ROOT / "plugins" / directory).glob("*.py")
                       if p.stem != "__init__")
        found += [f"{plugin_type} {f}: the file is not listed by ansible-doc -l" for f in files if f not in listed]
        for name in listed:
            doc = ansible_doc("-t", plugin_type, name).get(name, {}).get("doc") or {}
            documented = doc.get("module") or doc.get("name")
            if documented != name.rsplit(".", 1)[1]:
                found.append(f"{plugin_type} {name}: ansible-doc prints the documentation of {documented!r}")
            if not doc.get("short_description"):
                found.append(f"{plugin_type} {name}: no short_description")
    return found


def main() -> int:
    found = problems()
    for line in found:
        print(line, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
