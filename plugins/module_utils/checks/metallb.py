"""MetalLB address pools (against each other, the cluster networks and the nodes) and BGP peers."""

from __future__ import annotations

import re

from ..addr import AddrError, Span, SpanIndex, overlapping_pairs, parse_address, parse_range_entry
from ..kube import DNS1123_LABEL
from ..problems import names
from . import Context, Field, check_entry, int_between, is_int
from .networks import NodeNet


def _label(value: object) -> bool:
    return isinstance(value, str) and bool(DNS1123_LABEL.match(value))


POOL_FIELDS = {
    "name": Field(_label, "is not a DNS-1123 label (it becomes the IPAddressPool name)",
                  "use lower-case letters, digits and '-', at most 63"),
    "mode": Field(lambda v: v in ("l2", "bgp"), "is not l2 or bgp", "use l2 or bgp", default="l2"),
    "auto_assign": Field(lambda v: isinstance(v, bool), "is not a boolean", "use true or false", default=True),
    "avoid_buggy_ips": Field(lambda v: isinstance(v, bool), "is not a boolean", "use true or false", default=False),
}
ASN = int_between(1, 4294967295)
PEER_FIELDS = {
    "name": Field(_label, "is not a DNS-1123 label", "e.g. tor-switch-1"),
    "asn": Field(ASN, "is not an AS number 1..4294967295", "e.g. 64512 (private range 64512-65534)"),
    "my_asn": Field(ASN, "is not an AS number 1..4294967295", "e.g. 64512 (private range 64512-65534)"),
    "port": Field(int_between(1, 65535), "is not a port 1..65535", "leave it unset for 179", default=179),
    "hold_time": Field(lambda v: v is None or bgp_seconds(v) in (0, *range(3, 65536)),
                       "is not 0 or 3..65535 whole seconds (BGP's hold time, RFC 4271 4.2)",
                       "e.g. 90 or 90s (0 turns keepalives off); leave it unset for MetalLB's 90s", default=None),
    "keepalive_time": Field(lambda v: v is None or bgp_seconds(v) is not None,
                            "is not a duration in whole seconds", "e.g. 30 or 30s, a third of the hold time",
                            default=None),
}
# Peer settings handed to MetalLB's BGPPeer as they are (the timers after the checks above).
PEER_PASSTHROUGH = ("address", "password_secret", "node_selectors")
_GO_DURATION = re.compile(r"(?:\d+[hms])+")
_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1}


def bgp_seconds(value: object) -> int | None:
    """Whole seconds of a BGP timer given as plain seconds or a Go duration of h/m/s (``90s``, ``1m30s``);
    None for anything else (negative, fractional, another unit, not a number)."""
    if is_int(value):
        return value if value >= 0 else None
    if isinstance(value, str) and _GO_DURATION.fullmatch(value):
        return sum(int(n) * _UNIT_SECONDS[unit] for n, unit in re.findall(r"(\d+)([hms])", value))
    return None


