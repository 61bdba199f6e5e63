"""Pod and service networks, node pod prefixes, and their overlaps with the hosts' networks."""

from __future__ import annotations

from dataclasses import dataclass, field

import netaddr

from ..addr import AddrError, Span, address_span, family_name, network_span, overlapping_pairs, parse_network
from ..nic import CLUSTER_OWNED_PREFIXES
from ..problems import names
from . import Context

KUBELET_DEFAULT_MAX_PODS = 110
# kube-controller-manager refuses node masks more than 16 bits longer than the cluster CIDR.
MAX_NODE_MASK_DIFF = 16


@dataclass
class NodeNet:
    """What the overlap rules need from one node's facts."""

    name: str
    addresses: list[tuple[Span, str]] = field(default_factory=list)  # (address, iface)
    subnets: list[tuple[Span, str]] = field(default_factory=list)    # (connected subnet, iface)
    gateways: list[Span] = field(default_factory=list)


def node_networks(host: str, facts: dict) -> NodeNet:
    """The addresses, connected subnets and default gateways of a node (the cluster's own NICs left out)."""
    net = NodeNet(host)
    for iface in facts.get("interfaces", []):
        name = iface.get("name", "")
        if iface.get("kind") == "loopback" or name == "lo" or name.startswith(CLUSTER_OWNED_PREFIXES):
            continue
        for a in iface.get("addresses", []):
            ipnet = netaddr.IPNetwork(f"{a['address']}/{a['prefix']}")
            net.addresses.append((Span(ipnet.value, ipnet.value, ipnet.version, a["address"]), name))
            net.subnets.append((Span(ipnet.first, ipnet.last, ipnet.version, "", ipnet.prefixlen), name))
    for route in facts.get("default_routes", []):
        if route.get("gateway"):
            net.gateways.append(address_span(route["gateway"]))
    return net


class NetworkChecker:
    def __init__(self, ctx: Context):
        self.s, self.problems = ctx.s, ctx.problems
        self.pod = self.parse_cidrs("k8s_pod_cidr")
        self.service = self.parse_cidrs("k8s_service_cidr")

    @property
    def pod_families(self) -> set[str]:
        return {f for f, v in self.pod.items() if v}

    @property
    def cluster_networks(self) -> list[tuple[Span, str]]:
        """(network, its variable) of the pod and service networks."""
        return [(span, "k8s_pod_cidr") for span in self.pod.values() if span] + \
               [(span, "k8s_service_cidr") for span in self.service.values() if span]

    def parse_cidrs(self, name: str) -> dict[str, Span | None]:
        raw = self.s[name]
        items = [p.strip() for p in raw.split(",")] if isinstance(raw, str) else raw
        result: dict[str, Span | None] = {"ipv4": None, "ipv6": None}
        if not isinstance(items, list) or not items or len(items) > 2:
            self.problems.error(name, raw, "must be one CIDR, or one IPv4 and one IPv6 CIDR (dual-stack)",
                                "e.g. 10.244.0.0/16, or [10.244.0.0/16, fd00:10:244::/56]")
            return result
        for i, item in enumerate(items):
            label = name if len(items) == 1 else f"{name}[{i}]"
            try:
                net = parse_network(item)
            except AddrError as exc:
                self.problems.error(label, item, exc.why, exc.fix)
                continue
            fam = family_name(net.version)
            if result[fam] is not None:
                self.problems.error(label, item, f"is a second {fam} network; dual-stack takes one of each family",
                                    f"keep one {fam} network")
                continue
            result[fam] = network_span(net)
        return result

    def check_families(self) -> None:
        svc_fams = {f for f, v in self.service.items() if v}
        if self.pod_families and svc_fams and self.pod_families != svc_fams:
            self.problems.error("k8s_service_cidr", self.s["k8s_service_cidr"],
                                f"has families {sorted(svc_fams)} but k8s_pod_cidr has {sorted(self.pod_families)}",
                                "give both the same families (one network of each for dual-stack)")

    def check_overlaps(self, nodes: list[NodeNet]) -> None:
        networks = self.cluster_networks
        for (a, a_var), (b, b_var) in overlapping_pairs(networks):
            if a_var != b_var:
                self.problems.error(b_var, b.text, f"overlaps {a_var} {a.text}",
                                    "pick pod and service networks that do not overlap")
        # Many nodes share the same subnets: compare each distinct subnet once.
        holders: dict[Span, list[str]] = {}
        for node in nodes:
            for subnet, iface in node.subnets:
                holders.setdefault(subnet, []).append(f"{node.name} {iface}")
        for span, var in networks:
            for subnet, who in holders.items():
                if subnet.overlaps(span):
                    self.problems.error(var, span.text, f"overlaps the host network {subnet.text} "
                                        f"(on {names(who)}): pod or service traffic would be routed "
                                        "into the cluster instead of to that network, or the reverse",
                                        f"choose a {var.split('_')[1]} network outside every host subnet")

    def check_node_prefixes(self, node_count: int) -> dict:
        """Per family: how many node subnets the pod network holds, how many the nodes use."""
        subnets = {}
        for fam, var, bits in (("ipv4", "k8s_node_pod_prefix", 32), ("ipv6", "k8s_node_pod_prefix_ipv6", 128)):
            span = self.pod[fam]
            if span is None:
                continue
            prefix = self.s[var]
            cluster_prefix = bits - (span.size.bit_length() - 1)
            if not isinstance(prefix, int) or isinstance(prefix, bool) or not 1 <= prefix <= bits:
                self.problems.error(var, prefix, f"is not a prefix length 1..{bits}", "e.g. 24 (IPv4) or 64 (IPv6)")
                continue
            if prefix <= cluster_prefix:
                self.problems.error(var, prefix, f"must be longer than the pod network's /{cluster_prefix} "
                                    f"({span.text}), or there is at most one node subnet",
                                    f"use a prefix between /{cluster_prefix + 1} and /{min(bits, cluster_prefix + 16)}")
                continue
            if prefix - cluster_prefix > MAX_NODE_MASK_DIFF:
                self.problems.error(var, prefix, f"is more than {MAX_NODE_MASK_DIFF} bits longer than the pod "
                                    f"network's /{cluster_prefix}; kube-controller-manager refuses that",
                                    f"use at most /{cluster_prefix + MAX_NODE_MASK_DIFF} or a smaller pod network")
                continue
            capacity = 2 ** (prefix - cluster_prefix)
            if node_count > capacity:
                self.problems.error(var, prefix, f"gives {capacity} node subnets in {span.text} "
                                    f"but the inventory has {node_count} nodes",
                                    f"use a larger pod network or a longer node prefix (at most /{bits - 2})")
            if fam == "ipv4" and 2 ** (bits - prefix) - 2 < KUBELET_DEFAULT_MAX_PODS:
                self.problems.warning(var, prefix, f"leaves {2 ** (bits - prefix) - 2} pod addresses per node, "
                                      f"fewer than kubelet's default max-pods {KUBELET_DEFAULT_MAX_PODS}",
                                      "use /25 or shorter, or lower kubelet --max-pods to match")
            subnets[fam] = {"capacity": capacity, "used": node_count, "headroom": capacity - node_count}
        return subnets
