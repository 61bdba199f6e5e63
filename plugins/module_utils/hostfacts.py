"""Parsing of what a node reports about its network: pure functions over command output.

The module ``onprem.k8snet.node_facts`` runs the commands (``ip -j ...``, ``ss``,
``nft -j list chains``, ...) and reads the files; every function here takes
their text (or already decoded JSON) and returns the pieces of the facts
shape documented in docs/ARCHITECTURE.md ("Facts"). Nothing here runs a
process or touches the file system, so it is unit-tested with recorded output.

This file runs on the managed nodes: it must stay importable by Python 3.8
(no ``match``, no ``X | Y`` at runtime, no ``str.removeprefix``) and use only
the standard library (no netaddr on the nodes).
"""

from __future__ import annotations

import json
import re

# Kernel feature names the plan asks about -> the kernel config symbol that builds them in.
CONFIG_SYMBOLS = {
    "br_netfilter": "BRIDGE_NETFILTER",
    "vxlan": "VXLAN",
    "overlay": "OVERLAY_FS",
    "wireguard": "WIREGUARD",
    "ip_vs": "IP_VS",
    "nf_conntrack": "NF_CONNTRACK",
    "bridge": "BRIDGE",
    "veth": "VETH",
}

# Devices flannel creates: vxlan "flannel.<VNI>" / "flannel-v6.<VNI>",
# wireguard "flannel-wg" / "flannel-wg-v6".
FLANNEL_DEVICE = re.compile(r"^flannel(-v6)?\.\d+$|^flannel-wg(-v6)?$")

_SS_USER = re.compile(r'\("((?:[^"\\]|\\.)*)",pid=(\d+)')


def load_json(text: object) -> object:
    """``ip -j`` / ``nft -j`` output as Python data; empty output is an empty list.

    ``ip -j route get`` and friends print ``[]`` or nothing at all when there is
    nothing to show, so both mean "nothing".
    """
    if isinstance(text, (list, dict)):
        return text
    text = (text or "").strip()
    return json.loads(text) if text else []


# ---------------------------------------------------------------- interfaces

def link_kind(link: dict) -> str:
    """veth, bridge, bond, vlan, vxlan, wireguard... from ``linkinfo``; "ether" for a plain NIC."""
    kind = (link.get("linkinfo") or {}).get("info_kind")
    if kind:
        return kind
    link_type = link.get("link_type") or "ether"
    return "loopback" if link_type == "loopback" else link_type


def link_state(link: dict) -> str:
    """``up`` when the link is administratively up AND has carrier, else ``down``.

    ``operstate`` is no help here: it is UNKNOWN for lo, for bridges without
    ports and for most virtual devices, so the flags decide (UP + LOWER_UP).
    """
    flags = link.get("flags") or []
    return "up" if "UP" in flags and "LOWER_UP" in flags and "NO-CARRIER" not in flags else "down"


def global_addresses(addr_info: list) -> list:
    """Global-scope addresses only: no 127/8 or ::1 (scope host), no fe80::/10 (scope link).

    Also left out: addresses that failed duplicate address detection, IPv6
    privacy (``temporary``) addresses, which rotate, and ``deprecated`` ones
    (preferred lifetime over), which the kernel no longer picks as a source:
    none of them can be a node's address for its peers.
    """
    result = []
    for info in addr_info or []:
        if info.get("scope") != "global" or not info.get("local"):
            continue
        if info.get("dadfailed") or info.get("temporary") or info.get("deprecated"):
            continue
        family = 6 if info.get("family") == "inet6" else 4
        prefix = int(info.get("prefixlen", 32 if family == 4 else 128))
        result.append({"address": info["local"], "prefix": prefix, "family": family})
    return result


def parse_interfaces(addr_output: object, link_output: object = None) -> list:
    """Every link, in ``ip link`` order, in the facts shape.

    ``addr_output`` is ``ip -j -d addr show`` (link details AND addresses in one
    call), or ``ip -j addr show`` with ``link_output`` = ``ip -j -d link show``;
    the two are merged by name.
    """
    entries = load_json(addr_output)
    details = {link.get("ifname"): link for link in load_json(link_output)} if link_output is not None else {}
    interfaces = []
    for entry in entries:
        link = dict(details.get(entry.get("ifname")) or {}, **entry)
        kind = link_kind(link)
        mac = link.get("address") if link.get("link_type") == "ether" else None
        interfaces.append({
            "name": link.get("ifname"),
            "kind": kind,
            "state": link_state(link),
            "mtu": link.get("mtu"),
            "mac": mac,
            "master": link.get("master"),
            # For a veth, "link" is its peer, not a lower device it sits on.
            "parent": None if kind == "veth" else link.get("link"),
            "addresses": global_addresses(link.get("addr_info")),
        })
    return interfaces


def owner_of(address: str, interfaces: list) -> object:
    """Name of the interface holding ``address`` (compared as text, as ``ip`` prints it), or None."""
    for iface in interfaces:
        if any(a["address"] == address for a in iface["addresses"]):
            return iface["name"]
    return None


# ---------------------------------------------------------------- routes

