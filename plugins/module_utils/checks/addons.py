"""The add-ons' own settings: flannel's backend and numbers, the ingress controller, exposed Services."""

from __future__ import annotations

from .. import contract
from ..addr import AddrError, Span, address_span, parse_address
from ..problems import names
from ..services import check_exposed_services
from . import Context, is_int

BACKENDS = ("vxlan", "host-gw", "wireguard")


def check_flannel(ctx: Context) -> None:
    s, problems = ctx.s, ctx.problems
    if s["flannel_backend"] not in BACKENDS:
        problems.error("flannel_backend", s["flannel_backend"], "is not a supported backend",
                       f"use one of {', '.join(BACKENDS)}")
    for var, low, high in (("flannel_vni", 1, 16777215), ("flannel_port", 1, 65535)):
        value = s[var]
        if not is_int(value) or not low <= value <= high:
            problems.error(var, value, f"is not an integer {low}..{high}",
                           f"use {contract.CONTRACT[var].default} unless the network needs another")
    mtu = s["flannel_mtu"]
    if mtu != "auto" and (not is_int(mtu) or not 1280 <= mtu <= 9000):
        problems.error("flannel_mtu", mtu, "is neither auto nor an MTU 1280..9000",
                       "use auto (the NIC's MTU) or the underlay MTU, e.g. 1500 or 9000")
    # flannel_iface_regex and flannel_iface_can_reach are checked (once, grouped) by NIC selection.


def check_hostports_without_iptables(ctx: Context, without_iptables: list[str]) -> None:
    """The F5 controller's DaemonSet keeps upstream's hostPorts 80 and 443 (but with hostnetwork exposure, where
    the pods are on the host network): containerd hands them to the CNI portmap plugin, which drives iptables
    unless it is CNI plugins 1.5 or later with its nftables backend. A warning when hosts have no iptables."""
    s = ctx.s
    if not (without_iptables and s["ingress_enabled"] and s["ingress_controller"] == "nginx"
            and s["ingress_kind"] == "daemonset" and s["ingress_exposure"] != "hostnetwork"):
        return
    ctx.problems.warning("ingress_kind", "daemonset", "keeps the controller's hostPorts 80 and 443, which containerd "
                         f"hands to the CNI portmap plugin, and {names(without_iptables)} have no iptables: portmap "
                         "before CNI plugins 1.5, or without its nftables backend, fails there and the controller's "
                         "pods do not start", "use ingress_kind: deployment, or ingress_exposure: hostnetwork, or "
                         "CNI plugins 1.5 or later with \"backend\": \"nftables\" in portmap's CNI configuration")


def check_ingress(ctx: Context, pool_spans: list[tuple[Span, str]]) -> None:
    s, problems = ctx.s, ctx.problems
    if not s["ingress_enabled"]:
        return
    if s["ingress_controller"] not in ("nginx", "ingress-nginx"):
        problems.error("ingress_controller", s["ingress_controller"], "is not a supported controller",
                       "use nginx (F5 NGINX Ingress Controller) or ingress-nginx (retired community one)")
    elif s["ingress_controller"] == "ingress-nginx":
        problems.warning("ingress_controller", "ingress-nginx",
                         "the community ingress-nginx controller was retired in March 2026 and gets no more fixes",
                         "migrate to ingress_controller: nginx (F5 NGINX Ingress Controller): install it "
                         "with another IngressClass, move Ingresses over, then remove ingress-nginx")
    if s["ingress_exposure"] not in ("loadbalancer", "nodeport", "hostnetwork"):
        problems.error("ingress_exposure", s["ingress_exposure"], "is not a supported exposure",
                       "use loadbalancer, nodeport or hostnetwork")
    if s["ingress_exposure"] == "loadbalancer" and not s["metallb_enabled"]:
        problems.warning("ingress_exposure", "loadbalancer", "needs a LoadBalancer implementation and "
                         "metallb_enabled is false; the Service stays <pending> without one",
                         "enable MetalLB, bring your own load balancer, or use nodeport/hostnetwork")
    if s["ingress_kind"] not in ("deployment", "daemonset"):
        problems.error("ingress_kind", s["ingress_kind"], "is not deployment or daemonset",
                       "use deployment or daemonset")
    if s["ingress_external_traffic_policy"] not in ("Local", "Cluster"):
        problems.error("ingress_external_traffic_policy", s["ingress_external_traffic_policy"],
                       "is not Local or Cluster", "use Local (keeps client IPs) or Cluster")
    if (s["ingress_exposure"] == "nodeport" and s["ingress_kind"] == "deployment"
            and s["ingress_external_traffic_policy"] == "Local"):
        problems.warning("ingress_external_traffic_policy", "Local",
                         "with ingress_exposure nodeport and ingress_kind deployment only the nodes that run "
                         "a controller pod answer on the NodePorts (the others drop the connection), while "
                         "Ingress status lists every node",
                         "set ingress_kind: daemonset (every node answers, client IPs kept), or "
                         "ingress_external_traffic_policy: Cluster (every node forwards, client IPs hidden), "
                         "or health-check the NodePort in the external load balancer")
    lb_ip = s["ingress_lb_ip"]
    if lb_ip is None:
        return
    try:
        ip = address_span(parse_address(lb_ip))
    except AddrError as exc:
        problems.error("ingress_lb_ip", lb_ip, exc.why, exc.fix)
        return
    if s["ingress_exposure"] != "loadbalancer":
        problems.warning("ingress_lb_ip", lb_ip, f"is ignored with ingress_exposure {s['ingress_exposure']}",
                         "remove it or use ingress_exposure: loadbalancer")
    elif not any(span.contains(ip) for span, _ in pool_spans):
        problems.error("ingress_lb_ip", lb_ip, "is not inside any of metallb_pools",
                       "pick an address from a MetalLB pool (or add it to one)")


def check_exposed(ctx: Context, pool_spans: list[tuple[Span, str]], nodeport_range, fixed: dict) -> list[dict]:
    """k8s_exposed_services, checked against the NodePorts and LB addresses the ingress already takes."""
    s = ctx.s
    ingress_np = s["ingress_enabled"] and s["ingress_exposure"] == "nodeport"
    reserved = {("TCP", port): var for var, port in fixed.items() if ingress_np and port is not None}
    used = ({s["ingress_lb_ip"]: "ingress_lb_ip"}
            if s["ingress_enabled"] and s["ingress_exposure"] == "loadbalancer" and s["ingress_lb_ip"] else {})
    entries, problems = check_exposed_services(
        s["k8s_exposed_services"], nodeport_range=nodeport_range, metallb_enabled=bool(s["metallb_enabled"]),
        pool_spans=pool_spans, reserved_nodeports=reserved, used_lb_ips=used, apply_mode=s["k8s_apply"])
    ctx.problems.extend(problems)
    return entries
