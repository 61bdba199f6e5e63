#!/usr/bin/python
"""Module onprem.k8snet.vxlan_probe: prove VXLAN between nodes with real packets before flannel runs."""

from __future__ import annotations

DOCUMENTATION = r"""
module: vxlan_probe
author: k8snet maintainers
version_added: 0.1.0
short_description: Prove that VXLAN packets of the pod MTU cross the underlay between nodes
description:
  - With O(state=present), creates a temporary VXLAN device (flannel's UDP port and the VNI next to flannel's, on the
    chosen NIC and address) with a probe address from 198.18.0.0/15 (RFC 2544, never routed), and
    flood entries towards the peers it will probe. The device copies the inner don't-fragment bit to
    the outer header (C(df inherit)), so a full-size probe is never fragmented on the underlay.
    Where the host's nftables input chain drops by default (or firewalld runs), the UDP port is
    opened at runtime only, tagged C(k8snet-probe:).
  - With O(state=probe), pings every target with the don't-fragment bit at the target's size (the pod
    MTU) and with small packets, all at once, bounded to a few seconds; returns raw results.
  - With O(state=absent), removes the device and the temporary openings. Run it in an C(always) block.
  - Where flannel already runs at either end (day 2, or a flannel someone else installed) the plan gives
    targets on the underlay instead (the planned NICs' path at full frame size, don't-fragment) and
    O(create_device=false), because a second device on the port of flannel would fail; the running
    overlay itself is not probed (it may be the one this run replaces).
  - The temporary device and openings exist only between present and absent; the module reports
    C(changed=false) because it leaves no configuration behind, and it runs the same in check mode
    (probing is observation).
options:
  state:
    description: What to do.
    type: str
    choices: [present, probe, absent]
    required: true
  device:
    description: Name of the temporary device.
    type: str
    default: k8snprobe0
  create_device:
    description: Create the temporary device (false where flannel already runs on this host).
    type: bool
    default: true
  vni:
    description:
      - VXLAN network identifier of the probe device, given by the plan (the one after flannel's VNI).
      - Never flannel's own, since flannel's device may appear while the probe runs; another VNI shares the port.
    type: int
  port:
    description: VXLAN UDP port (the plan's flannel port).
    type: int
  local:
    description: Underlay address of this node (the chosen NIC's address).
    type: str
  dev:
    description: The chosen NIC.
    type: str
  address:
    description: Probe address of this node with prefix, e.g. C(198.18.0.1/15).
    type: str
  mtu:
    description: MTU of the temporary device (the pod MTU of this node).
    type: int
  targets:
    description:
      - What to ping, as given by the plan (C(plan.probes.vxlan[host].targets)).
      - Each is C({peer, kind, address, size, underlay}); C(kind) is C(device) or C(underlay).
    type: list
    elements: dict
    default: []
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
requirements:
  - iproute2 (C(ip), C(bridge)) and iputils C(ping) on the host
"""

EXAMPLES = r"""
- name: Create the temporary VXLAN device
  onprem.k8snet.vxlan_probe:
    state: present
    vni: 2
    port: 8472
    local: 192.168.56.11
    dev: eth1
    address: 198.18.0.1/15
    mtu: 1450
    targets: [{peer: node2, kind: device, address: 198.18.0.2, size: 1450, underlay: 192.168.56.12}]
"""

RETURN = r"""
results:
  description: Per target, C({peer, kind, address, size, large, small, same_address}).
  returned: state=probe
  type: list
  elements: dict
removed:
  description: What teardown removed.
  returned: state=absent
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.onprem.k8snet.plugins.module_utils.probe_host import (
    close_temporary,
    open_temporarily,
    ping_command,
    run_parallel,
)


def link_exists(module, name):
    return module.run_command(["ip", "link", "show", "dev", name])[0] == 0


def present(module):
    p = module.params
    if link_exists(module, p["device"]):
        module.run_command(["ip", "link", "del", p["device"]], check_rc=True)
    if p["create_device"]:
        for required in ("vni", "port", "local", "dev", "address", "mtu"):
            if p[required] is None:
                module.fail_json(msg=f"{required} is required to create the probe device")
        module.run_command(["ip", "link", "add", p["device"], "type", "vxlan", "id", str(p["vni"]),
                            "dstport", str(p["port"]), "local", p["local"], "dev", p["dev"],
                            # The outer header copies the inner don't-fragment bit: a full-size probe that a
                            # smaller MTU on the path cannot carry is lost, not fragmented on the way.
                            "df", "inherit"], check_rc=True)
        module.run_command(["ip", "addr", "add", p["address"], "dev", p["device"]], check_rc=True)
        module.run_command(["ip", "link", "set", p["device"], "mtu", str(p["mtu"]), "up"], check_rc=True)
        for target in p["targets"]:
            if target["kind"] == "device" and target["underlay"] != p["local"]:
                module.run_command(["bridge", "fdb", "append", "00:00:00:00:00:00", "dev", p["device"],
                                    "dst", target["underlay"]], check_rc=True)
        opened = open_temporarily(module, [{"protocol": "udp", "port": str(p["port"]), "why": "vxlan probe"}])
    else:
        opened = []
    module.exit_json(changed=False, opened=opened)


def probe(module):
    p = module.params
    commands = {}
    for i, t in enumerate(p["targets"]):
        if t.get("underlay") == p["local"]:
            continue
        dev = p["device"] if t["kind"] == "device" else (p["dev"] if t["kind"] == "underlay" else None)
        commands[(i, "large")] = ping_command(t["address"], t["size"], dev, dont_fragment=True)
        commands[(i, "small")] = ping_command(t["address"], None, dev, dont_fragment=False)
    outcome = run_parallel(commands)
    results = []
    for i, t in enumerate(p["targets"]):
        same = t.get("underlay") == p["local"]
        results.append({**t, "same_address": same,
                        "large": not same and outcome[(i, "large")][0] == 0,
                        "small": not same and outcome[(i, "small")][0] == 0})
    module.exit_json(changed=False, results=results)


def absent(module):
    removed = []
    if link_exists(module, module.params["device"]):
        module.run_command(["ip", "link", "del", module.params["device"]], check_rc=True)
        removed.append(module.params["device"])
    removed += close_temporary(module)
    module.exit_json(changed=False, removed=removed)


def main():
    module = AnsibleModule(
        argument_spec={
            "state": {"type": "str", "choices": ["present", "probe", "absent"], "required": True},
            "device": {"type": "str", "default": "k8snprobe0"},
            "create_device": {"type": "bool", "default": True},
            "vni": {"type": "int"},
            "port": {"type": "int"},
            "local": {"type": "str"},
            "dev": {"type": "str"},
            "address": {"type": "str"},
            "mtu": {"type": "int"},
            "targets": {"type": "list", "elements": "dict", "default": []},
        },
        supports_check_mode=True,
    )
    {"present": present, "probe": probe, "absent": absent}[module.params["state"]](module)


if __name__ == "__main__":
    main()