def _route_dev_gateway(route: dict) -> tuple:
    if route.get("dev") or route.get("gateway"):
        return route.get("dev"), route.get("gateway")
    hops = route.get("nexthops") or []  # multipath default: the first hop stands for the route
    return (hops[0].get("dev"), hops[0].get("gateway")) if hops else (None, None)


def parse_default_routes(v4_output: object, v6_output: object) -> list:
    """At most one default route per family: the one with the lowest metric (main table)."""
    routes = []
    for family, output in ((4, v4_output), (6, v6_output)):
        best = None
        for route in load_json(output):
            if route.get("type", "unicast") != "unicast":
                continue  # "unreachable default", "blackhole default"
            dev, gateway = _route_dev_gateway(route)
            if not dev:
                continue
            metric = route.get("metric", 0)
            if best is None or metric < best[0]:
                best = (metric, {"family": family, "gateway": gateway, "dev": dev})
        if best:
            routes.append(best[1])
    return routes


def parse_route_get(target: str, output: object, error: str = "", interfaces: object = None) -> dict:
    """``ip -j route get <target>`` as ``{target, dev, src}`` (plus ``error`` when there is no route).

    A target that is one of the host's own addresses routes via ``lo``
    (type local); the interface that holds it is reported instead.
    """
    routes = load_json(output) if output else []
    if not routes:
        why = (error or "").strip().splitlines()
        return {"target": target, "dev": None, "src": None,
                "error": why[-1] if why else "no route"}
    route = routes[0]
    dev = route.get("dev")
    if route.get("type") == "local" or dev == "lo":
        dev = owner_of(target, interfaces or []) or dev
    return {"target": target, "dev": dev, "src": route.get("prefsrc")}


# ---------------------------------------------------------------- sysctls

def parse_port_range(text: str) -> list:
    """``/proc/sys/net/ipv4/ip_local_port_range`` ("32768\\t60999") as [32768, 60999]."""
    parts = (text or "").split()
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return [32768, 60999]  # the kernel default
    return [int(parts[0]), int(parts[1])]


# ---------------------------------------------------------------- packet filter tools

PACKET_FILTER_TOOLS = ("iptables-legacy", "iptables-nft", "nft")


def iptables_backend(version_output: object) -> object:
    """``nft`` or ``legacy`` from ``iptables --version`` (``iptables v1.8.9 (nf_tables)``), None when unknown.
    iptables before 1.8 names no backend: it is legacy."""
    if not isinstance(version_output, str) or not version_output.startswith("iptables"):
        return None
    if "(nf_tables)" in version_output:
        return "nft"
    return "legacy"


def packet_filter(present: object, version_output: object) -> dict:
    """Which packet-filter tools a host has: ``tools`` (of PACKET_FILTER_TOOLS, those on the PATH) and ``iptables``
    (the backend the plain ``iptables`` command drives: ``nft``, ``legacy``, or None when there is none)."""
    present = present if isinstance(present, (list, tuple, set)) else []
    return {"tools": [t for t in PACKET_FILTER_TOOLS if t in present], "iptables": iptables_backend(version_output)}


# ---------------------------------------------------------------- kernel features

def cgroup_version(unified_root: bool, mounts: object) -> str:
    """``v2`` when /sys/fs/cgroup is the unified hierarchy (it has cgroup.controllers), ``v1`` when cgroup v1
    controllers are mounted (a hybrid host counts as v1, as kubelet sees it), else ``unknown``."""
    if unified_root:
        return "v2"
    lines = mounts.splitlines() if isinstance(mounts, str) else []
    return "v1" if any(len(parts) > 2 and parts[2] == "cgroup" for parts in (line.split() for line in lines)) \
        else "unknown"


def config_value(config_text: object, symbol: str) -> object:
    """``y``, ``m`` or None for CONFIG_<symbol> in a kernel config text."""
    if not config_text:
        return None
    match = re.search(r"^CONFIG_" + re.escape(symbol) + r"=([ym])\s*$", config_text, re.MULTILINE)
    return match.group(1) if match else None


def module_names(listing: object) -> set:
    """Module names in ``modules.builtin`` or ``modules.dep`` (paths like kernel/net/x/vxlan.ko.xz).

    The kernel treats "-" and "_" in module names alike, so names are kept with "_".
    """
    names = set()
    for line in (listing or "").splitlines():
        path = line.split(":", 1)[0].strip()
        if ".ko" in path:
            names.add(path.rsplit("/", 1)[-1].split(".ko", 1)[0].replace("-", "_"))
    return names


def feature_state(name: str, loaded: bool, builtin: set, config_text: object, available: set) -> str:
    """``builtin`` | ``loaded`` | ``module`` | ``absent`` for one kernel feature.

    Built in wins over loaded: ``/sys/module/<name>`` also exists for built-in
    code that has parameters (vxlan, overlay), while a built-in br_netfilter
    has no such directory, so only modules.builtin or the kernel config tell.
    """
    key = name.replace("-", "_")
    if key in builtin or config_value(config_text, CONFIG_SYMBOLS.get(key, key.upper())) == "y":
        return "builtin"
    if loaded:
        return "loaded"
    if key in available:
        return "module"
    return "absent"


