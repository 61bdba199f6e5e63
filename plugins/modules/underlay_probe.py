#!/usr/bin/python
"""Module onprem.k8snet.underlay_probe: prove the underlay between nodes with real packets before anything runs."""

from __future__ import annotations

DOCUMENTATION = r"""
module: underlay_probe
author: k8snet maintainers
version_added: 0.1.0
short_description: Prove with real packets that the nodes' underlay carries what the plan needs
description:
  - Runs this node's share of the probes the network plan lists (C(plan.probes.<kind>[host])), in three
    steps that a play runs on every node at once; each option takes the plan's entry for this host as it is, or
    nothing when the plan has none.
  - With O(state=present), creates what the probes need on this node and opens its ports for the run. For
    O(vxlan), a temporary VXLAN device (flannel's UDP port and the VNI next to flannel's, on the chosen NIC and
    address) with a probe address from 198.18.0.0/15 (RFC 2544, never routed) and flood entries towards the
    peers; it copies the inner don't-fragment bit to the outer header (C(df inherit)), so a full-size probe is
    never fragmented on the underlay. For O(ports), a detached process that binds the ports, accepts TCP
    connections and echoes UDP datagrams, and exits by itself after O(lifetime) seconds; ports already in use
    are reported as C(busy). Where the host's nftables input chain drops by default (or firewalld runs), the
    ports are opened at runtime only, tagged C(k8snet-probe:).
  - With O(state=probe), sends every probe at once and returns the raw results. VXLAN pings every target with
    the don't-fragment bit at the target's size (the pod MTU) and with small packets; ARP asks every peer's
    address on the chosen NIC (host-gw needs one L2 segment); ports connects (TCP) or sends a nonce and waits
    for its echo (UDP); pools sends an ARP request for every MetalLB L2 pool address (any answer means the
    address is in use). Each probe bounds its own time (a few seconds).
  - With O(state=absent), removes the device, stops the listener and removes the temporary openings. Run it in
    an C(always) block.
  - Where flannel already runs at either end (day 2, or a flannel someone else installed) the plan gives VXLAN
    targets on the underlay instead (the planned NICs' path at full frame size, don't-fragment) and
    C(create_device=false), because a second device on flannel's port would fail; the running overlay itself
    is not probed (it may be the one this run replaces).
  - Leaves no configuration behind, so it reports C(changed=false); it runs the same in check mode (probing is
    observation).
options:
  state:
    description: What to do.
    type: str
    choices: [present, probe, absent]
    required: true
  vxlan:
    description: The plan's VXLAN probe for this host (C(plan.probes.vxlan[host])).
    type: dict
    suboptions:
      create_device:
        description: Create the temporary device (false where flannel already runs on this host).
        type: bool
        default: true
      device:
        description: Name of the temporary device.
        type: str
        default: k8snprobe0
      vni:
        description:
          - VXLAN network identifier of the probe device (the one after flannel's VNI).
          - Never flannel's own, since flannel's device may appear while the probe runs; another VNI shares the
            port.
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
          - What to ping, each C({peer, kind, address, size, underlay}); C(kind) is C(device) or C(underlay).
        type: list
        elements: dict
        default: []
  arp:
    description: The plan's ARP adjacency probe for this host (C(plan.probes.arp[host]); host-gw only).
    type: dict
    suboptions:
      dev:
        description: The chosen NIC, which the requests leave from (sent from its first IPv4 address).
        type: str
        required: true
      targets:
        description: The peers, each C({peer, address}).
        type: list
        elements: dict
        required: true
  ports:
    description: The plan's port probe for this host (C(plan.probes.ports[host])).
    type: dict
    suboptions:
      listen:
        description: Ports to listen on, as C({protocol, port, why}).
        type: list
        elements: dict
        default: []
      targets:
        description: Ports to reach, as C({peer, address, protocol, port, why}).
        type: list
        elements: dict
        default: []
  pools:
    description: The plan's MetalLB pool sweep from this host (C(plan.probes.pools[host])).
    type: dict
    suboptions:
      dev:
        description: The NIC on the pools' segment, which the requests leave from.
        type: str
        required: true
      addresses:
        description: The IPv4 addresses to ask for.
        type: list
        elements: str
        required: true
      pools:
        description: The pool each address belongs to (read by the diagnosis, not here).
        type: dict
        default: {}
      truncated:
        description: How many addresses the plan left out (read by the diagnosis, not here).
        type: int
        default: 0
  busy:
    description:
      - With O(state=probe), per peer the C(protocol/port) its listener could not bind (UDP to those is skipped).
    type: dict
    default: {}
  lifetime:
    description: Seconds the listener lives at most, should O(state=absent) never come.
    type: int
    default: 120
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
requirements:
  - iproute2 (C(ip), C(bridge)) and iputils C(ping) on the host; root (raw sockets for ARP)
notes:
  - IPv6 addresses are not ARP-probed (that would be NDP).
"""

