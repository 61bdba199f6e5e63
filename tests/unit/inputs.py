"""Builders for network-plan inputs (what the plan_inputs filter produces) in tests and benchmarks.

`lab_inputs()` is the Vagrant-style lab: every node has eth0 = NAT 10.0.2.15/24
with the default route, and eth1 on 192.168.56.0/24. Tests change what they need.

`FIXTURES` is tests/unit/fixtures/: recorded node command output, clusters of facts, rulesets.
"""

from __future__ import annotations

import copy
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"


def iface(name, *addrs, kind="ether", mtu=1500, state="up", master=None):
    addresses = []
    for a in addrs:
        address, prefix = a.split("/")
        addresses.append({"address": address, "prefix": int(prefix), "family": 6 if ":" in address else 4})
    return {"name": name, "kind": kind, "state": state, "mtu": mtu, "mac": "02:00:00:00:00:01",
            "master": master, "parent": None, "addresses": addresses}


def node_facts(index: int, *, extra=(), mtu1=1500, gateway="10.0.2.2", eph=(32768, 60999)):
    return {
        "hostname": f"node{index}",
        "interfaces": [
            iface("lo", kind="loopback", mtu=65536),
            iface("eth0", "10.0.2.15/24"),
            iface("eth1", f"192.168.56.{10 + index}/24", mtu=mtu1),
            *extra,
        ],
        "default_routes": [{"family": 4, "gateway": gateway, "dev": "eth0"}],
        "can_reach": None,
        "ip_local_port_range": list(eph),
        "ip_local_reserved_ports": "",
        "kernel": {"release": "6.1.0", "features": {"br_netfilter": "builtin", "vxlan": "builtin",
                                                    "overlay": "builtin", "wireguard": "absent"}},
        "firewall": {"kind": "none", "detail": ""},
        "listening": [],
        "flannel": {"running": False, "device": None, "addresses": []},
    }


def lab_inputs(nodes: int = 3, **cluster_vars) -> dict:
    """Inputs for a lab-like cluster; keyword arguments become cluster-wide variables on every host."""
    hosts = {}
    for i in range(1, nodes + 1):
        groups = ["k8s_cluster", "kube_node"] + (["kube_control_plane"] if i == 1 else [])
        hosts[f"node{i}"] = {"groups": groups, "address": f"192.168.56.{10 + i}",
                             "vars": copy.deepcopy(cluster_vars), "facts": node_facts(i)}
    return {"hosts": hosts, "unknown_variables": {}, "inventory_name": "lab", "base_dir": "/srv/k8snet"}


def with_vars(inputs: dict, **cluster_vars) -> dict:
    result = copy.deepcopy(inputs)
    for host in result["hosts"].values():
        host["vars"].update(copy.deepcopy(cluster_vars))
    return result