# ---------------------------------------------------------------- firewall

def nft_drop_input_chains(chains_output: object) -> list:
    """Input-hook base chains whose policy is drop, from ``nft -j list chains`` (or ``list ruleset``)."""
    data = load_json(chains_output)
    items = data.get("nftables", []) if isinstance(data, dict) else []
    return [item["chain"] for item in items
            if isinstance(item, dict) and "chain" in item
            and item["chain"].get("hook") == "input" and item["chain"].get("policy") == "drop"]


def _is_iptables_chain(chain: dict) -> bool:
    """iptables-nft keeps its INPUT chain in table ip/ip6 ``filter``: that firewall is managed by iptables."""
    return (chain.get("name") == "INPUT" and chain.get("table") == "filter"
            and chain.get("family") in ("ip", "ip6"))


def iptables_input_drops(output: object) -> bool:
    """``iptables -S INPUT`` starts with the policy line ``-P INPUT DROP``."""
    return any(line.split() == ["-P", "INPUT", "DROP"] for line in (output or "").splitlines())


def detect_firewall(firewalld_active: bool = False, ufw_enabled: bool = False, nft_chains: object = None,
                    iptables_input: object = None) -> dict:
    """The firewall that filters incoming traffic: ``{kind, detail}``.

    Order matters: firewalld and ufw drive nftables/iptables themselves and are
    what an operator changes, so they win over the ruleset they generate.
    """
    if firewalld_active:
        return {"kind": "firewalld", "detail": "firewalld.service is active"}
    if ufw_enabled:
        return {"kind": "ufw", "detail": "ufw is enabled (/etc/ufw/ufw.conf ENABLED=yes)"}
    chains = nft_drop_input_chains(nft_chains) if nft_chains else []
    native = [c for c in chains if not _is_iptables_chain(c)]
    if native:
        c = native[0]
        return {"kind": "nftables",
                "detail": f"table {c.get('family')} {c.get('table')}, chain {c.get('name')} policy drop"}
    if chains:
        c = chains[0]
        return {"kind": "iptables",
                "detail": f"iptables-nft: table {c.get('family')} filter, chain INPUT policy DROP"}
    if iptables_input_drops(iptables_input):
        return {"kind": "iptables", "detail": "iptables: chain INPUT policy DROP"}
    return {"kind": "none", "detail": "no input chain with a drop policy, no firewalld or ufw"}


def ufw_enabled(conf_text: object) -> bool:
    """``/etc/ufw/ufw.conf`` says ENABLED=yes (what ``ufw enable`` writes)."""
    for line in (conf_text or "").splitlines():
        key, _, value = line.strip().partition("=")
        if key.strip() == "ENABLED":
            return value.strip().strip("\"'").lower() == "yes"
    return False


# ---------------------------------------------------------------- sockets

def split_local_address(text: str) -> tuple:
    """(address, port) of an ss local address.

    Forms seen: ``0.0.0.0:80``, ``*:443``, ``[::]:443``, ``127.0.0.53%lo:53``, ``[fe80::1]%eth0:123``.
    """
    address, _, port = text.rpartition(":")
    address = address.split("%", 1)[0]
    if address.startswith("[") and address.endswith("]"):
        address = address[1:-1]
    return address, int(port) if port.isdigit() else None


def parse_listening(output: str, ports: list) -> list:
    """Sockets of ``ss -H -l -n -p -t -u`` on the wanted ``ports`` ([{protocol, port}]).

    Kernel sockets (the vxlan UDP socket of flannel.1, for instance) have no
    owning process: ``process`` and ``pid`` are then None.
    """
    wanted = {(str(p.get("protocol", "tcp")).lower(), int(p["port"])) for p in ports or []}
    found, seen = [], set()
    for line in (output or "").splitlines():
        fields = line.split()
        if len(fields) < 5 or fields[0] not in ("tcp", "udp"):
            continue
        address, port = split_local_address(fields[4])
        key = (fields[0], port)
        if key not in wanted or (fields[0], port, address) in seen:
            continue
        seen.add((fields[0], port, address))
        user = _SS_USER.search(line)
        process, pid = (user.group(1), int(user.group(2))) if user else (None, None)
        found.append({"protocol": fields[0], "port": port, "address": address,
                      "process": process, "pid": pid})
    return found


# ---------------------------------------------------------------- flannel

def flannel_overlay(interfaces: list) -> dict:
    """The flannel devices already on the host (day 2).

    ``running`` means the device exists and is up; ``device`` names the first
    one (IPv4 before IPv6); ``addresses`` lists every flannel device's global
    addresses as ``address/prefix``.
    """
    devices = [i for i in interfaces if FLANNEL_DEVICE.match(i.get("name") or "")]
    devices.sort(key=lambda i: "-v6" in i["name"])
    addresses = ["{}/{}".format(a["address"], a["prefix"]) for d in devices for a in d["addresses"]]
    return {"running": any(d["state"] == "up" for d in devices),
            "device": devices[0]["name"] if devices else None,
            "addresses": addresses}
