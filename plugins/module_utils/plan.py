"""The network plan: computed once on the controller, validated, read by every role.

``build_plan(inputs)`` takes what the ``onprem.k8snet.plan_inputs`` filter
collects from the inventory (contract variables per host, group membership,
the inventory address) and every host's ``node_facts``, and returns the
normalized plan (see docs/ARCHITECTURE.md) together with every problem found.
A plan is only usable when there is no error; warnings travel with it.
"""

from __future__ import annotations

import gc
import re
from dataclasses import dataclass, field

import netaddr

from . import contract
from .addr import (
    AddrError,
    Span,
    SpanIndex,
    address_span,
    family_name,
    network_span,
    overlapping_pairs,
    parse_address,
    parse_network,
    parse_port_range,
    parse_range_entry,
)
from .probe import plan_probes
from .problems import Problems
from .services import check_exposed_services

PLAN_SCHEMA = 1
PROJECT_VERSION = "0.1.0"
SUPPORTED_K8S_VERSIONS = ("1.31", "1.32", "1.33", "1.34", "1.35")

BACKENDS = ("vxlan", "host-gw", "wireguard")
BACKEND_OVERHEAD = {"vxlan": 50, "wireguard": 80, "host-gw": 0}
WIREGUARD_PORTS = (51820, 51821)
MIN_EPHEMERAL_PORTS = 10_000
KUBELET_DEFAULT_MAX_PODS = 110
# kube-controller-manager refuses node masks more than 16 bits longer than the cluster CIDR.
MAX_NODE_MASK_DIFF = 16

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")

# Interfaces whose addresses the cluster itself puts there (inside the pod or
# service CIDR by design); they are not "host networks" for the overlap rules.
CLUSTER_OWNED_IFACE_PREFIXES = ("flannel", "cni", "kube-ipvs", "cali", "tunl", "vxlan.calico",
                                "cilium", "weave", "nodelocaldns", "kube-bridge")

SHOW = 5  # hosts named in one message before "and N more"
# Ansible's spellings of booleans (what `| bool` accepts).
_TRUE = {"true", "yes", "on", "1", "y", "t"}
_FALSE = {"false", "no", "off", "0", "n", "f"}
# Integer variables that are unset by default (their default says nothing of their type).
_OPTIONAL_INTS = {"ingress_http_nodeport", "ingress_https_nodeport"}


def _names(hosts: list[str]) -> str:
    shown = ", ".join(hosts[:SHOW])
    return shown + (f" and {len(hosts) - SHOW} more" if len(hosts) > SHOW else "")


@dataclass
class NodeNet:
    """What the overlap rules need from one node's facts."""

    name: str
    addresses: list[tuple[Span, str]] = field(default_factory=list)  # (address, iface)
    subnets: list[tuple[Span, str]] = field(default_factory=list)    # (connected subnet, iface)
    gateways: list[Span] = field(default_factory=list)


