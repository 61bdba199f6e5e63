"""What the plan needs of each host: kernel features, free listener ports, and each node's plan (MTU)."""

from __future__ import annotations

from ..problems import names
from . import Context
from .ports import PortChecker, merge_reserved

BACKEND_OVERHEAD = {"vxlan": 50, "wireguard": 80, "host-gw": 0}


def required_features(s: dict) -> dict[str, str]:
    """Kernel features the plan needs, with what needs them."""
    needed = {"br_netfilter": "flanneld (bridge-nf-call-iptables)", "overlay": "the container runtime"}
    backend = s["flannel_backend"]
    if backend == "vxlan":
        needed["vxlan"] = "flannel_backend vxlan"
    elif backend == "wireguard":
        needed["wireguard"] = "flannel_backend wireguard"
    return needed


# From this minor on kubelet refuses to start on a cgroup v1 host unless its configuration says
# failCgroupV1: false (and kubeadm's preflight stops too); cgroup v1 support is on its way out.
CGROUP_V1_REFUSED_FROM = (1, 35)


def check_cgroups(ctx: Context, facts: dict) -> None:
    """Hosts on cgroup v1 with a Kubernetes minor whose kubelet refuses them: one warning naming them."""
    v1 = sorted(host for host, f in facts.items() if (f.get("kernel") or {}).get("cgroup") == "v1")
    minor = tuple(int(x) for x in str(ctx.s["k8s_version"]).split(".")[:2] if x.isdigit())
    if v1 and minor >= CGROUP_V1_REFUSED_FROM:
        ctx.problems.warning("hosts", names(v1), f"run cgroup v1: kubelet {ctx.s['k8s_version']} refuses to start "
                             "there unless its configuration sets failCgroupV1: false (kubeadm's preflight then "
                             "needs SystemVerification ignored), and a later release drops cgroup v1 altogether",
                             "boot these hosts with the unified hierarchy (systemd.unified_cgroup_hierarchy=1, the "
                             "default of current distributions), or set failCgroupV1: false in KubeletConfiguration")


def check_kernels(ctx: Context, facts: dict) -> dict[str, list[str]]:
    """Absent features are errors; loadable ones are returned per host for node preparation to load."""
    to_load: dict[str, list[str]] = {}
    absent: dict[tuple[str, str], list[str]] = {}
    needed = required_features(ctx.s)
    for host, f in facts.items():
        features = (f.get("kernel") or {}).get("features") or {}
        for feature, why in needed.items():
            state = features.get(feature)
            if state == "absent":
                absent.setdefault((feature, why), []).append(host)
            elif state == "module":
                to_load.setdefault(host, []).append(feature)
    check_cgroups(ctx, facts)
    for (feature, why), hosts in sorted(absent.items()):
        variable = "flannel_backend" if "flannel_backend" in why else "hosts"
        fix = ("use flannel_backend vxlan (or host-gw on one L2 segment), or a kernel with WireGuard"
               if feature == "wireguard" else f"use a kernel with {feature} (built in or as a module)")
        ctx.problems.error(variable, ctx.s["flannel_backend"] if variable == "flannel_backend" else names(hosts),
                           f"{why} needs the kernel feature {feature}, which the kernel of "
                           f"{names(hosts)} does not have (not loaded, not built in, no module)", fix)
    return to_load


KUBE_PROXY_MODES = ("iptables", "ipvs", "nftables")


