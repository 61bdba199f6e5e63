"""Which NIC flannel uses on each node: automatic, explained, and checked when set by hand.

Runs on the controller over every node's facts (docs/ARCHITECTURE.md, "Facts").
Per node, the first of these that is set decides (per-host variables win over
cluster-wide ones; the first variable that is set decides alone, there is no
fall-through to the next one when it matches nothing):

1. ``flannel_iface``: a name or an address (the interface holding it); a list
   is tried in order and the first entry that exists and has an address of
   the needed family wins, like flanneld's repeatable ``--iface``.
2. ``flannel_iface_regex``: Python ``re.search`` (unanchored, like flanneld's
   RE2), one pattern or a list; each pattern is matched against every
   interface's addresses, then against the names, in interface order.
3. ``flannel_iface_can_reach``: the interface the host's route to that address
   uses (``facts.can_reach.dev``, from ``ip route get`` on the host).
4. Automatic, over the *candidates* (see :func:`skip_reason`, minus interfaces
   whose address is also on another node, i.e. NAT like Vagrant's 10.0.2.15):
   the candidate holding the node's inventory address; else the candidate
   whose subnet holds an address (inventory address, or any candidate
   address) of every other node; several of those, or none while several
   candidates remain: the one with the default route; else an error that
   lists the candidates and names the variable that settles it.

Explicit choices are checked (exists, up, has an address of each needed
family) but not second-guessed: a NAT-duplicate address is only a warning
there, the underlay probe proves the path with real packets.

Why VETH is not excluded by kind: inside containers, LXC/nspawn machines,
kind clusters and this project's lab, the node's real NICs (eth0, eth1,
enp0s8) are veth pairs. What marks a veth as container plumbing is its name
(veth*, cali*, lxc*, vethwe*) or its master (a port of cni0/docker0), so veth
interfaces are only excluded that way. Bridges and bonds are not excluded by
kind either: a br0 in front of the NIC, a bond0, a VLAN bond0.100 hold the
host address on many real hosts; the bridges that containers make are known
by name. Ports of a bridge or bond are skipped: their master holds the address.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import gc
import re
from dataclasses import dataclass, field

import netaddr

from .problems import Problems, names

# Interfaces a CNI, kube-proxy or the cluster's DNS cache create: their addresses lie inside the pod or
# service network by design, so the plan's overlap rules skip them (and they are never the underlay).
CLUSTER_OWNED_PREFIXES = (
    "flannel", "cni", "kube-ipvs", "kube-bridge", "kube-dummy-if", "nodelocaldns", "cali", "vxlan.calico",
    "vxlan-v6.calico", "tunl", "weave", "datapath", "cilium", "lxc", "antrea-",
)
# Interfaces that never carry the node-to-node network: the cluster's own, and those of container
# runtimes, virtual machines and Open vSwitch (their subnets still count as host networks for overlaps).
# WireGuard: flannel's own device is flannel-wg (covered by "flannel"); a wg0 of the operator is
# left alone by name, and all WireGuard devices are skipped by kind (see EXCLUDED_KINDS).
EXCLUDED_NAME_PREFIXES = (*CLUSTER_OWNED_PREFIXES, "docker", "veth", "virbr", "vnet", "podman", "nerdctl",
                          "genev_sys", "vxlan_sys")
# Docker's user-defined networks: br-<first 12 hex digits of the network id>.
DOCKER_NETWORK_BRIDGE = re.compile(r"^br-[0-9a-f]{12}$")
# Tunnels, overlays and pseudo devices: they never carry the underlay by themselves.
EXCLUDED_KINDS = (
    "vxlan", "geneve", "wireguard", "tun", "dummy", "ipip", "ip6tnl", "sit", "gre", "gretap", "ip6gre",
    "ip6gretap", "erspan", "vti", "vti6", "xfrm", "ifb", "nlmon", "vrf", "bareudp", "ppp", "can", "vcan",
    "none",
)

UNSET = "unset (automatic)"


class IP(tuple):
    """One address as (version, integer, canonical text).

    A tuple, so hashing and equality run at C speed (netaddr.IPAddress does
    both in Python, which dominated 5,000-node runs); printed as its text.
    """

    __slots__ = ()

    def __new__(cls, ip: netaddr.IPAddress):
        return tuple.__new__(cls, (ip.version, int(ip), str(ip)))

    @property
    def version(self) -> int:
        return self[0]

    @property
    def value(self) -> int:
        return self[1]

    def __str__(self) -> str:
        return self[2]

    def __format__(self, spec: str) -> str:
        return format(self[2], spec)


@functools.lru_cache(maxsize=65536)
def _ip(text: str) -> IP | None:
    """Parsed once per distinct text (10.0.2.15 is on every Vagrant node)."""
    try:
        return IP(netaddr.IPAddress(text))
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None


@dataclass
class Iface:
    name: str
    kind: str
    up: bool
    mtu: int | None
    master: str | None
    addrs: dict  # family -> [(IP, prefix)] in facts order
    skip: str | None = None  # why it is not an automatic candidate
    skip_word: str | None = None  # the same in one word (the plan's iface.skipped)


@dataclass
class Node:
    host: str
    inventory: str | None
    inventory_ip: IP | None
    ifaces: list
    by_name: dict
    default_dev: str | None
    can_reach: dict | None
    vars: dict
    candidates: list = field(default_factory=list)


# ---------------------------------------------------------------- reading facts

def _parse_addresses(raw: list) -> dict:
    addrs: dict = {4: [], 6: []}
    for a in raw or []:
        ip = _ip(str(a.get("address")))
        if ip is None:
            continue
        prefix = a.get("prefix")
        prefix = int(prefix) if prefix is not None else (32 if ip.version == 4 else 128)
        addrs[ip.version].append((ip, prefix))
    return addrs


def _parse_ip(text) -> IP | None:
    if not isinstance(text, str) or "/" in text:
        return None
    return _ip(text.strip())


def _read_node(host: str, data: dict, primary: int) -> Node:
    facts = data.get("facts") or {}
    ifaces = []
    for raw in facts.get("interfaces") or []:
        ifaces.append(Iface(name=str(raw.get("name")), kind=str(raw.get("kind") or "ether"),
                            up=raw.get("state") == "up", mtu=raw.get("mtu"), master=raw.get("master"),
                            addrs=_parse_addresses(raw.get("addresses"))))
    routes = facts.get("default_routes") or []
    default_dev = next((r.get("dev") for r in routes if r.get("family") == primary), None)
    inventory = data.get("address")
    return Node(host=host, inventory=inventory, inventory_ip=_parse_ip(inventory), ifaces=ifaces,
                by_name={i.name: i for i in ifaces}, default_dev=default_dev,
                can_reach=facts.get("can_reach"), vars=data.get("vars") or {})


def is_container_name(name: str) -> bool:
    """Named like an interface a container runtime, CNI or kube-proxy creates."""
    return name.startswith(EXCLUDED_NAME_PREFIXES) or bool(DOCKER_NETWORK_BRIDGE.match(name))


def _skip(iface: Iface, families: tuple) -> tuple[str, str] | None:
    """(one word, why) when an interface is not an automatic candidate, else None."""
    if iface.kind == "loopback" or iface.name == "lo":
        return "loopback", "loopback"
    if is_container_name(iface.name):
        return "container", "container/overlay interface"
    if iface.kind in EXCLUDED_KINDS:
        return iface.kind, f"{iface.kind} device"
    if iface.master:
        return "port", f"port of {iface.master}"
    if not iface.up:
        return "down", "down"
    for family in families:
        if not iface.addrs[family]:
            return "unaddressed", f"no {_family_word(family)} address"
    return None


def skip_reason(iface: Iface, families: tuple) -> str | None:
    """Why an interface is not an automatic candidate (None: it is one)."""
    found = _skip(iface, families)
    return found[1] if found else None


def _family_word(family: int) -> str:
    return "IPv4" if family == 4 else "global IPv6"


# ---------------------------------------------------------------- indexes over all nodes

class AddressIndex:
    """Every node's addresses, built once.

    ``holders`` counts, per address, the distinct nodes that have it (NAT
    duplicates). ``points`` (per family, sorted) holds each node's inventory
    address and candidate addresses, so that "how many nodes have an address
    inside this subnet" is two bisections plus a set over the slice; the
    answer is cached per subnet, and one address lies in at most one subnet
    per prefix length, so the whole pass stays linear in the number of nodes.
    """

    def __init__(self, nodes: list):
        self.holders: dict = {}
        raw_points: dict = {4: [], 6: []}
        for index, node in enumerate(nodes):
            mine = set()
            for iface in node.ifaces:
                if iface.kind == "loopback" or iface.name == "lo":
                    continue
                for family in (4, 6):
                    for ip, _ in iface.addrs[family]:
                        mine.add(ip)
                        if iface.skip is None:
                            raw_points[family].append((ip.value, index))
            for ip in mine:
                self.holders[ip] = self.holders.get(ip, 0) + 1
            if node.inventory_ip is not None:
                raw_points[node.inventory_ip.version].append((node.inventory_ip.value, index))
        self.points = {}
        for family, pts in raw_points.items():
            pts.sort()
            self.points[family] = ([p for p, _ in pts], [n for _, n in pts])
        self._cache: dict = {}

    def nodes_in(self, network: netaddr.IPNetwork) -> int:
        key = (network.version, network.first, network.last)
        if key not in self._cache:
            values, owners = self.points[network.version]
            lo = bisect.bisect_left(values, network.first)
            hi = bisect.bisect_right(values, network.last)
            self._cache[key] = len(set(owners[lo:hi]))
        return self._cache[key]


# ---------------------------------------------------------------- problems, grouped by host

class _Findings:
    """Problems per host, merged when several hosts have the very same one."""

    def __init__(self):
        self._groups: dict = {}

    def add(self, severity: str, where: tuple, value, why: str, fix: str) -> None:
        """``where`` is (variable, host)."""
        variable, host = where
        key = (severity, variable, repr(value), why, fix)
        self._groups.setdefault(key, (value, []))[1].append(host)

    def problems(self) -> Problems:
        problems = Problems()
        for (severity, variable, _, why, fix), (value, hosts) in self._groups.items():
            label = f"{variable} (host {hosts[0]})" if len(hosts) == 1 else \
                f"{variable} (hosts {names(hosts)})"
            (problems.error if severity == "error" else problems.warning)(label, value, why, fix)
        return problems


# ---------------------------------------------------------------- the selection

@dataclass
class Context:
    families: tuple  # needed families, primary first
    index: AddressIndex
    total: int
    findings: _Findings


def _setting(node: Node, settings: dict, name: str):
    """The per-host value when set, else the cluster-wide one; empty values count as unset."""
    for value in (node.vars.get(name), settings.get(name)):
        if value not in (None, "", []):
            return value
    return None


def _first_address(iface: Iface, family: int, prefer: IP | None = None):
    """(address, prefix) of ``family``: ``prefer`` when the interface holds it, else the first one."""
    for ip, prefix in iface.addrs[family]:
        if prefer is not None and ip == prefer:
            return ip, prefix
    return iface.addrs[family][0] if iface.addrs[family] else (None, None)


def _nat_note(iface: Iface, ctx: Context, prefer=None) -> str | None:
    """'10.0.2.15 on 3 nodes (NAT)' when the address flannel would use there is on other nodes too."""
    for family in ctx.families:
        ip, _ = _first_address(iface, family, prefer)
        count = ctx.index.holders.get(ip, 0) if ip is not None else 0
        if count > 1:
            return f"{ip} on {count} nodes (NAT)"
    return None


def _choice(iface: Iface, ctx: Context, method: str, reason: str, prefer=None) -> dict:
    result = {"name": iface.name, "ipv4": None, "ipv6": None, "prefix4": None, "prefix6": None,
              "mtu": iface.mtu, "method": method, "reason": reason, "first_address": True}
    for family in ctx.families:
        ip, prefix = _first_address(iface, family, prefer)
        result[f"ipv{family}"] = str(ip) if ip is not None else None
        result[f"prefix{family}"] = prefix
        if ip is not None and ip != iface.addrs[family][0][0]:
            result["first_address"] = False
    return result


def _check_explicit(node: Node, iface: Iface, setting: tuple, ctx: Context, prefer: IP | None = None) -> bool:
    """An explicitly chosen interface must be up and have each needed family; NAT only warns.

    ``setting`` is (variable, value) as the user wrote it.
    """
    variable, value = setting
    ok = True
    if not iface.up:
        ctx.findings.add("error", (variable, node.host), value,
                         f"selects {iface.name}, which is down",
                         f"bring {iface.name} up, or choose another NIC")
        ok = False
    for family in ctx.families:
        if not iface.addrs[family]:
            hint = f" (it is a port of {iface.master}; use {iface.master})" if iface.master else ""
            ctx.findings.add("error", (variable, node.host), value,
                             f"selects {iface.name}, which has no {_family_word(family)} address{hint}",
                             f"choose the NIC that holds the node's {_family_word(family)} address")
            ok = False
    nat = _nat_note(iface, ctx, prefer)
    if ok and nat:
        ctx.findings.add("warning", (variable, node.host), value,
                         f"selects {iface.name} with {nat}: peers cannot reach this node at that address",
                         "choose the NIC of the node-to-node network, or unset it to choose automatically")
    if ok and (is_container_name(iface.name) or iface.kind in EXCLUDED_KINDS):
        ctx.findings.add("warning", (variable, node.host), value,
                         f"selects {iface.name}, a {iface.kind} interface that containers or overlays use",
                         "choose the NIC of the node-to-node network")
    return ok


def _interfaces_text(node: Node) -> str:
    listed = []
    for iface in node.ifaces:
        if iface.kind == "loopback":
            continue
        addrs = [f"{ip}/{p}" for fam in (4, 6) for ip, p in iface.addrs[fam]]
        listed.append(f"{iface.name} ({', '.join(addrs)})" if addrs else iface.name)
    return ", ".join(listed) or "none"


def _owner(node: Node, ip: IP) -> Iface | None:
    for iface in node.ifaces:
        if any(a == ip for a, _ in iface.addrs[ip.version]):
            return iface
    return None


def _default_route_note(node: Node, chosen: str, why_not: str) -> str:
    if not node.default_dev or node.default_dev == chosen:
        return ""
    return f"; {node.default_dev} (default route) skipped: {why_not}"


def _by_flannel_iface(node: Node, value, ctx: Context) -> dict | None:
    entries = value if isinstance(value, list) else [value]
    variable = "flannel_iface"
    tried = []
    for entry in entries:
        ip = _parse_ip(str(entry))
        iface = _owner(node, ip) if ip is not None else node.by_name.get(str(entry))
        if iface is None:
            tried.append(f"{entry} (no such {'address' if ip is not None else 'interface'})")
            continue
        if len(entries) > 1 and not all(iface.addrs[f] for f in ctx.families):
            tried.append(f"{entry} (no {_family_word(ctx.families[0])} address)")
            continue
        if not _check_explicit(node, iface, (variable, value), ctx, prefer=ip):
            return None
        how = f"holds {ip} (flannel_iface)" if ip is not None else "flannel_iface"
        if len(entries) > 1:
            how += f", first usable of {', '.join(map(str, entries))}"
        reason = f"{iface.name}: {how}" + _default_route_note(node, iface.name, "flannel_iface is set")
        return _choice(iface, ctx, "flannel_iface", reason, prefer=ip)
    ctx.findings.add("error", (variable, node.host), value,
                     f"matches no interface: {'; '.join(tried)}; the host has {_interfaces_text(node)}",
                     "use one of the host's interface names or addresses (it may be set per host)")
    return None


def _by_regex(node: Node, value, ctx: Context) -> dict | None:
    variable = "flannel_iface_regex"
    patterns = value if isinstance(value, list) else [value]
    usable = [i for i in node.ifaces if i.kind != "loopback" and i.name != "lo"
              and all(i.addrs[f] for f in ctx.families)]
    for pattern in patterns:
        try:
            regex = re.compile(str(pattern))
        except re.error as exc:
            ctx.findings.add("error", (variable, node.host), pattern, f"does not compile: {exc}",
                             "fix the regular expression, e.g. ^eth1$")
            return None
        match = _regex_match(regex, usable, ctx.families)
        if match:
            iface, what, ip = match
            if not _check_explicit(node, iface, (variable, value), ctx, prefer=ip):
                return None
            reason = (f"{iface.name}: {what} matches flannel_iface_regex {pattern!r}"
                      + _default_route_note(node, iface.name, "flannel_iface_regex is set"))
            return _choice(iface, ctx, "flannel_iface_regex", reason, prefer=ip)
    ctx.findings.add("error", (variable, node.host), value,
                     "matches no address or name of an interface that has a usable "
                     f"{_family_word(ctx.families[0])} address (the host has {_interfaces_text(node)})",
                     "fix the pattern (it is unanchored: ^eth1$ matches eth1 only)")
    return None


def _regex_match(regex, ifaces: list, families: tuple):
    """Addresses of all interfaces first, then names, like flanneld."""
    for iface in ifaces:
        for family in families:
            for ip, _ in iface.addrs[family]:
                if regex.search(str(ip)):
                    return iface, f"address {ip}", ip
    for iface in ifaces:
        if regex.search(iface.name):
            return iface, f"name {iface.name}", None
    return None


def _by_can_reach(node: Node, target, ctx: Context) -> dict | None:
    variable = "flannel_iface_can_reach"
    if _parse_ip(str(target)) is None:
        ctx.findings.add("error", (variable, node.host), target, "is not an IP address",
                         "give a single address the host routes to over the node network, e.g. 192.168.56.12")
        return None
    route = node.can_reach or {}
    if str(route.get("target")) != str(target) or not route.get("dev"):
        why = (f"has no route on the host ({route['error']})" if route.get("error") and
               str(route.get("target")) == str(target) else
               "was not resolved on the host (node_facts ran without can_reach set to it)")
        ctx.findings.add("error", (variable, node.host), target, why,
                         "give an address the host routes to over the node network (e.g. a peer's address)")
        return None
    iface = node.by_name.get(route["dev"])
    if iface is None:
        ctx.findings.add("error", (variable, node.host), target,
                         f"routes via {route['dev']}, which is not in the host's interface list",
                         "re-run; the interfaces changed while facts were gathered")
        return None
    src = _parse_ip(route.get("src"))
    if not _check_explicit(node, iface, (variable, target), ctx, prefer=src):
        return None
    reason = (f"{iface.name}: route to {target} (flannel_iface_can_reach)"
              + _default_route_note(node, iface.name, "flannel_iface_can_reach is set"))
    return _choice(iface, ctx, "flannel_iface_can_reach", reason, prefer=src)


# ---------------------------------------------------------------- automatic

def _subnet_check(iface: Iface, ctx: Context):
    """(network, other nodes it holds) for the best subnet of the primary family on this interface."""
    best = None
    for ip, prefix in iface.addrs[ctx.families[0]]:
        network = netaddr.IPNetwork((ip.value, prefix), ip.version)
        others = ctx.index.nodes_in(network) - 1  # the node itself holds its own address
        if best is None or others > best[1]:
            best = (network, others)
    return best


def _automatic(node: Node, ctx: Context) -> dict | None:
    skipped: dict = {i.name: i.skip for i in node.ifaces if i.skip}
    candidates = []
    for iface in node.candidates:
        nat = _nat_note(iface, ctx, node.inventory_ip)
        if nat:
            skipped[iface.name] = nat
        else:
            candidates.append(iface)
    if not candidates:
        listed = "; ".join(f"{name}: {why}" for name, why in skipped.items() if why != "loopback")
        ctx.findings.add("error", ("flannel_iface", node.host), UNSET,
                         f"no interface can carry pod traffic automatically ({listed or 'no interfaces'})",
                         "set flannel_iface for this host to the NIC of the node-to-node network")
        return None
    owner = _owner(node, node.inventory_ip) if node.inventory_ip is not None else None
    if owner is not None and owner in candidates:
        why_not = skipped.get(node.default_dev) or f"the inventory address is on {owner.name}"
        reason = (f"{owner.name}: holds {node.inventory_ip} (inventory address)"
                  + _default_route_note(node, owner.name, why_not))
        return _choice(owner, ctx, "inventory_address", reason, prefer=node.inventory_ip)
    return _by_subnets(node, candidates, skipped, _inventory_note(node, owner, skipped), ctx)


def _inventory_note(node: Node, owner: Iface | None, skipped: dict) -> str:
    """Why the inventory address did not decide."""
    if node.inventory_ip is not None:
        where = f"is on {owner.name}, skipped: {skipped[owner.name]}" if owner else "is not on this host"
        return f"inventory address {node.inventory_ip} {where}"
    if node.inventory:
        return f"inventory address {node.inventory} is a name, not an address"
    return "no inventory address"


def _other_nodes(count: int) -> str:
    return "the other node" if count == 1 else f"all {count} other nodes"


def _by_subnets(node: Node, candidates: list, skipped: dict, note: str, ctx: Context) -> dict | None:
    """The candidate whose subnet holds every other node; else the only one; else the default route's."""
    others = ctx.total - 1
    checks = {iface.name: _subnet_check(iface, ctx) for iface in candidates}
    holding = [i for i in candidates if others and checks[i.name][1] >= others]
    pool = holding or candidates
    if holding:
        scope = f"holds addresses of {_other_nodes(others)}"
    else:
        scope = "the only node of the cluster" if not others else "no NIC's subnet holds all other nodes"
    if len(pool) == 1:
        chosen = pool[0]
        net, held = checks[chosen.name]
        if holding:
            method, why = "peers_subnet", f"{net.cidr} {scope}"
        else:
            method = "only_candidate"
            why = f"the only candidate; {scope}"
            if others:
                why += f", {net.cidr} holds {held} of {others}"
    else:
        chosen = next((i for i in pool if i.name == node.default_dev), None)
        if chosen is None:
            _tie(node, (pool, checks, bool(holding)), note, ctx)
            return None
        method = "default_route"
        listed = " and ".join(f"{i.name} ({checks[i.name][0].cidr})" for i in pool)
        why = f"default route, among {listed}, " + (f"each of which {scope}" if holding else scope)
    why_not = skipped.get(node.default_dev)
    if why_not is None and node.default_dev in checks:
        dnet, dheld = checks[node.default_dev]
        why_not = f"{dnet.cidr} holds {dheld} of {others} other nodes"
    reason = (f"{chosen.name}: {why} ({note})"
              + _default_route_note(node, chosen.name, why_not or "not a candidate"))
    return _choice(chosen, ctx, method, reason)


