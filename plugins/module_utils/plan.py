"""The network plan: computed once on the controller, validated, read by every role.

``build_plan(inputs)`` takes what the ``onprem.k8snet.plan_inputs`` filter
collects from the inventory (contract variables per host, group membership,
the inventory address) and every host's ``node_facts``, runs the checkers of
``checks/`` (one concern each) and returns the normalized plan (see
docs/ARCHITECTURE.md) together with every problem found. A plan is only usable
when there is no error; warnings travel with it.
"""

from __future__ import annotations

import gc

from .checks import addons, hosts, settings
from .checks.metallb import PoolChecker, check_bgp_peers
from .checks.networks import NetworkChecker, node_networks
from .checks.ports import PortChecker
from .checks.settings import SUPPORTED_K8S_VERSIONS
from .live import kube_proxy_mode
from .nic import select_interfaces, summarize
from .probe import plan_probes
from .problems import Problems

PLAN_SCHEMA = 1
PROJECT_VERSION = "0.1.0"

__all__ = ["PLAN_SCHEMA", "PROJECT_VERSION", "SUPPORTED_K8S_VERSIONS", "build_plan", "summarize_plan"]


def build_plan(inputs: dict) -> tuple[dict | None, Problems]:
    """Validate the inventory and facts; return (plan or None, problems)."""
    # The plan is acyclic data built from many small objects: the cyclic garbage collector
    # would scan the growing heap again and again for nothing (a third of the time at 5,000 nodes).
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _build(inputs)
    finally:
        if enabled:
            gc.enable()


def _build(inputs: dict) -> tuple[dict | None, Problems]:
    host_data: dict = inputs.get("hosts") or {}
    ctx = settings.resolve(host_data, Problems())
    s = ctx.s
    settings.check_unknown_variables(ctx, inputs.get("unknown_variables") or {})
    addresses = settings.check_inventory(ctx, host_data)
    settings.check_choices(ctx)
    settings.check_kube_version(ctx, inputs.get("server_version"))
    networks = NetworkChecker(ctx)
    networks.check_families()
    facts = settings.check_facts(ctx, host_data)
    nodes = [node_networks(h, f) for h, f in facts.items()]
    networks.check_overlaps(nodes)
    subnets = networks.check_node_prefixes(len(host_data))
    addons.check_flannel(ctx)

    families = networks.pod_families
    choices, nic_problems = select_interfaces(
        {h: {"address": addresses[h], "facts": facts[h], "vars": d.get("vars", {})} for h, d in host_data.items()},
        {"flannel_iface": s["flannel_iface"], "flannel_iface_regex": s["flannel_iface_regex"],
         "flannel_iface_can_reach": s["flannel_iface_can_reach"],
         "families": {"ipv4": "ipv4" in families or not families, "ipv6": "ipv6" in families}})
    ctx.problems.extend(nic_problems)

    pools = PoolChecker(ctx)
    pools.parse(networks.cluster_networks)
    pools.check_against_nodes(nodes, choices)
    peers = check_bgp_peers(ctx, pools.pools)
    ports = PortChecker(ctx)
    nodeport_range = ports.check_nodeport_range(facts)
    fixed = ports.check_fixed_nodeports(nodeport_range)
    addons.check_ingress(ctx, pools.spans)
    exposed = addons.check_exposed(ctx, pools.spans, nodeport_range, fixed)
    to_load = hosts.check_kernels(ctx, facts)
    packet_filter = hosts.check_packet_filter(ctx, facts, live_kube_proxy_mode(inputs.get("kube_proxy")))
    addons.check_hostports_without_iptables(ctx, packet_filter["without_iptables"])
    hosts.check_listeners(ctx, facts)
    node_plans = hosts.node_plans(ctx, host_data, addresses=addresses, facts=facts, choices=choices,
                                  nodeport_range=nodeport_range)
    if ctx.problems.errors:
        return None, ctx.problems
    for host, modules in to_load.items():
        node_plans[host]["kernel_modules"] = modules
    plan = _assemble(ctx, inputs, pod=networks.pod, service=networks.service, subnets=subnets,
                     nodeport_range=nodeport_range, fixed=fixed, pools=pools.pools, peers=peers, choices=choices,
                     node_plans=node_plans, iface_summary=summarize(choices, per_node=s["k8s_apply"] == "api"),
                     exposed=exposed, packet_filter=packet_filter)
    plan["probes"] = plan_probes(node_plans, facts, s, plan["metallb"]["pools"])
    return plan, ctx.problems