EXAMPLES = r"""
- name: Set up the probe device and the listeners
  onprem.k8snet.underlay_probe:
    state: present
    vxlan: "{{ network_plan_result.plan.probes.vxlan[inventory_hostname] | default(None) }}"
    ports: "{{ network_plan_result.plan.probes.ports[inventory_hostname] | default(None) }}"
  register: setup

- name: Send every probe at once
  onprem.k8snet.underlay_probe:
    state: probe
    vxlan:
      local: 192.168.56.11
      dev: eth1
      targets: [{peer: node2, kind: device, address: 198.18.0.2, size: 1450, underlay: 192.168.56.12}]
    pools: {dev: eth1, addresses: [192.168.56.240, 192.168.56.241]}

- name: Leave nothing behind
  onprem.k8snet.underlay_probe:
    state: absent
"""

RETURN = r"""
opened:
  description: The temporary firewall openings made for the run.
  returned: state=present
  type: list
  elements: str
busy:
  description: Ports this node could not bind, as C(protocol/port).
  returned: state=present
  type: list
  elements: str
pid:
  description: The listener's process ID (none when nothing was bound).
  returned: state=present
  type: int
vxlan:
  description: Per target, C({peer, kind, address, size, large, small, same_address}); none without O(vxlan).
  returned: state=probe
  type: list
  elements: dict
arp:
  description: C({answers, duration}), the MAC that answered per address and the seconds taken; none without O(arp).
  returned: state=probe
  type: dict
ports:
  description: Per target the target plus C(ok) (and C(error) or C(skipped)); none without O(ports).
  returned: state=probe
  type: list
  elements: dict
pools:
  description: C({answers, duration}) as for O(arp); none without O(pools).
  returned: state=probe
  type: dict
removed:
  description: The device and the openings teardown removed.
  returned: state=absent
  type: list
  elements: str
stopped:
  description: Whether a listener of this module was running and was stopped.
  returned: state=absent
  type: bool
"""

import json
import time
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.onprem.k8snet.plugins.module_utils.probe_host import (
    arp_sweep,
    bind_listeners,
    check_port,
    close_temporary,
    daemonize,
    open_temporarily,
    ping_command,
    run_parallel,
    stop_listeners,
)

DEVICE = "k8snprobe0"


def link_exists(module, name):
    return module.run_command(["ip", "link", "show", "dev", name])[0] == 0


def vxlan_device(module, vxlan) -> list[dict]:
    """(Re)create the probe device; the opening it needs."""
    if link_exists(module, vxlan["device"]):
        module.run_command(["ip", "link", "del", vxlan["device"]], check_rc=True)
    if not vxlan["create_device"]:
        return []
    for required in ("vni", "port", "local", "dev", "address", "mtu"):
        if vxlan[required] is None:
            module.fail_json(msg=f"vxlan.{required} is required to create the probe device")
    device = vxlan["device"]
    module.run_command(["ip", "link", "add", device, "type", "vxlan", "id", str(vxlan["vni"]),
                        "dstport", str(vxlan["port"]), "local", vxlan["local"], "dev", vxlan["dev"],
                        # The outer header copies the inner don't-fragment bit: a full-size probe that a
                        # smaller MTU on the path cannot carry is lost, not fragmented on the way.
                        "df", "inherit"], check_rc=True)
    module.run_command(["ip", "addr", "add", vxlan["address"], "dev", device], check_rc=True)
    module.run_command(["ip", "link", "set", device, "mtu", str(vxlan["mtu"]), "up"], check_rc=True)
    for target in vxlan["targets"]:
        if target["kind"] == "device" and target["underlay"] != vxlan["local"]:
            module.run_command(["bridge", "fdb", "append", "00:00:00:00:00:00", "dev", device,
                                "dst", target["underlay"]], check_rc=True)
    return [{"protocol": "udp", "port": str(vxlan["port"]), "why": "vxlan probe"}]


def present(module):
    p = module.params
    openings = vxlan_device(module, p["vxlan"]) if p["vxlan"] else []
    sockets, busy = [], []
    if p["ports"]:
        stop_listeners()
        sockets, busy = bind_listeners(p["ports"]["listen"])
        openings += [{**port, "port": str(port["port"])} for port in p["ports"]["listen"]]
    opened = open_temporarily(module, openings) if openings else []
    pid = daemonize(sockets, p["lifetime"]) if sockets else None
    module.exit_json(changed=False, opened=opened, busy=busy, pid=pid)


def first_ipv4(module, dev):
    rc, out, err = module.run_command(["ip", "-j", "-4", "addr", "show", "dev", dev])
    if rc != 0:
        module.fail_json(msg=f"no interface {dev}: {err.strip()}")
    for link in json.loads(out or "[]"):
        for info in link.get("addr_info", []):
            return info["local"]
    module.fail_json(msg=f"{dev} has no IPv4 address to send ARP requests from")


