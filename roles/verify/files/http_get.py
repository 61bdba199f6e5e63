#!/usr/bin/env python3
"""HTTP GETs from outside the cluster: for each, the status and the first line of the body.

    http_get.py URL [HOST_HEADER]     one GET (exit 0 when the server answered, whatever the status)
    http_get.py --batch JSON          the GETs of a JSON list of {url, host?}, each framed as one check of
                                      roles/verify/files/batch_checks.sh ("@@k8snet-check <index> <rc>", its
                                      stdout, "@@k8snet-stderr", its stderr), which module_utils/verify.py splits
"""

import json
import sys
import urllib.error
import urllib.request


def get(url: str, host: str | None) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of one GET."""
    try:
        request = urllib.request.Request(url, headers={"Host": host} if host else {})
        with urllib.request.urlopen(request, timeout=5) as answer:
            status, body = answer.status, answer.read(200)
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read(200)
    except (OSError, ValueError) as e:               # ValueError: no address to ask
        return 1, "", f"no answer: {e}"
    return 0, f"{status} {body.decode(errors='replace').splitlines()[0] if body else ''}", ""


def main() -> int:
    if sys.argv[1] == "--batch":
        for index, check in enumerate(json.loads(sys.argv[2])):
            rc, out, err = get(check["url"], check.get("host"))
            print(f"@@k8snet-check {index} {rc}\n{out}\n@@k8snet-stderr\n{err}")
        return 0
    rc, out, err = get(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
    print(out) if rc == 0 else print(err, file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
