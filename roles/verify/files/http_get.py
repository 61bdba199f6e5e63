#!/usr/bin/env python3
"""One HTTP GET from outside the cluster: prints the status and the first line of the body.

    http_get.py URL [HOST_HEADER]     (exit 0 when the server answered, whatever the status)
"""

import sys
import urllib.error
import urllib.request


def main() -> int:
    url = sys.argv[1]
    try:
        request = urllib.request.Request(url, headers={"Host": sys.argv[2]} if len(sys.argv) > 2 else {})
        with urllib.request.urlopen(request, timeout=5) as answer:
            status, body = answer.status, answer.read(200)
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read(200)
    except (OSError, ValueError) as e:               # ValueError: no address to ask
        print(f"no answer: {e}", file=sys.stderr)
        return 1
    print(status, body.decode(errors="replace").splitlines()[0] if body else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