def vxlan_pings(vxlan) -> list[dict]:
    commands = {}
    for i, t in enumerate(vxlan["targets"]):
        if t.get("underlay") == vxlan["local"]:
            continue
        dev = vxlan["device"] if t["kind"] == "device" else (vxlan["dev"] if t["kind"] == "underlay" else None)
        commands[(i, "large")] = ping_command(t["address"], t["size"], dev, dont_fragment=True)
        commands[(i, "small")] = ping_command(t["address"], None, dev, dont_fragment=False)
    outcome = run_parallel(commands)
    results = []
    for i, t in enumerate(vxlan["targets"]):
        same = t.get("underlay") == vxlan["local"]
        results.append({**t, "same_address": same,
                        "large": not same and outcome[(i, "large")][0] == 0,
                        "small": not same and outcome[(i, "small")][0] == 0})
    return results


def sweep(dev, source, addresses) -> dict:
    start = time.monotonic()
    answers = arp_sweep(dev, source, addresses) if addresses else {}
    return {"answers": answers, "duration": round(time.monotonic() - start, 3)}


def reach_ports(targets, busy) -> list[dict]:
    todo, results = [], []
    for target in targets:
        if target["protocol"] == "udp" and f"udp/{target['port']}" in busy.get(target["peer"], []):
            results.append({**target, "ok": False, "skipped": "port in use on the peer; UDP not provable"})
        else:
            todo.append(target)
    with ThreadPoolExecutor(max_workers=min(64, max(1, len(todo)))) as pool:
        return results + list(pool.map(check_port, todo))


def probe(module):
    p = module.params
    arp, pools = p["arp"], p["pools"]
    # What could fail on a node's own setup fails here, before anything is sent.
    sources = {dev: first_ipv4(module, dev) for dev in {s["dev"] for s in (arp, pools) if s}}
    jobs = {}
    with ThreadPoolExecutor(max_workers=4) as pool:
        if p["vxlan"]:
            jobs["vxlan"] = pool.submit(vxlan_pings, p["vxlan"])
        if arp:
            jobs["arp"] = pool.submit(sweep, arp["dev"], sources[arp["dev"]], [t["address"] for t in arp["targets"]])
        if p["ports"]:
            jobs["ports"] = pool.submit(reach_ports, p["ports"]["targets"], p["busy"])
        if pools:
            jobs["pools"] = pool.submit(sweep, pools["dev"], sources[pools["dev"]], pools["addresses"])
    results = dict.fromkeys(("vxlan", "arp", "ports", "pools"))
    for kind, job in jobs.items():
        try:
            results[kind] = job.result()
        except OSError as exc:
            where = f" on {p[kind]['dev']}" if p[kind].get("dev") else ""
            module.fail_json(msg=f"{kind} probe{where} failed: {exc}")
    module.exit_json(changed=False, **results)


def absent(module):
    device = (module.params["vxlan"] or {}).get("device") or DEVICE
    removed = []
    if link_exists(module, device):
        module.run_command(["ip", "link", "del", device], check_rc=True)
        removed.append(device)
    stopped = stop_listeners()
    removed += close_temporary(module)
    module.exit_json(changed=False, removed=removed, stopped=stopped)


def main():
    module = AnsibleModule(
        argument_spec={
            "state": {"type": "str", "choices": ["present", "probe", "absent"], "required": True},
            "vxlan": {"type": "dict", "options": {
                "create_device": {"type": "bool", "default": True},
                "device": {"type": "str", "default": DEVICE},
                "vni": {"type": "int"},
                "port": {"type": "int"},
                "local": {"type": "str"},
                "dev": {"type": "str"},
                "address": {"type": "str"},
                "mtu": {"type": "int"},
                "targets": {"type": "list", "elements": "dict", "default": []},
            }},
            "arp": {"type": "dict", "options": {
                "dev": {"type": "str", "required": True},
                "targets": {"type": "list", "elements": "dict", "required": True},
            }},
            "ports": {"type": "dict", "options": {
                "listen": {"type": "list", "elements": "dict", "default": []},
                "targets": {"type": "list", "elements": "dict", "default": []},
            }},
            "pools": {"type": "dict", "options": {
                "dev": {"type": "str", "required": True},
                "addresses": {"type": "list", "elements": "str", "required": True},
                "pools": {"type": "dict", "default": {}},
                "truncated": {"type": "int", "default": 0},
            }},
            "busy": {"type": "dict", "default": {}},
            "lifetime": {"type": "int", "default": 120},
        },
        supports_check_mode=True,
    )
    {"present": present, "probe": probe, "absent": absent}[module.params["state"]](module)


if __name__ == "__main__":
    main()