def check_packet_filter(ctx: Context, facts: dict, live_mode: str | None) -> dict:
    """kube-proxy's mode (k8s_kube_proxy_mode, else what the cluster says in api mode, else iptables) and whether
    flannel programs nftables instead of iptables (EnableNFTables): on with kube-proxy in nftables mode, and on
    hosts that have no iptables at all; hosts of both kinds under another mode are refused (one setting for all)."""
    wanted = ctx.s["k8s_kube_proxy_mode"]
    if wanted is not None and wanted not in KUBE_PROXY_MODES:
        ctx.problems.error("k8s_kube_proxy_mode", wanted, "is not a kube-proxy mode",
                           f"use {' or '.join(KUBE_PROXY_MODES)}")
        return {"kube_proxy_mode": None, "nftables": False, "without_iptables": []}
    if wanted and live_mode and wanted != live_mode:
        ctx.problems.error("k8s_kube_proxy_mode", wanted, "is not the mode the cluster's kube-proxy runs in "
                           f"({live_mode}, ConfigMap kube-system/kube-proxy)",
                           f"set k8s_kube_proxy_mode: {live_mode}, or leave it unset in api mode (the cluster's "
                           "mode is read), or change kube-proxy's mode first")
    mode = wanted or live_mode or "iptables"
    known = {h: f["packet_filter"] for h, f in facts.items() if isinstance(f.get("packet_filter"), dict)}
    without = sorted(h for h, p in known.items() if p.get("iptables") is None)
    with_iptables = sorted(h for h, p in known.items() if p.get("iptables") is not None) + \
        sorted(h for h in facts if h not in known)                # facts that do not say: as before, iptables
    if mode != "nftables" and without and with_iptables:
        ctx.problems.error("hosts", names(without), f"have no iptables while {names(with_iptables)} have it, and "
                           f"kube-proxy runs in {mode} mode: flannel programs either nftables or iptables on every "
                           "node (EnableNFTables is one setting)", "install iptables on these hosts (the iptables "
                           "package, nft backend), or run kube-proxy in nftables mode and set "
                           "k8s_kube_proxy_mode: nftables")
    return {"kube_proxy_mode": mode, "nftables": mode == "nftables" or bool(without and not with_iptables),
            "without_iptables": without}


def check_listeners(ctx: Context, facts: dict) -> None:
    """Host-network ingress binds 80/443 on every node: they must be free."""
    if not (ctx.s["ingress_enabled"] and ctx.s["ingress_exposure"] == "hostnetwork"):
        return
    for host, f in facts.items():
        for sock in f.get("listening") or []:
            if sock.get("protocol") == "tcp" and sock.get("port") in (80, 443):
                holder = f"{sock.get('process') or 'unknown process'} (pid {sock.get('pid') or '?'})"
                ctx.problems.error("ingress_exposure", "hostnetwork",
                                   f"needs port {sock['port']}/tcp free on every node, but on {host} "
                                   f"{holder} listens on {sock.get('address')}:{sock['port']}",
                                   f"stop that service on {host}, or use ingress_exposure loadbalancer or nodeport")


def node_plans(ctx: Context, hosts: dict, *, addresses: dict, facts: dict, choices: dict, nodeport_range) -> dict:
    """host -> its part of the plan (NIC, pod MTU, ports); a fixed flannel_mtu above a NIC's is an error,
    NICs of different MTUs with flannel_mtu auto a warning."""
    s = ctx.s
    overhead = BACKEND_OVERHEAD.get(s["flannel_backend"], 0)
    fixed_mtu = s["flannel_mtu"] if isinstance(s["flannel_mtu"], int) else None
    host_ports = PortChecker(ctx).host_ports(nodeport_range) if nodeport_range else []
    plans = {}
    mtus: dict[int, list[str]] = {}
    too_small: dict[int, list[str]] = {}
    for host, data in hosts.items():
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
            "reserved_ports": merge_reserved(facts[host].get("ip_local_reserved_ports", ""), nodeport_range),
            "host_ports": list(host_ports),
            "kernel_modules": [],
            "firewall": facts[host].get("firewall") or {"kind": "none", "detail": ""},
        }
    for mtu, where in sorted(too_small.items()):
        ctx.problems.error("flannel_mtu", fixed_mtu, f"is larger than the MTU {mtu} of {names(where)}; "
                           "encapsulated packets would be dropped", f"use at most {min(too_small)}")
    if fixed_mtu is None and len(mtus) > 1:
        smallest = min(mtus)
        ctx.problems.warning("flannel_mtu", "auto", "the chosen NICs have different MTUs ("
                             + "; ".join(f"{m} on {names(h)}" for m, h in sorted(mtus.items()))
                             + "); with auto each flannel takes its own NIC's MTU and the larger pod "
                             "packets are dropped on the smaller links",
                             f"set flannel_mtu: {smallest} (or make the NIC MTUs equal)")
    return plans
