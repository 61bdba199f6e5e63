"""What a lab looks like (pure): nodes, NICs, addresses, the inventory it gets."""

from __future__ import annotations

import ipaddress

from .constants import BRIDGE, BRIDGE2, LAB_NETS, LAYOUTS, LINK_PREFIX, MAX_NODES, NODES_DIR
from .util import LabError, mac

# ---------------------------------------------------------------- what a lab looks like (pure)

def node_name(k: int) -> str:
    return f"node{k}"


def node_nics(layout: str, k: int, count: int) -> list[dict]:
    node = node_name(k)
    nat, private = ("enp0s3", "enp0s8") if layout == "renamed" else ("eth0", "eth1")
    if layout == "renamed" and k == count:
        private = "ens9"
    nics = [
        {"name": nat, "kind": "nat", "address": "10.0.2.15/24", "gateway": "10.0.2.2", "mtu": 1500},
        {"name": private, "kind": "bridge", "bridge": BRIDGE, "address": f"192.168.56.{10 + k}/24",
         "mtu": 1400 if layout == "mtu" and k == 2 else 1500},
    ]
    if layout == "multi":
        nics.append({"name": "eth2", "kind": "bridge", "bridge": BRIDGE2, "address": f"172.16.0.{10 + k}/24",
                     "mtu": 1500})
    for i, nic in enumerate(nics):
        nic.update(peer=f"{LINK_PREFIX}{node}-{i}", mac=mac(k, i, 0), peer_mac=mac(k, i, 1))
    return nics


def lab_plan(layout: str, count: int) -> dict:
    if layout not in LAYOUTS:
        raise LabError(f"unknown layout {layout!r}: one of {', '.join(LAYOUTS)}")
    if not 1 <= count <= MAX_NODES:
        raise LabError(f"--nodes must be 1..{MAX_NODES}, not {count}")
    if layout == "mtu" and count < 2:
        raise LabError("the mtu layout changes node2: use --nodes 2 or more")
    nodes = {}
    for k in range(1, count + 1):
        name = node_name(k)
        nodes[name] = {"index": k, "address": f"192.168.56.{10 + k}", "dir": str(NODES_DIR / name),
                       "nics": node_nics(layout, k, count)}
    bridges = [BRIDGE, BRIDGE2] if layout == "multi" else [BRIDGE]
    return {"layout": layout, "nodes": nodes, "bridges": bridges}


def inventory_yaml(layout: str, count: int) -> str:
    plan = lab_plan(layout, count)
    lines = ["---", f"# The lab's inventory as tools/lab.py writes it (layout {layout}, {count} nodes).",
             "# Connection settings: group_vars/all/lab_connection.yml. See docs/LAB.md.",
             "all:", "  hosts:"]
    for name, node in plan["nodes"].items():
        lines += [f"    {name}:", f"      ansible_host: {node['address']}"]
    lines += ["  children:", "    k8s_cluster:", "      children:",
              "        kube_control_plane:", "          hosts:", f"            {node_name(1)}:",
              "        kube_node:", "          hosts:"]
    lines += [f"            {name}:" for name in plan["nodes"]]
    return "\n".join(lines) + "\n"


def client_cidr(addr: str) -> str:
    """ADDR or ADDR/PREFIX; a bare address in the lab network gets its /24 (so it answers ARP there)."""
    try:
        iface = ipaddress.ip_interface(addr)
    except ValueError as e:
        raise LabError(f"not an IP address: {addr!r}") from e
    if "/" not in addr and iface.ip in ipaddress.ip_network(LAB_NETS[0]):
        iface = ipaddress.ip_interface(f"{addr}/24")
    return str(iface)


