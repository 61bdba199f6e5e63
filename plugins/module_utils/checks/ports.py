"""The NodePort range, the ingress controller's fixed NodePorts, and the ports each node opens."""

from __future__ import annotations

from ..addr import AddrError, parse_port_range
from ..problems import names
from . import Context, is_int

WIREGUARD_PORTS = (51820, 51821)
MIN_EPHEMERAL_PORTS = 10_000


class PortChecker:
    def __init__(self, ctx: Context):
        self.s, self.problems = ctx.s, ctx.problems

    def cluster_ports(self) -> list[tuple[int, int, str]]:
        """Ports the cluster and this installer use on nodes, with their owner."""
        s = self.s
        ports = [(6443, 6443, "kube-apiserver"), (2379, 2380, "etcd"), (10250, 10250, "kubelet"),
                 (10248, 10248, "kubelet healthz"), (10249, 10249, "kube-proxy metrics"),
                 (10256, 10256, "kube-proxy healthz"), (10257, 10257, "kube-controller-manager"),
                 (10259, 10259, "kube-scheduler"), (8081, 8081, "flanneld healthz")]
        backend = s["flannel_backend"]
        if backend == "vxlan" and isinstance(s["flannel_port"], int):
            ports.append((s["flannel_port"], s["flannel_port"], "flannel vxlan (udp)"))
        if backend == "wireguard":
            ports.append((WIREGUARD_PORTS[0], WIREGUARD_PORTS[1], "flannel wireguard (udp)"))
        if s["metallb_enabled"]:
            ports += [(7472, 7472, "MetalLB metrics"), (7946, 7946, "MetalLB memberlist")]
        if s["ingress_enabled"] and s["ingress_exposure"] == "hostnetwork":
            ports += [(80, 80, "ingress controller HTTP (host network)"),
                      (443, 443, "ingress controller HTTPS (host network)")]
        return ports

    def check_nodeport_range(self, facts: dict) -> tuple[int, int] | None:
        """k8s_nodeport_range: clear of the cluster's ports, leaving every host enough ephemeral ports."""
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
                                    f"overlaps the ephemeral port range {e_start}-{e_end} of {names(hosts)}; "
                                    f"reserving it would leave {remaining} ephemeral ports (< {MIN_EPHEMERAL_PORTS})",
                                    "move the NodePort range below the ephemeral range, or widen "
                                    "net.ipv4.ip_local_port_range")
        return start, end

    def check_fixed_nodeports(self, nodeport_range: tuple[int, int] | None) -> dict[str, int | None]:
        """The ingress controller's fixed NodePorts: numbers inside the range, HTTP and HTTPS apart."""
        fixed: dict[str, int | None] = {}
        for var in ("ingress_http_nodeport", "ingress_https_nodeport"):
            value = self.s[var]
            fixed[var] = value
            if value is None:
                continue
            if not is_int(value):
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

    def host_ports(self, nodeport_range: tuple[int, int]) -> list[dict]:
        """What node preparation opens in a host firewall on every node."""
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


def merge_reserved(current: str, nodeport_range: tuple[int, int] | None) -> str:
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