def _tie(node: Node, tied: tuple, note: str, ctx: Context) -> None:
    """``tied`` is (the interfaces, their subnet checks, whether each holds all other nodes)."""
    pool, checks, all_held = tied
    listed = " and ".join(f"{i.name} ({checks[i.name][0].cidr})" for i in pool)
    if ctx.total == 1:
        holds = "this is the only node of the cluster"
    elif all_held:
        holds = "each holds addresses of all other nodes"
    else:
        holds = "none holds addresses of all other nodes"
    ctx.findings.add("error", ("flannel_iface", node.host), UNSET,
                     f"cannot choose between {listed}: {holds}, {note}, "
                     "and none of them has the default route",
                     f"set flannel_iface for this host (e.g. flannel_iface: {pool[0].name} in its "
                     f"host_vars), or flannel_iface_regex for all nodes (e.g. '^{pool[0].name}$')")


# ---------------------------------------------------------------- API

def _families(settings: dict) -> tuple:
    fams = settings.get("families") or {"ipv4": True, "ipv6": False}
    result = tuple(f for f, key in ((4, "ipv4"), (6, "ipv6")) if fams.get(key))
    return result or (4,)


@contextlib.contextmanager
def _gc_paused():
    """No cyclic garbage collection while tens of thousands of small objects are made.

    Nothing here creates reference cycles, and with 5,000 nodes the collector's
    full passes over the caller's facts took half of the run time.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def select_interfaces(nodes: dict, settings: dict) -> tuple:
    """Choose every node's flannel NIC.

    ``nodes``: {hostname: {"address": inventory address or None, "facts": node_facts facts,
    "vars": per-host flannel_iface / flannel_iface_regex / flannel_iface_can_reach}};
    ``settings``: the cluster-wide values of those three plus ``families`` ({"ipv4": bool, "ipv6": bool}).
    Returns ({hostname: choice or None}, Problems); a choice is {name, ipv4, ipv6, prefix4, prefix6, mtu,
    method, reason, first_address, skipped}. ``first_address`` is false when the chosen address is not the
    NIC's first one (flanneld's ``--iface=<name>`` would advertise that first address instead); ``skipped``
    maps every other interface but loopback to why it was not chosen, in one word (see :func:`_skipped`).
    """
    with _gc_paused():
        return _select(nodes, settings)


def _select(nodes: dict, settings: dict) -> tuple:
    families = _families(settings)
    parsed = [_read_node(host, data or {}, families[0]) for host, data in nodes.items()]
    for node in parsed:
        for iface in node.ifaces:
            iface.skip_word, iface.skip = _skip(iface, families) or (None, None)
        node.candidates = [i for i in node.ifaces if i.skip is None]
    ctx = Context(families=families, index=AddressIndex(parsed), total=len(parsed), findings=_Findings())
    choices = {}
    for node in parsed:
        if (value := _setting(node, settings, "flannel_iface")) is not None:
            choices[node.host] = _by_flannel_iface(node, value, ctx)
        elif (value := _setting(node, settings, "flannel_iface_regex")) is not None:
            choices[node.host] = _by_regex(node, value, ctx)
        elif (value := _setting(node, settings, "flannel_iface_can_reach")) is not None:
            choices[node.host] = _by_can_reach(node, value, ctx)
        else:
            choices[node.host] = _automatic(node, ctx)
        if choices[node.host]:
            choices[node.host]["skipped"] = _skipped(node, choices[node.host]["name"], ctx)
    return choices, ctx.findings.problems()


def _skipped(node: Node, chosen: str, ctx: Context) -> dict:
    """Every other NIC, with why it is not the chosen one in one word: its skip word, NAT (its address is on
    other nodes too), or spare (a candidate the choice did not need). Loopback and container plumbing (pod
    veths, cni0, flannel.1, docker0) are no NICs: they come and go with the pods, and listing them would
    change the plan's picture with every pod started."""
    return {i.name: i.skip_word or ("NAT" if _nat_note(i, ctx, node.inventory_ip) else "spare")
            for i in node.ifaces if i.name != chosen and i.skip_word not in ("loopback", "container")}


def summarize(choices: dict, per_node: bool = False) -> dict:
    """What flannel's DaemonSet needs. ``per_node`` (api mode, where the installer annotates the Nodes
    itself): always per-node ``node-public-ip`` annotations and no ``--iface``, so one node's NIC change
    restarts only that node's flannel pod. Otherwise (render mode) ``--iface=<name>`` when every node
    chose that name, else the annotations (also when a chosen address is not its NIC's first one, which
    is what ``--iface`` alone would advertise). Nodes without a choice (they have an error) are left out."""
    chosen = [c for c in choices.values() if c]
    chosen_names = {c["name"] for c in chosen}
    iface_arg = chosen_names.pop() if len(chosen_names) == 1 and not per_node else None
    annotate = bool(chosen) and (iface_arg is None or not all(c.get("first_address", True) for c in chosen))
    return {"iface_arg": iface_arg, "annotate_nodes": annotate}