class PoolChecker:
    """metallb_pools: each entry, their overlaps, and what the nodes already use of them."""

    def __init__(self, ctx: Context):
        self.ctx, self.s, self.problems = ctx, ctx.s, ctx.problems
        self.pools: list[dict] = []

    @property
    def spans(self) -> list[tuple[Span, str]]:
        """(address range, its variable path) of every pool entry."""
        return [(span, label) for p in self.pools for span, label in p["spans"]]

    def parse(self, cluster_networks: list[tuple[Span, str]]) -> list[dict]:
        pools = self.s["metallb_pools"]
        if not self.s["metallb_enabled"]:
            return []
        if not isinstance(pools, list):
            self.problems.error("metallb_pools", pools, "is not a list", "give a list of {name, addresses, mode}")
            return []
        names_seen: dict[str, int] = {}
        for i, pool in enumerate(pools):
            where = f"metallb_pools[{i}]"
            if not isinstance(pool, dict):
                self.problems.error(where, pool, "is not a mapping", "write {name: ..., addresses: [...]}")
                continue
            entry = check_entry(self.ctx, where, pool, POOL_FIELDS, what="pool", passthrough=("addresses",))
            name = entry["name"]
            if _label(name) and name in names_seen:
                self.problems.error(f"{where}.name", name, f"is also the name of metallb_pools[{names_seen[name]}]",
                                    "give every pool its own name")
            elif _label(name):
                names_seen[name] = i
            self.pools.append({"index": i, **entry, "spans": self.addresses(where, pool.get("addresses"))})
        for (a, a_label), (b, b_label) in overlapping_pairs(self.spans):
            self.problems.error(b_label, b.text, f"overlaps {a_label} ({a.text})",
                                "pools (and entries of one pool) must not overlap")
        for span, label in self.spans:
            for net, var in cluster_networks:
                if span.overlaps(net):
                    self.problems.error(label, span.text, f"overlaps {var} {net.text}",
                                        "take LoadBalancer addresses from a host network, outside pod and "
                                        "service networks")
        return self.pools

    def addresses(self, where: str, addresses: object) -> list[tuple[Span, str]]:
        if isinstance(addresses, str):
            addresses = [addresses]
        if not isinstance(addresses, list) or not addresses:
            self.problems.error(f"{where}.addresses", addresses, "is empty or not a list",
                                "list CIDRs or ranges, e.g. [192.168.56.240-192.168.56.250]")
            return []
        spans = []
        for j, entry in enumerate(addresses):
            try:
                spans.append((parse_range_entry(entry), f"{where}.addresses[{j}]"))
            except AddrError as exc:
                self.problems.error(f"{where}.addresses[{j}]", entry, exc.why, exc.fix)
        return spans

    def check_against_nodes(self, nodes: list[NodeNet], choices: dict) -> None:
        """No pool address is a node's, a gateway or a subnet's network/broadcast address; L2 pools lie
        inside the subnet of the chosen NIC on every node."""
        entries = self.spans
        if not entries:
            return
        # Only non-overlapping entries can go into the index; overlaps are already errors.
        clean = []
        for span, label in entries:
            if not any(span.overlaps(other) for other, _ in clean):
                clean.append((span, label))
        index = SpanIndex(clean)
        hits: dict[tuple[str, str], list[str]] = {}

        def note(value: Span, what: str) -> None:
            label = index.find(value.first, value.family)
            if label is not None:
                hits.setdefault((label, what), []).append(value.text)

        for node in nodes:
            for addr, iface in node.addresses:
                note(addr, f"the address of {node.name} {iface}")
            for gw in node.gateways:
                note(gw, f"the default gateway of {node.name}")
        for subnet in {s for node in nodes for s, _ in node.subnets}:
            if subnet.family == 4 and subnet.size > 2:
                note(Span(subnet.first, subnet.first, 4, subnet.first_ip()), f"the network address of {subnet.text}")
                note(Span(subnet.last, subnet.last, 4, subnet.last_ip()), f"the broadcast address of {subnet.text}")
        by_label: dict[str, list[str]] = {}
        for (label, what), values in hits.items():
            by_label.setdefault(label, []).append(f"{values[0]} ({what})")
        for label, found in sorted(by_label.items()):
            value = next(span.text for span, lbl in clean if lbl == label)
            self.problems.error(label, value, f"contains addresses already in use: {names(sorted(set(found)))}; "
                                "MetalLB would answer ARP for them and cut those hosts off",
                                "shrink the pool to free addresses of the node subnet")
        # Nodes grouped by the subnets of their chosen NIC: few groups, however many nodes.
        groups: dict[tuple, list[str]] = {}
        for node in nodes:
            choice = choices.get(node.name)
            if choice:
                key = tuple(sorted({s for s, iface in node.subnets if iface == choice["name"]}))
                groups.setdefault(key, []).append(f"{node.name} {choice['name']}")
        for pool in self.pools:
            if pool["mode"] != "l2":
                continue
            for span, label in pool["spans"]:
                outside = [who for subnets, members in groups.items()
                           if not any(s.contains(span) for s in subnets) for who in members]
                if outside:
                    self.problems.error(label, span.text, "is not inside the subnet of the chosen NIC on "
                                        f"{names(outside)}; L2 mode answers ARP only on the local segment",
                                        "pick addresses from the subnet every node shares, or use mode: bgp")