class PlanBuilder:
    def __init__(self, inputs: dict):
        self.hosts: dict = inputs.get("hosts") or {}
        self.unknown: dict = inputs.get("unknown_variables") or {}
        self.inventory_name: str = inputs.get("inventory_name") or "default"
        self.base_dir: str = inputs.get("base_dir") or "."
        # api mode without k8s_kubeconfig: the admin kubeconfig the network_plan role fetched
        self.fetched_kubeconfig: str | None = inputs.get("fetched_kubeconfig") or None
        self.problems = Problems()
        self.s: dict = {}

    # ------------------------------------------------------------------ settings
    def resolve_settings(self) -> None:
        """Cluster-wide values: the same on every host, else an error naming the hosts that differ."""
        values = contract.defaults()
        for name, var in contract.CONTRACT.items():
            if var.per_host:
                # Per-host variables reach NIC selection with each host's vars; there is no cluster value.
                values[name] = None
                continue
            seen: dict[str, list[str]] = {}
            first = None
            for host, data in self.hosts.items():
                if name in data.get("vars", {}):
                    value = data["vars"][name]
                    if first is None:
                        first = value
                    # Equality first: most hosts share the cluster value, and == is cheaper than repr.
                    key = repr(first) if value == first else repr(value)
                    seen.setdefault(key, []).append(host)
            if first is not None:
                values[name] = self.coerce(name, first, var.default)
            if len(seen) > 1:
                variants = "; ".join(f"{k} on {_names(v)}" for k, v in seen.items())
                self.problems.error(name, first, f"differs between hosts ({variants}); it is cluster-wide",
                                    "set it once for the whole cluster (group_vars/k8s_cluster)")
            elif seen and sum(len(v) for v in seen.values()) != len(self.hosts):
                missing = [h for h in self.hosts if name not in self.hosts[h].get("vars", {})]
                self.problems.error(name, first, f"is set on some hosts but not on {_names(missing)}",
                                    "set it once for the whole cluster (group_vars/k8s_cluster)")
        self.s = values

    def coerce(self, name: str, value: object, default: object) -> object:
        """`-e name=value` gives strings: read them as the boolean or integer the variable is."""
        if not isinstance(value, str):
            return value
        if isinstance(default, bool):
            lowered = value.strip().lower()
            if lowered in _TRUE or lowered in _FALSE:
                return lowered in _TRUE
            self.problems.error(name, value, "is not a boolean", "use true or false")
            return default
        if (isinstance(default, int) or default == "auto" or name in _OPTIONAL_INTS) and value.strip().isdigit():
            return int(value)
        return value

    def check_unknown_variables(self) -> None:
        for name, hosts in sorted(self.unknown.items()):
            suggestion = contract.closest(name)
            where = f"set on {_names(sorted(hosts))}"
            if suggestion:
                self.problems.warning(name, "(defined)", f"is not a variable of this project ({where}); "
                                      f"it looks like a misspelling of {suggestion}",
                                      f"rename it to {suggestion}")

    # ------------------------------------------------------------------ inventory
    def check_inventory(self) -> dict[str, str | None]:
        control = [h for h, d in self.hosts.items() if "kube_control_plane" in d.get("groups", [])]
        workers = [h for h, d in self.hosts.items() if "kube_node" in d.get("groups", [])]
        if not control:
            self.problems.error("kube_control_plane", [], "has no hosts",
                                "put the control-plane node(s) in group kube_control_plane, a child of k8s_cluster")
        if not workers:
            self.problems.error("kube_node", [], "has no hosts",
                                "put the worker nodes (or, in a one-node cluster, the control-plane node) "
                                "in group kube_node, a child of k8s_cluster")
        by_address: dict[str, list[str]] = {}
        addresses: dict[str, str | None] = {}
        for host, data in self.hosts.items():
            address = data.get("address")
            addresses[host] = address
            if address:
                by_address.setdefault(address, []).append(host)
        for address, hosts in by_address.items():
            if len(hosts) > 1:
                self.problems.error(f"ansible_host (hosts {_names(hosts)})", address,
                                    "is the address of several hosts", "give every host its own address")
        return addresses

    # ------------------------------------------------------------------ CIDRs
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

    def check_node_prefixes(self, pod: dict[str, Span | None], node_count: int) -> dict:
        subnets = {}
        for fam, var, bits in (("ipv4", "k8s_node_pod_prefix", 32), ("ipv6", "k8s_node_pod_prefix_ipv6", 128)):
            span = pod[fam]
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

    # ------------------------------------------------------------------ node networks
    @staticmethod
    def node_networks(host: str, facts: dict) -> NodeNet:
        net = NodeNet(host)
        for iface in facts.get("interfaces", []):
            name = iface.get("name", "")
            if iface.get("kind") == "loopback" or name == "lo" or name.startswith(CLUSTER_OWNED_IFACE_PREFIXES):
                continue
            for a in iface.get("addresses", []):
                ipnet = netaddr.IPNetwork(f"{a['address']}/{a['prefix']}")
                net.addresses.append((Span(ipnet.value, ipnet.value, ipnet.version, a["address"]), name))
                net.subnets.append((Span(ipnet.first, ipnet.last, ipnet.version, "", ipnet.prefixlen), name))
        for route in facts.get("default_routes", []):
            if route.get("gateway"):
                net.gateways.append(address_span(route["gateway"]))
        return net

    def check_cluster_overlaps(self, pod: dict, service: dict, nodes: list[NodeNet]) -> None:
        networks = [(span, "k8s_pod_cidr") for span in pod.values() if span] + \
                   [(span, "k8s_service_cidr") for span in service.values() if span]
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
            clashes = [(subnet, who) for subnet, who in holders.items() if subnet.overlaps(span)]
            for subnet, who in clashes:
                self.problems.error(var, span.text, f"overlaps the host network {subnet.text} "
                                    f"(on {_names(who)}): pod or service traffic would be routed "
                                    "into the cluster instead of to that network, or the reverse",
                                    f"choose a {var.split('_')[1]} network outside every host subnet")

    # ------------------------------------------------------------------ pools
    def parse_pools(self, pod: dict, service: dict) -> list[dict]:
        pools = self.s["metallb_pools"]
        if not self.s["metallb_enabled"]:
            return []
        if not isinstance(pools, list):
            self.problems.error("metallb_pools", pools, "is not a list", "give a list of {name, addresses, mode}")
            return []
        parsed: list[dict] = []
        names: dict[str, int] = {}
        for i, pool in enumerate(pools):
            where = f"metallb_pools[{i}]"
            if not isinstance(pool, dict):
                self.problems.error(where, pool, "is not a mapping", "write {name: ..., addresses: [...]}")
                continue
            name = pool.get("name")
            if not isinstance(name, str) or not DNS1123_LABEL.match(name):
                self.problems.error(f"{where}.name", name, "is not a DNS-1123 label (it becomes the "
                                    "IPAddressPool name)", "use lower-case letters, digits and '-', at most 63")
            elif name in names:
                self.problems.error(f"{where}.name", name, f"is also the name of metallb_pools[{names[name]}]",
                                    "give every pool its own name")
            else:
                names[name] = i
            mode = pool.get("mode", "l2")
            if mode not in ("l2", "bgp"):
                self.problems.error(f"{where}.mode", mode, "is not l2 or bgp", "use l2 or bgp")
            for key in ("auto_assign", "avoid_buggy_ips"):
                if key in pool and not isinstance(pool[key], bool):
                    self.problems.error(f"{where}.{key}", pool[key], "is not a boolean", "use true or false")
            addresses = pool.get("addresses")
            if isinstance(addresses, str):
                addresses = [addresses]
            if not isinstance(addresses, list) or not addresses:
                self.problems.error(f"{where}.addresses", addresses, "is empty or not a list",
                                    "list CIDRs or ranges, e.g. [192.168.56.240-192.168.56.250]")
                addresses = []
            spans = []
            for j, entry in enumerate(addresses):
                try:
                    spans.append((parse_range_entry(entry), f"{where}.addresses[{j}]"))
                except AddrError as exc:
                    self.problems.error(f"{where}.addresses[{j}]", entry, exc.why, exc.fix)
            unknown_keys = set(pool) - {"name", "addresses", "mode", "auto_assign", "avoid_buggy_ips"}
            for key in sorted(unknown_keys):
                self.problems.warning(f"{where}.{key}", pool[key], "is not a pool setting of this project",
                                      "remove it (known: name, addresses, mode, auto_assign, avoid_buggy_ips)")
            parsed.append({"index": i, "name": name, "mode": mode,
                           "auto_assign": pool.get("auto_assign", True),
                           "avoid_buggy_ips": pool.get("avoid_buggy_ips", False), "spans": spans})
        all_spans = [(span, (p["name"], label)) for p in parsed for span, label in p["spans"]]
        for (a, (_, a_label)), (b, (_, b_label)) in overlapping_pairs(all_spans):
            self.problems.error(b_label, b.text, f"overlaps {a_label} ({a.text})",
                                "pools (and entries of one pool) must not overlap")
        cluster_nets = [(s, "k8s_pod_cidr") for s in pod.values() if s] + \
                       [(s, "k8s_service_cidr") for s in service.values() if s]
        for span, (_, label) in all_spans:
            for net, var in cluster_nets:
                if span.overlaps(net):
                    self.problems.error(label, span.text, f"overlaps {var} {net.text}",
                                        "take LoadBalancer addresses from a host network, outside pod and "
                                        "service networks")
        return parsed

    def check_pools_against_nodes(self, pools: list[dict], nodes: list[NodeNet], choices: dict) -> None:
        entries = [(span, label) for p in pools for span, label in p["spans"]]
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
            self.problems.error(label, value, f"contains addresses already in use: {_names(sorted(set(found)))}; "
                                "MetalLB would answer ARP for them and cut those hosts off",
                                "shrink the pool to free addresses of the node subnet")
        # L2 pools must be reachable on the NIC flannel (and MetalLB) uses on every node.
        # Nodes grouped by the subnets of their chosen NIC: few groups, however many nodes.
        groups: dict[tuple, list[str]] = {}
        for node in nodes:
            choice = choices.get(node.name)
            if choice:
                key = tuple(sorted({s for s, iface in node.subnets if iface == choice["name"]}))
                groups.setdefault(key, []).append(f"{node.name} {choice['name']}")
        for pool in pools:
            if pool["mode"] != "l2":
                continue
            for span, label in pool["spans"]:
                outside = [who for subnets, members in groups.items()
                           if not any(s.contains(span) for s in subnets) for who in members]
                if outside:
                    self.problems.error(label, span.text, "is not inside the subnet of the chosen NIC on "
                                        f"{_names(outside)}; L2 mode answers ARP only on the local segment",
                                        "pick addresses from the subnet every node shares, or use mode: bgp")

    def check_bgp_peers(self, pools: list[dict]) -> list[dict]:
        peers = self.s["metallb_bgp_peers"]
        if not self.s["metallb_enabled"]:
            return []
        if not isinstance(peers, list):
            self.problems.error("metallb_bgp_peers", peers, "is not a list", "give a list of {address, asn, my_asn}")
            return []
        result = []
        for i, peer in enumerate(peers):
            where = f"metallb_bgp_peers[{i}]"
            if not isinstance(peer, dict):
                self.problems.error(where, peer, "is not a mapping", "write {address: ..., asn: ..., my_asn: ...}")
                continue
            try:
                address = str(parse_address(peer.get("address")))
            except AddrError as exc:
                self.problems.error(f"{where}.address", peer.get("address"), exc.why, exc.fix)
                address = None
            for key in ("asn", "my_asn"):
                asn = peer.get(key)
                if not isinstance(asn, int) or isinstance(asn, bool) or not 1 <= asn <= 4294967295:
                    self.problems.error(f"{where}.{key}", asn, "is not an AS number 1..4294967295",
                                        "e.g. 64512 (private range 64512-65534)")
            port = peer.get("port", 179)
            if not isinstance(port, int) or not 1 <= port <= 65535:
                self.problems.error(f"{where}.port", port, "is not a port 1..65535", "leave it unset for 179")
            name = peer.get("name", f"peer-{i}")
            if not isinstance(name, str) or not DNS1123_LABEL.match(name):
                self.problems.error(f"{where}.name", name, "is not a DNS-1123 label", "e.g. tor-switch-1")
            result.append({"name": name, "address": address, "asn": peer.get("asn"), "my_asn": peer.get("my_asn"),
                           "port": port, "hold_time": peer.get("hold_time"),
                           "keepalive_time": peer.get("keepalive_time"),
                           "password_secret": peer.get("password_secret"),
                           "node_selectors": peer.get("node_selectors")})
        if any(p["mode"] == "bgp" for p in pools) and not result:
            self.problems.error("metallb_bgp_peers", [], "is empty but a pool has mode: bgp",
                                "add the routers to peer with, or use mode: l2")
        return result

    # ------------------------------------------------------------------ ports
    def cluster_ports(self) -> list[tuple[int, int, str]]:
        """Ports the cluster and this installer use on nodes, with their owner."""
        ports = [(6443, 6443, "kube-apiserver"), (2379, 2380, "etcd"), (10250, 10250, "kubelet"),
                 (10248, 10248, "kubelet healthz"), (10249, 10249, "kube-proxy metrics"),
                 (10256, 10256, "kube-proxy healthz"), (10257, 10257, "kube-controller-manager"),
                 (10259, 10259, "kube-scheduler"), (8081, 8081, "flanneld healthz")]
        backend = self.s["flannel_backend"]
        if backend == "vxlan" and isinstance(self.s["flannel_port"], int):
            ports.append((self.s["flannel_port"], self.s["flannel_port"], "flannel vxlan (udp)"))
        if backend == "wireguard":
            ports.append((WIREGUARD_PORTS[0], WIREGUARD_PORTS[1], "flannel wireguard (udp)"))
        if self.s["metallb_enabled"]:
            ports += [(7472, 7472, "MetalLB metrics"), (7946, 7946, "MetalLB memberlist")]
        if self.s["ingress_enabled"] and self.s["ingress_exposure"] == "hostnetwork":
            ports += [(80, 80, "ingress controller HTTP (host network)"),
                      (443, 443, "ingress controller HTTPS (host network)")]
        return ports

    def check_nodeports(self, facts: dict) -> tuple[int, int] | None:
        try:
            start, end = parse_port_range(self.s["k8s_nodeport_range"])
        except AddrError as exc:
            self.problems.error("k8s_nodeport_range", self.s["k8s_nodeport_range"], exc.why, exc.fix)
            return None
        for first, last, owner in self.cluster_ports():
            if first <= end and start <= last:
                port = f"{first}" if first == last else f"{first}-{last}"
                self.problems.error("k8s_nodeport_range", f"{start}-{end}", f"contains port {port} used by {owner}",
                                    "move the range clear of it (the apiserver default is 30000-32767)")
        by_range: dict[tuple[int, int], list[str]] = {}
        for host, f in facts.items():
            eph = f.get("ip_local_port_range")
            if eph:
                by_range.setdefault(tuple(eph), []).append(host)
        for (e_start, e_end), hosts in by_range.items():
            overlap = max(0, min(end, e_end) - max(start, e_start) + 1)
            remaining = (e_end - e_start + 1) - overlap
            if overlap and remaining < MIN_EPHEMERAL_PORTS:
                self.problems.error("k8s_nodeport_range", f"{start}-{end}",
                                    f"overlaps the ephemeral port range {e_start}-{e_end} of {_names(hosts)}; "
                                    f"reserving it would leave {remaining} ephemeral ports (< {MIN_EPHEMERAL_PORTS})",
                                    "move the NodePort range below the ephemeral range, or widen "
                                    "net.ipv4.ip_local_port_range")
        return start, end

    def check_fixed_nodeports(self, nodeport_range: tuple[int, int] | None) -> dict[str, int | None]:
        fixed: dict[str, int | None] = {}
        for var in ("ingress_http_nodeport", "ingress_https_nodeport"):
            value = self.s[var]
            fixed[var] = value
            if value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool):
                self.problems.error(var, value, "is not a port number", "e.g. 30080")
                fixed[var] = None
            elif nodeport_range and not nodeport_range[0] <= value <= nodeport_range[1]:
                self.problems.error(var, value, "is outside k8s_nodeport_range "
                                    f"{nodeport_range[0]}-{nodeport_range[1]}", "pick a port inside the NodePort range")
        http, https = fixed["ingress_http_nodeport"], fixed["ingress_https_nodeport"]
        if http is not None and http == https:
            self.problems.error("ingress_https_nodeport", https, "is the same as ingress_http_nodeport",
                                "give HTTP and HTTPS different NodePorts")
        return fixed

    # ------------------------------------------------------------------ flannel
    def check_flannel(self) -> None:
        s = self.s
        if s["flannel_backend"] not in BACKENDS:
            self.problems.error("flannel_backend", s["flannel_backend"], "is not a supported backend",
                                f"use one of {', '.join(BACKENDS)}")
        for var, low, high in (("flannel_vni", 1, 16777215), ("flannel_port", 1, 65535)):
            value = s[var]
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                self.problems.error(var, value, f"is not an integer {low}..{high}",
                                    f"use {contract.CONTRACT[var].default} unless the network needs another")
        mtu = s["flannel_mtu"]
        if mtu != "auto" and (not isinstance(mtu, int) or isinstance(mtu, bool) or not 1280 <= mtu <= 9000):
            self.problems.error("flannel_mtu", mtu, "is neither auto nor an MTU 1280..9000",
                                "use auto (the NIC's MTU) or the underlay MTU, e.g. 1500 or 9000")
        # flannel_iface_regex and flannel_iface_can_reach are checked (once, grouped) by NIC selection.

    # ------------------------------------------------------------------ ingress
    def check_ingress(self, pools: list[dict]) -> None:
        s = self.s
        if not s["ingress_enabled"]:
            return
        if s["ingress_controller"] not in ("nginx", "ingress-nginx"):
            self.problems.error("ingress_controller", s["ingress_controller"], "is not a supported controller",
                                "use nginx (F5 NGINX Ingress Controller) or ingress-nginx (retired community one)")
        elif s["ingress_controller"] == "ingress-nginx":
            self.problems.warning("ingress_controller", "ingress-nginx",
                                  "the community ingress-nginx controller was retired in March 2026 and gets no "
                                  "more fixes",
                                  "migrate to ingress_controller: nginx (F5 NGINX Ingress Controller): install it "
                                  "with another IngressClass, move Ingresses over, then remove ingress-nginx")
        if s["ingress_exposure"] not in ("loadbalancer", "nodeport", "hostnetwork"):
            self.problems.error("ingress_exposure", s["ingress_exposure"], "is not a supported exposure",
                                "use loadbalancer, nodeport or hostnetwork")
        if s["ingress_exposure"] == "loadbalancer" and not s["metallb_enabled"]:
            self.problems.warning("ingress_exposure", "loadbalancer", "needs a LoadBalancer implementation and "
                                  "metallb_enabled is false; the Service stays <pending> without one",
                                  "enable MetalLB, bring your own load balancer, or use nodeport/hostnetwork")
        if s["ingress_kind"] not in ("deployment", "daemonset"):
            self.problems.error("ingress_kind", s["ingress_kind"], "is not deployment or daemonset",
                                "use deployment or daemonset")
        if s["ingress_external_traffic_policy"] not in ("Local", "Cluster"):
            self.problems.error("ingress_external_traffic_policy", s["ingress_external_traffic_policy"],
                                "is not Local or Cluster", "use Local (keeps client IPs) or Cluster")
        if (s["ingress_exposure"] == "nodeport" and s["ingress_kind"] == "deployment"
                and s["ingress_external_traffic_policy"] == "Local"):
            self.problems.warning("ingress_external_traffic_policy", "Local",
                                  "with ingress_exposure nodeport and ingress_kind deployment only the nodes that run "
                                  "a controller pod answer on the NodePorts (the others drop the connection), while "
                                  "Ingress status lists every node",
                                  "set ingress_kind: daemonset (every node answers, client IPs kept), or "
                                  "ingress_external_traffic_policy: Cluster (every node forwards, client IPs hidden), "
                                  "or health-check the NodePort in the external load balancer")
        lb_ip = s["ingress_lb_ip"]
        if lb_ip is not None:
            try:
                ip = address_span(parse_address(lb_ip))
            except AddrError as exc:
                self.problems.error("ingress_lb_ip", lb_ip, exc.why, exc.fix)
                return
            if s["ingress_exposure"] != "loadbalancer":
                self.problems.warning("ingress_lb_ip", lb_ip, f"is ignored with ingress_exposure "
                                      f"{s['ingress_exposure']}", "remove it or use ingress_exposure: loadbalancer")
            elif not any(span.contains(ip) for p in pools for span, _ in p["spans"]):
                self.problems.error("ingress_lb_ip", lb_ip, "is not inside any of metallb_pools",
                                    "pick an address from a MetalLB pool (or add it to one)")

    # ------------------------------------------------------------------ exposed services
    def check_exposed(self, pools: list[dict], nodeport_range, fixed: dict) -> list[dict]:
        """k8s_exposed_services, checked against the NodePorts and LB addresses the ingress already takes."""
        s = self.s
        ingress_np = s["ingress_enabled"] and s["ingress_exposure"] == "nodeport"
        reserved = {("TCP", port): var for var, port in fixed.items() if ingress_np and port is not None}
        used = ({s["ingress_lb_ip"]: "ingress_lb_ip"}
                if s["ingress_enabled"] and s["ingress_exposure"] == "loadbalancer" and s["ingress_lb_ip"] else {})
        entries, problems = check_exposed_services(
            s["k8s_exposed_services"], nodeport_range=nodeport_range, metallb_enabled=bool(s["metallb_enabled"]),
            pool_spans=[(span, label) for p in pools for span, label in p["spans"]],
            reserved_nodeports=reserved, used_lb_ips=used, apply_mode=s["k8s_apply"])
        self.problems.extend(problems)
        return entries

    # ------------------------------------------------------------------ host checks
    def required_features(self) -> dict[str, str]:
        """Kernel features the plan needs, with what needs them."""
        needed = {"br_netfilter": "flanneld (bridge-nf-call-iptables)", "overlay": "the container runtime"}
        backend = self.s["flannel_backend"]
        if backend == "vxlan":
            needed["vxlan"] = "flannel_backend vxlan"
        elif backend == "wireguard":
            needed["wireguard"] = "flannel_backend wireguard"
        return needed

    def check_kernels(self, facts: dict) -> dict[str, list[str]]:
        """Absent features are errors; loadable ones are returned per host for node preparation to load."""
        to_load: dict[str, list[str]] = {}
        absent: dict[tuple[str, str], list[str]] = {}
        for host, f in facts.items():
            features = (f.get("kernel") or {}).get("features") or {}
            for feature, why in self.required_features().items():
                state = features.get(feature)
                if state == "absent":
                    absent.setdefault((feature, why), []).append(host)
                elif state == "module":
                    to_load.setdefault(host, []).append(feature)
        for (feature, why), hosts in sorted(absent.items()):
            variable = "flannel_backend" if "flannel_backend" in why else "hosts"
            fix = ("use flannel_backend vxlan (or host-gw on one L2 segment), or a kernel with WireGuard"
                   if feature == "wireguard" else f"use a kernel with {feature} (built in or as a module)")
            self.problems.error(variable, self.s["flannel_backend"] if variable == "flannel_backend" else _names(hosts),
                                f"{why} needs the kernel feature {feature}, which the kernel of "
                                f"{_names(hosts)} does not have (not loaded, not built in, no module)", fix)
        return to_load

    def check_listeners(self, facts: dict) -> None:
        """Host-network ingress binds 80/443 on every node: they must be free."""
        if not (self.s["ingress_enabled"] and self.s["ingress_exposure"] == "hostnetwork"):
            return
        for host, f in facts.items():
            for sock in f.get("listening") or []:
                if sock.get("protocol") == "tcp" and sock.get("port") in (80, 443):
                    holder = f"{sock.get('process') or 'unknown process'} (pid {sock.get('pid') or '?'})"
                    self.problems.error("ingress_exposure", "hostnetwork",
                                        f"needs port {sock['port']}/tcp free on every node, but on {host} "
                                        f"{holder} listens on {sock.get('address')}:{sock['port']}",
                                        f"stop that service on {host}, or use ingress_exposure loadbalancer "
                                        "or nodeport")

    # ------------------------------------------------------------------ assembly
    def build(self) -> tuple[dict | None, Problems]:
        from .nic import select_interfaces, summarize

        self.resolve_settings()
        self.check_unknown_variables()
        addresses = self.check_inventory()
        s = self.s
        for var, choices in (("k8s_apply", ("api", "render")), ("metallb_bgp_implementation", ("native", "frr-k8s")),
                             ("k8s_probe_scope", ("changes", "all"))):
            if s[var] not in choices:
                self.problems.error(var, s[var], "is not a known value", f"use {' or '.join(choices)}")
        if str(s["k8s_version"]) not in SUPPORTED_K8S_VERSIONS:
            self.problems.error("k8s_version", s["k8s_version"], "is not a supported Kubernetes version",
                                f"use one of {', '.join(SUPPORTED_K8S_VERSIONS)}")
        pod = self.parse_cidrs("k8s_pod_cidr")
        service = self.parse_cidrs("k8s_service_cidr")
        pod_fams = {f for f, v in pod.items() if v}
        svc_fams = {f for f, v in service.items() if v}
        if pod_fams and svc_fams and pod_fams != svc_fams:
            self.problems.error("k8s_service_cidr", s["k8s_service_cidr"],
                                f"has families {sorted(svc_fams)} but k8s_pod_cidr has {sorted(pod_fams)}",
                                "give both the same families (one network of each for dual-stack)")
        missing = [h for h, d in self.hosts.items() if not d.get("facts")]
        if missing:
            self.problems.error("hosts", _names(missing), "have no network facts (unreachable, or left out "
                                "by --limit); the plan needs every node of k8s_cluster",
                                "make the hosts reachable and run without --limit")
        facts = {h: d.get("facts") or {} for h, d in self.hosts.items()}
        nodes = [self.node_networks(h, f) for h, f in facts.items()]
        self.check_cluster_overlaps(pod, service, nodes)
        subnets = self.check_node_prefixes(pod, len(self.hosts))
        self.check_flannel()

        nic_nodes = {h: {"address": addresses[h], "facts": facts[h], "vars": d.get("vars", {})}
                     for h, d in self.hosts.items()}
        choices, nic_problems = select_interfaces(nic_nodes, {
            "flannel_iface": s["flannel_iface"], "flannel_iface_regex": s["flannel_iface_regex"],
            "flannel_iface_can_reach": s["flannel_iface_can_reach"],
            "families": {"ipv4": "ipv4" in pod_fams or not pod_fams, "ipv6": "ipv6" in pod_fams}})
        self.problems.extend(nic_problems)

        pools = self.parse_pools(pod, service)
        self.check_pools_against_nodes(pools, nodes, choices)
        peers = self.check_bgp_peers(pools)
        nodeport_range = self.check_nodeports(facts)
        fixed = self.check_fixed_nodeports(nodeport_range)
        self.check_ingress(pools)
        exposed = self.check_exposed(pools, nodeport_range, fixed)
        to_load = self.check_kernels(facts)
        self.check_listeners(facts)
        node_plans = self.node_plans(addresses, facts, choices, nodeport_range)
        if self.problems.errors:
            return None, self.problems
        for host, modules in to_load.items():
            node_plans[host]["kernel_modules"] = modules
        plan = self.assemble(pod=pod, service=service, subnets=subnets, nodeport_range=nodeport_range, fixed=fixed,
                             pools=pools, peers=peers, choices=choices, node_plans=node_plans,
                             iface_summary=summarize(choices, per_node=self.s["k8s_apply"] == "api"),
                             exposed=exposed)
        plan["probes"] = plan_probes(node_plans, facts, s, plan["metallb"]["pools"])
        return plan, self.problems

    def host_ports(self, nodeport_range: tuple[int, int]) -> list[dict]:
        s = self.s
        ports = []
        if s["flannel_backend"] == "vxlan":
            ports.append({"protocol": "udp", "port": str(s["flannel_port"]), "why": "flannel vxlan"})
        elif s["flannel_backend"] == "wireguard":
            ports.append({"protocol": "udp", "port": f"{WIREGUARD_PORTS[0]}-{WIREGUARD_PORTS[1]}",
                          "why": "flannel wireguard"})
        if s["metallb_enabled"]:
            ports += [{"protocol": p, "port": "7946", "why": "MetalLB memberlist"} for p in ("tcp", "udp")]
        ports += [{"protocol": p, "port": f"{nodeport_range[0]}-{nodeport_range[1]}", "why": "NodePort Services"}
                  for p in ("tcp", "udp")]
        if s["ingress_enabled"] and s["ingress_exposure"] == "hostnetwork":
            ports += [{"protocol": "tcp", "port": p, "why": "ingress controller (host network)"}
                      for p in ("80", "443")]
        return ports

    def node_plans(self, addresses: dict, facts: dict, choices: dict, nodeport_range) -> dict:
        s = self.s
        overhead = BACKEND_OVERHEAD.get(s["flannel_backend"], 0)
        fixed_mtu = s["flannel_mtu"] if isinstance(s["flannel_mtu"], int) else None
        plans = {}
        mtus: dict[int, list[str]] = {}
        too_small: dict[int, list[str]] = {}
        for host, data in self.hosts.items():
            choice = choices.get(host)
            pod_mtu = None
            if choice:
                if fixed_mtu and choice["mtu"] and fixed_mtu > choice["mtu"]:
                    too_small.setdefault(choice["mtu"], []).append(f"{host} {choice['name']}")
                pod_mtu = (fixed_mtu or choice["mtu"]) - overhead if (fixed_mtu or choice["mtu"]) else None
                mtus.setdefault(choice["mtu"], []).append(host)
            eph = facts[host].get("ip_local_port_range") or [32768, 60999]
            plans[host] = {
                "address": addresses[host],
                "control_plane": "kube_control_plane" in data.get("groups", []),
                "iface": choice,
                "pod_mtu": pod_mtu,
                "ephemeral_ports": {"start": eph[0], "end": eph[1]},
                "reserved_ports": _merge_reserved(facts[host].get("ip_local_reserved_ports", ""), nodeport_range),
                "host_ports": self.host_ports(nodeport_range) if nodeport_range else [],
                "kernel_modules": [],
                "firewall": facts[host].get("firewall") or {"kind": "none", "detail": ""},
            }
        for mtu, where in sorted(too_small.items()):
            self.problems.error("flannel_mtu", fixed_mtu, f"is larger than the MTU {mtu} of {_names(where)}; "
                                "encapsulated packets would be dropped", f"use at most {min(too_small)}")
        if fixed_mtu is None and len(mtus) > 1:
            smallest = min(mtus)
            self.problems.warning("flannel_mtu", "auto", "the chosen NICs have different MTUs ("
                                  + "; ".join(f"{m} on {_names(h)}" for m, h in sorted(mtus.items()))
                                  + "); with auto each flannel takes its own NIC's MTU and the larger pod "
                                  "packets are dropped on the smaller links",
                                  f"set flannel_mtu: {smallest} (or make the NIC MTUs equal)")
        return plans

    def assemble(self, *, pod, service, subnets, nodeport_range, fixed, pools, peers, choices, node_plans,
                 iface_summary, exposed) -> dict:
        s = self.s
        render_dir = s["k8s_render_dir"] or f"rendered/{self.inventory_name}"
        if not render_dir.startswith("/"):
            render_dir = f"{self.base_dir.rstrip('/')}/{render_dir}"
        # Where verify.yml and access.yml write their reports (beside the objects in render mode).
        report_dir = render_dir if s["k8s_apply"] == "render" else \
            f"{self.base_dir.rstrip('/')}/reports/{self.inventory_name}"
        plan_pools = []
        for p in pools:
            interfaces = {h: c["name"] for h, c in choices.items() if c} if p["mode"] == "l2" else {}
            plan_pools.append({
                "name": p["name"], "mode": p["mode"], "auto_assign": p["auto_assign"],
                "avoid_buggy_ips": p["avoid_buggy_ips"],
                "addresses": [span.text for span, _ in p["spans"]],
                "ranges": [{"first": span.first_ip(), "last": span.last_ip(), "family": span.family,
                            "size": span.size} for span, _ in p["spans"]],
                "interfaces": interfaces,
            })
        exposure = s["ingress_exposure"]
        control = [h for h, n in node_plans.items() if n["control_plane"]]
        return {
            "schema": PLAN_SCHEMA,
            "project_version": PROJECT_VERSION,
            "cluster": {
                "inventory_name": self.inventory_name,
                "apply": s["k8s_apply"],
                "render_dir": render_dir,
                "report_dir": report_dir,
                "kubeconfig": s["k8s_kubeconfig"] or (self.fetched_kubeconfig if s["k8s_apply"] == "api" else None),
                "kube_version": str(s["k8s_version"]),
                "allow_disruptive": bool(s["k8s_allow_disruptive"]),
                "adopt_existing": bool(s["k8s_adopt_existing"]),
                "upstream_mirror": s["upstream_mirror"],
                "registry_mirror": s["k8s_registry_mirror"],
                "pod_cidr": {f: (v.text if v else None) for f, v in pod.items()},
                "service_cidr": {f: (v.text if v else None) for f, v in service.items()},
                "node_pod_prefix": {"ipv4": s["k8s_node_pod_prefix"], "ipv6": s["k8s_node_pod_prefix_ipv6"]},
                "pod_subnets": subnets,
                "nodeport_range": {"start": nodeport_range[0], "end": nodeport_range[1]},
                "control_plane": control,
            },
            "flannel": {
                "backend": s["flannel_backend"], "vni": s["flannel_vni"], "port": s["flannel_port"],
                "mtu": s["flannel_mtu"] if isinstance(s["flannel_mtu"], int) else None,
                "iface_arg": iface_summary.get("iface_arg"),
                "annotate_nodes": iface_summary.get("annotate_nodes", False),
            },
            "metallb": {
                "enabled": bool(s["metallb_enabled"]),
                "bgp_implementation": s["metallb_bgp_implementation"],
                "manage_kube_proxy": bool(s["metallb_manage_kube_proxy"]),
                "pools": plan_pools,
                "bgp_peers": peers,
            },
            "ingress": {
                "enabled": bool(s["ingress_enabled"]),
                "controller": s["ingress_controller"],
                "exposure": exposure,
                "lb_ip": s["ingress_lb_ip"] if exposure == "loadbalancer" else None,
                "http_nodeport": fixed["ingress_http_nodeport"] if exposure == "nodeport" else None,
                "https_nodeport": fixed["ingress_https_nodeport"] if exposure == "nodeport" else None,
                "default_class": bool(s["ingress_default_class"]),
                "kind": "daemonset" if exposure == "hostnetwork" else s["ingress_kind"],
                "custom_resources": bool(s["ingress_custom_resources"]),
                "external_traffic_policy": s["ingress_external_traffic_policy"],
                "status_address": _status_address(exposure, node_plans),
            },
            "gateway_api": {"enabled": bool(s["gateway_api_enabled"])},
            "exposed_services": exposed,
            "nodes": node_plans,
            "warnings": [str(p) for p in self.problems.warnings],
        }


