#!/usr/bin/python
"""Module onprem.k8snet.arp_probe: who answers ARP for these addresses on this NIC."""

from __future__ import annotations

DOCUMENTATION = r"""
module: arp_probe
author: k8snet maintainers
version_added: 0.1.0
short_description: Send ARP requests for many addresses on one NIC and report who answers
description:
  - Sends one broadcast ARP request per target from the NIC (a raw packet socket, one process),
    waits O(timeout) seconds for replies, and asks again once for the silent ones.
  - Used to prove MetalLB L2 pool addresses are free (any answer means the address is in use) and,
    for flannel's host-gw backend, that every peer is on the same L2 segment.
  - Read-only; runs the same in check mode. A /24 takes about O(rounds) x O(timeout) seconds.
options:
  dev:
    description: The NIC to probe on.
    type: str
    required: true
  targets:
    description: IPv4 addresses to ask for.
    type: list
    elements: str
    required: true
  source:
    description: Sender address in the requests; default the first IPv4 address of O(dev).
    type: str
  timeout:
    description: Seconds to wait for replies after each round of requests.
    type: float
    default: 1.0
  rounds:
    description: How many times a silent address is asked.
    type: int
    default: 2
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
notes:
  - Needs root (raw sockets). IPv6 addresses are not probed (that would be NDP).
"""

EXAMPLES = r"""
- name: Prove the pool is free on the wire
  onprem.k8snet.arp_probe:
    dev: eth1
    targets: [192.168.56.240, 192.168.56.241]
"""

RETURN = r"""
answers:
  description: Address to the MAC that answered.
  returned: always
  type: dict
duration:
  description: Seconds the sweep took.
  returned: always
  type: float
"""

import json
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.onprem.k8snet.plugins.module_utils.probe_host import arp_sweep


def first_ipv4(module, dev):
    rc, out, err = module.run_command(["ip", "-j", "-4", "addr", "show", "dev", dev])
    if rc != 0:
        module.fail_json(msg=f"no interface {dev}: {err.strip()}")
    for link in json.loads(out or "[]"):
        for info in link.get("addr_info", []):
            return info["local"]
    module.fail_json(msg=f"{dev} has no IPv4 address to send ARP requests from")


def main():
    module = AnsibleModule(
        argument_spec={
            "dev": {"type": "str", "required": True},
            "targets": {"type": "list", "elements": "str", "required": True},
            "source": {"type": "str"},
            "timeout": {"type": "float", "default": 1.0},
            "rounds": {"type": "int", "default": 2},
        },
        supports_check_mode=True,
    )
    p = module.params
    source = p["source"] or first_ipv4(module, p["dev"])
    start = time.monotonic()
    try:
        answers = arp_sweep(p["dev"], source, p["targets"], p["timeout"], p["rounds"]) if p["targets"] else {}
    except OSError as exc:
        module.fail_json(msg=f"ARP probe on {p['dev']} failed: {exc}")
    module.exit_json(changed=False, answers=answers, duration=round(time.monotonic() - start, 3))


if __name__ == "__main__":
    main()