def live_kube_proxy_mode(configmaps: list | None) -> str | None:
    """The mode of ConfigMap kube-system/kube-proxy as api mode read it (None: not read, absent or unreadable)."""
    mode = kube_proxy_mode(configmaps or [])[0]
    return None if mode == "unknown" else mode


def _assemble(ctx, inputs: dict, *, pod, service, subnets, nodeport_range, fixed, pools, peers, choices, node_plans,
              iface_summary, exposed, packet_filter) -> dict:
    s = ctx.s
    inventory_name = inputs.get("inventory_name") or "default"
    base_dir = inputs.get("base_dir") or "."
    # api mode without k8s_kubeconfig: the admin kubeconfig the network_plan role fetched
    fetched_kubeconfig = inputs.get("fetched_kubeconfig") or None
    render_dir = s["k8s_render_dir"] or f"rendered/{inventory_name}"
    if not render_dir.startswith("/"):
        render_dir = f"{base_dir.rstrip('/')}/{render_dir}"
    # Where verify.yml and access.yml write their reports (beside the objects in render mode).
    report_dir = render_dir if s["k8s_apply"] == "render" else \
        f"{base_dir.rstrip('/')}/reports/{inventory_name}"
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
            "inventory_name": inventory_name,
            "apply": s["k8s_apply"],
            "render_dir": render_dir,
            "report_dir": report_dir,
            "kubeconfig": s["k8s_kubeconfig"] or (fetched_kubeconfig if s["k8s_apply"] == "api" else None),
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
            "kube_proxy_mode": packet_filter["kube_proxy_mode"],
        },
        "flannel": {
            "backend": s["flannel_backend"], "vni": s["flannel_vni"], "port": s["flannel_port"],
            "mtu": s["flannel_mtu"] if isinstance(s["flannel_mtu"], int) else None,
            "iface_arg": iface_summary.get("iface_arg"),
            "annotate_nodes": iface_summary.get("annotate_nodes", False),
            "nftables": packet_filter["nftables"],
            "hosts_without_iptables": packet_filter["without_iptables"],
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
        "warnings": [str(p) for p in ctx.problems.warnings],
    }


def _status_address(exposure: str, node_plans: dict) -> str | None:
    """For nodeport/hostnetwork ingress: the node addresses Ingress objects should show."""
    if exposure not in ("nodeport", "hostnetwork"):
        return None
    workers = [n["iface"]["ipv4"] or n["iface"]["ipv6"] for n in node_plans.values() if n.get("iface")]
    return ",".join(a for a in workers if a) or None


def summarize_plan(plan: dict, max_nodes: int = 8) -> list[str]:
    """A few readable lines about a good plan (the validate playbook prints them)."""
    c, f, m, i = plan["cluster"], plan["flannel"], plan["metallb"], plan["ingress"]
    pods = ", ".join(v for v in c["pod_cidr"].values() if v)
    services = ", ".join(v for v in c["service_cidr"].values() if v)
    lines = [f"inventory {c['inventory_name']}: {len(plan['nodes'])} nodes, Kubernetes {c['kube_version']}, "
             f"apply mode {c['apply']}"
             + (f" -> {c['render_dir']}" if c["apply"] == "render" else "")]
    for fam, sub in c["pod_subnets"].items():
        lines.append(f"pods {c['pod_cidr'][fam]}: /{c['node_pod_prefix'][fam]} per node, {sub['capacity']} "
                     f"node subnets, {sub['used']} used, {sub['headroom']} free")
    lines.append(f"services {services}; NodePorts {c['nodeport_range']['start']}-{c['nodeport_range']['end']}")
    mtu = f"underlay MTU {f['mtu']}" if f["mtu"] else "MTU auto"
    how = f"--iface={f['iface_arg']}" if f["iface_arg"] else "per-node public-ip annotation"
    lines.append(f"flannel {f['backend']} (VNI {f['vni']}, port {f['port']}, {mtu}, {how}) over {pods}")
    if f["nftables"]:
        why = f"kube-proxy in {c['kube_proxy_mode']} mode" if c["kube_proxy_mode"] == "nftables" else \
            "no host has iptables"
        lines.append(f"flannel programs nftables (EnableNFTables: {why})")
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