def _status_address(exposure: str, node_plans: dict) -> str | None:
    """For nodeport/hostnetwork ingress: the node addresses Ingress objects should show."""
    if exposure not in ("nodeport", "hostnetwork"):
        return None
    workers = [n["iface"]["ipv4"] or n["iface"]["ipv6"] for n in node_plans.values() if n.get("iface")]
    return ",".join(a for a in workers if a) or None


def _merge_reserved(current: str, nodeport_range: tuple[int, int] | None) -> str:
    """net.ipv4.ip_local_reserved_ports: what the host reserves already plus the NodePort range."""
    ranges = []
    for part in (current or "").replace(" ", "").split(","):
        if part:
            try:
                ranges.append(parse_port_range(part))
            except AddrError:
                continue
    if nodeport_range:
        ranges.append(nodeport_range)
    merged: list[list[int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return ",".join(f"{a}-{b}" if a != b else f"{a}" for a, b in merged)


def build_plan(inputs: dict) -> tuple[dict | None, Problems]:
    """Validate the inventory and facts; return (plan or None, problems)."""
    # The plan is acyclic data built from many small objects: the cyclic garbage collector
    # would scan the growing heap again and again for nothing (a third of the time at 5,000 nodes).
    enabled = gc.isenabled()
    gc.disable()
    try:
        return PlanBuilder(inputs).build()
    finally:
        if enabled:
            gc.enable()


def summarize_plan(plan: dict, max_nodes: int = 8) -> list[str]:
    """A few readable lines about a good plan (the validate playbook prints them)."""
    c, f, m, i = plan["cluster"], plan["flannel"], plan["metallb"], plan["ingress"]
    pods = ", ".join(v for v in c["pod_cidr"].values() if v)
    services = ", ".join(v for v in c["service_cidr"].values() if v)
    lines = [f"inventory {c['inventory_name']}: {len(plan['nodes'])} nodes, apply mode {c['apply']}"
             + (f" -> {c['render_dir']}" if c["apply"] == "render" else "")]
    for fam, sub in c["pod_subnets"].items():
        lines.append(f"pods {c['pod_cidr'][fam]}: /{c['node_pod_prefix'][fam]} per node, {sub['capacity']} "
                     f"node subnets, {sub['used']} used, {sub['headroom']} free")
    lines.append(f"services {services}; NodePorts {c['nodeport_range']['start']}-{c['nodeport_range']['end']}")
    mtu = f"underlay MTU {f['mtu']}" if f["mtu"] else "MTU auto"
    how = f"--iface={f['iface_arg']}" if f["iface_arg"] else "per-node public-ip annotation"
    lines.append(f"flannel {f['backend']} (VNI {f['vni']}, port {f['port']}, {mtu}, {how}) over {pods}")
    for n, (host, node) in enumerate(plan["nodes"].items()):
        if n == max_nodes:
            lines.append(f"... and {len(plan['nodes']) - max_nodes} more nodes")
            break
        iface = node["iface"] or {}
        lines.append(f"{host}: {iface.get('reason', 'no NIC chosen')}; pod MTU {node['pod_mtu']}")
    if m["enabled"]:
        for pool in m["pools"]:
            size = sum(r["size"] for r in pool["ranges"])
            lines.append(f"metallb pool {pool['name']} ({pool['mode']}): {', '.join(pool['addresses'])} "
                         f"({size} addresses)")
        if not m["pools"]:
            lines.append("metallb: no pools (LoadBalancer Services will stay pending until one is added)")
    if i["enabled"]:
        lines.append(f"ingress: {i['controller']} exposed via {i['exposure']}"
                     + (f" at {i['lb_ip']}" if i["lb_ip"] else ""))
    return lines