def check_bgp_peers(ctx: Context, pools: list[dict]) -> list[dict]:
    """metallb_bgp_peers, normalized; a BGP pool needs at least one."""
    peers = ctx.s["metallb_bgp_peers"]
    if not ctx.s["metallb_enabled"]:
        return []
    if not isinstance(peers, list):
        ctx.problems.error("metallb_bgp_peers", peers, "is not a list", "give a list of {address, asn, my_asn}")
        return []
    result = []
    for i, peer in enumerate(peers):
        where = f"metallb_bgp_peers[{i}]"
        if not isinstance(peer, dict):
            ctx.problems.error(where, peer, "is not a mapping", "write {address: ..., asn: ..., my_asn: ...}")
            continue
        try:
            address = str(parse_address(peer.get("address")))
        except AddrError as exc:
            ctx.problems.error(f"{where}.address", peer.get("address"), exc.why, exc.fix)
            address = None
        entry = check_entry(ctx, where, {"name": f"peer-{i}", **peer}, PEER_FIELDS, what="BGP peer",
                            passthrough=PEER_PASSTHROUGH)
        _check_timers(ctx, where, entry)
        result.append({"name": entry["name"], "address": address, "asn": entry["asn"], "my_asn": entry["my_asn"],
                       "port": entry["port"], "hold_time": entry["hold_time"],
                       "keepalive_time": entry["keepalive_time"],
                       **{key: peer.get(key) for key in PEER_PASSTHROUGH[1:]}})
    if any(p["mode"] == "bgp" for p in pools) and not result:
        ctx.problems.error("metallb_bgp_peers", [], "is empty but a pool has mode: bgp",
                           "add the routers to peer with, or use mode: l2")
    return result


def _check_timers(ctx: Context, where: str, entry: dict) -> None:
    """As MetalLB reads the timers: a hold time alone sends keepalives at a third of it, a keepalive alone
    holds for three of them, both given must keep the keepalive below the hold time; and its native BGP
    speaker (the default metallb_bgp_implementation) takes no keepalive_time at all (its webhook refuses
    the BGPPeer)."""
    hold = None if entry["hold_time"] is None else bgp_seconds(entry["hold_time"])
    keepalive = None if entry["keepalive_time"] is None else bgp_seconds(entry["keepalive_time"])
    if entry["keepalive_time"] is not None and ctx.s["metallb_bgp_implementation"] == "native":
        ctx.problems.error(f"{where}.keepalive_time", entry["keepalive_time"], "is not taken by MetalLB's native "
                           "BGP speaker (metallb_bgp_implementation: native refuses the BGPPeer)",
                           "remove it (native sends keepalives at a third of hold_time), or use "
                           "metallb_bgp_implementation: frr-k8s")
        return
    if hold is None or keepalive is None:
        return  # unset (MetalLB derives one from the other), or already an error of its own
    if hold == 0 and keepalive > 0:
        ctx.problems.error(f"{where}.keepalive_time", entry["keepalive_time"], "is set while hold_time is 0 "
                           "(no keepalives are sent)", "remove keepalive_time, or give a hold_time of 3s or more")
    elif hold and keepalive >= hold:
        ctx.problems.error(f"{where}.keepalive_time", entry["keepalive_time"],
                           f"is not below the hold time ({hold}s): the session would drop between keepalives",
                           f"use at most a third of it, e.g. {max(1, hold // 3)}s")
