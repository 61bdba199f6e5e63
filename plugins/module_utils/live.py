"""api mode: the plan checked against the live cluster before anything is changed.

An operator's kubeconfig may point at another cluster than the inventory's, and a cluster built by
someone else may disagree with the inventory's networks. Each check here reads what the cluster
itself says (Nodes, the control plane's flags, kube-proxy's configuration, what runs as a
DaemonSet, the Services' NodePorts) and reports, naming the variable, its value, what the cluster
says and the fix. Pure: the objects are read by the role (onprem.k8snet.k8s_read) and passed in.

    live = {"nodes": [...], "control_plane_pods": [...], "kube_proxy": [...], "daemonsets": [...],
            "services": [...]}
    summary, problems = check(plan, live, kubeconfig_source)
"""

from __future__ import annotations

import ipaddress

import yaml

from .kube import node_addresses, node_names
from .problems import Problems

EXCLUDE_LB = "node.kubernetes.io/exclude-from-external-load-balancers"
MANAGED_BY = ("app.kubernetes.io/managed-by", "k8snet")
# DaemonSets that mean another CNI runs (name -> the CNI); flannel is recognised by its own labels.
OTHER_CNIS = {"calico-node": "Calico", "cilium": "Cilium", "weave-net": "Weave Net", "kube-router": "kube-router",
              "canal": "Canal", "antrea-agent": "Antrea", "kube-ovn-cni": "Kube-OVN", "kindnet": "kindnet"}
FLANNEL_NAMESPACE = "kube-flannel"
DEFAULT_NODEPORT_RANGE = "30000-32767"          # kube-apiserver's default --service-node-port-range
DEFAULT_NODE_CIDR_MASK = {"ipv4": 24, "ipv6": 64}


def flags(pod: dict) -> dict[str, str]:
    """A control-plane static pod's --flag=value arguments (command and args of its first container)."""
    containers = (pod.get("spec") or {}).get("containers") or [{}]
    argv = (containers[0].get("command") or []) + (containers[0].get("args") or [])
    out = {}
    for arg in argv:
        if arg.startswith("--") and "=" in arg:
            key, value = arg[2:].split("=", 1)
            out[key] = value
    return out


def component_flags(pods: list[dict], component: str) -> dict[str, str] | None:
    """The flags of the first static pod of a control-plane component (label component=<name>), if it runs."""
    for pod in pods:
        if ((pod.get("metadata") or {}).get("labels") or {}).get("component") == component:
            return flags(pod)
    return None


def kube_proxy_mode(kube_proxy: list[dict]) -> tuple[str, bool | None]:
    """(mode, ipvs.strictARP) from ConfigMap kube-system/kube-proxy; mode "" is iptables (Linux default)."""
    if not kube_proxy:
        return "unknown", None
    text = (kube_proxy[0].get("data") or {}).get("config.conf") or "{}"
    try:
        conf = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        return "unknown", None
    mode = conf.get("mode") or "iptables"
    return mode, bool((conf.get("ipvs") or {}).get("strictARP"))


def _families(networks: dict) -> dict[str, ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return {family: ipaddress.ip_network(value) for family, value in (networks or {}).items() if value}


def _listed(value: str | None) -> list:
    return [ipaddress.ip_network(v.strip(), strict=False) for v in (value or "").split(",") if v.strip()]


class _Checker:
    def __init__(self, plan: dict, live: dict, kubeconfig: str):
        self.plan, self.live, self.kubeconfig = plan, live, kubeconfig
        self.problems = Problems()
        self.summary: list[str] = []

    def nodes(self) -> dict[str, dict]:
        """Inventory host -> its live Node, refusing a cluster whose Nodes are not the inventory's hosts."""
        found, problems = node_names(self.plan["nodes"], self.live.get("nodes") or [])
        for problem in problems:
            self.problems.error("k8s_kubeconfig", self.kubeconfig, f"the cluster it points at does not match the "
                                f"inventory: {problem}", "point k8s_kubeconfig at this inventory's cluster, or "
                                "join the missing hosts (kubeadm join) before running this")
        by_name = {n["metadata"]["name"]: n for n in self.live.get("nodes") or []}
        return {host: by_name[name] for host, name in found.items()}

    def pod_network(self, nodes: dict[str, dict], manager: dict | None) -> None:
        cluster = self.plan["cluster"]
        planned = _families(cluster["pod_cidr"])
        if manager is not None and manager.get("allocate-node-cidrs", "false") != "true":
            self.problems.error("k8s_pod_cidr", cluster["pod_cidr"].get("ipv4") or cluster["pod_cidr"].get("ipv6"),
                                "kube-controller-manager hands out no node pod subnets (--allocate-node-cidrs is not "
                                "true: kubeadm init ran without --pod-network-cidr), and flannel's kube subnet manager "
                                "needs one per Node", "re-create the cluster with kubeadm init --pod-network-cidr="
                                f"{','.join(str(n) for n in planned.values())}, or give kube-controller-manager "
                                "--allocate-node-cidrs=true --cluster-cidr=<k8s_pod_cidr>")
            return
        if manager is not None and manager.get("cluster-cidr"):
            theirs = _listed(manager["cluster-cidr"])
            if sorted(map(str, theirs)) != sorted(map(str, planned.values())):
                self.problems.error("k8s_pod_cidr", ",".join(str(n) for n in planned.values()),
                                    f"the cluster's pod network is {manager['cluster-cidr']} (kube-controller-manager "
                                    "--cluster-cidr); flannel would route another network than the Nodes' subnets",
                                    f"set k8s_pod_cidr: {manager['cluster-cidr']}")
        # --node-cidr-mask-size is the single-stack flag (of whichever family); dual-stack uses the -ipv4/-ipv6 ones.
        single = manager.get("node-cidr-mask-size") if manager is not None and len(planned) == 1 else None
        masks = {"ipv4": manager.get("node-cidr-mask-size-ipv4") or (single if "ipv4" in planned else None),
                 "ipv6": manager.get("node-cidr-mask-size-ipv6") or (single if "ipv6" in planned else None)} \
            if manager is not None else {}
        for family, variable in (("ipv4", "k8s_node_pod_prefix"), ("ipv6", "k8s_node_pod_prefix_ipv6")):
            if family not in planned or manager is None:
                continue
            theirs = int(masks.get(family) or DEFAULT_NODE_CIDR_MASK[family])
            ours = cluster["node_pod_prefix"][family]
            if theirs != ours:
                # the flag that decides (set, or at its default): single-stack one, else the family's own
                flag = "node-cidr-mask-size" if len(planned) == 1 and not manager.get(f"node-cidr-mask-size-{family}") \
                    else f"node-cidr-mask-size-{family}"
                self.problems.error(variable, ours, f"kube-controller-manager gives each Node a /{theirs} (--{flag})",
                                    f"set {variable}: {theirs}")
        for host, node in sorted(nodes.items()):
            spec = node.get("spec") or {}
            subnets = [ipaddress.ip_network(c) for c in spec.get("podCIDRs") or ([spec["podCIDR"]] if
                                                                                   spec.get("podCIDR") else [])]
            if not subnets:
                self.problems.error("k8s_pod_cidr", ",".join(str(n) for n in planned.values()),
                                    f"Node {node['metadata']['name']} ({host}) has no podCIDR, so flannel cannot "
                                    "start there", "check kube-controller-manager (--allocate-node-cidrs, "
                                    "--cluster-cidr) and that the Node registered after it ran")
            for subnet in subnets:
                family = "ipv4" if subnet.version == 4 else "ipv6"
                net = planned.get(family)
                if net is None or not subnet.subnet_of(net):
                    self.problems.error("k8s_pod_cidr", str(net) if net else None,
                                        f"Node {node['metadata']['name']} ({host}) has podCIDR {subnet}, outside it",
                                        "set k8s_pod_cidr to the cluster's pod network (kubectl get nodes -o "
                                        "jsonpath='{.items[*].spec.podCIDRs}')")

    def service_network(self, apiserver: dict | None) -> None:
        if apiserver is None:
            return
        cluster = self.plan["cluster"]
        planned = _families(cluster["service_cidr"])
        theirs = apiserver.get("service-cluster-ip-range")
        if theirs and sorted(map(str, _listed(theirs))) != sorted(map(str, planned.values())):
            self.problems.error("k8s_service_cidr", ",".join(str(n) for n in planned.values()),
                                f"kube-apiserver serves ClusterIPs from {theirs} (--service-cluster-ip-range)",
                                f"set k8s_service_cidr: {theirs}")
        theirs_range = apiserver.get("service-node-port-range") or DEFAULT_NODEPORT_RANGE
        ours = f"{cluster['nodeport_range']['start']}-{cluster['nodeport_range']['end']}"
        if theirs_range != ours:
            self.problems.error("k8s_nodeport_range", ours, f"kube-apiserver allocates NodePorts from {theirs_range} "
                                "(--service-node-port-range); fixed NodePorts outside it are refused and the "
                                "nodes' reserved ports would not match", f"set k8s_nodeport_range: {theirs_range}")

    def other_cnis(self) -> None:
        for ds in self.live.get("daemonsets") or []:
            meta = ds.get("metadata") or {}
            labels = meta.get("labels") or {}
            where = f"{meta.get('namespace')}/{meta.get('name')}"
            if meta.get("name") in OTHER_CNIS:
                self.problems.error("k8s_kubeconfig", self.kubeconfig, f"the cluster already runs another CNI, "
                                    f"{OTHER_CNIS[meta['name']]} (DaemonSet {where}); two CNIs on one node break "
                                    "pod networking", f"remove {OTHER_CNIS[meta['name']]} first (its own uninstall "
                                    "steps, then reboot or clean /etc/cni/net.d on every node), or leave this "
                                    "cluster's networking to it")
            elif labels.get("app") == "flannel" and meta.get("namespace") != FLANNEL_NAMESPACE:
                self.problems.error("k8s_kubeconfig", self.kubeconfig, f"an older flannel runs as DaemonSet {where} "
                                    f"(this project installs flannel in namespace {FLANNEL_NAMESPACE}); two flannels "
                                    "would fight over the same subnet lease and VXLAN device",
                                    f"delete it first (kubectl -n {meta.get('namespace')} delete daemonset "
                                    f"{meta.get('name')}; its ConfigMap, ServiceAccount and RBAC too), then run this")

    def kube_proxy(self) -> None:
        mode, strict_arp = kube_proxy_mode(self.live.get("kube_proxy") or [])
        note = f"kube-proxy: {mode} mode"
        if mode == "ipvs":
            note += f", strictARP {'on' if strict_arp else 'off'}"
        self.summary.append(note + " (ConfigMap kube-system/kube-proxy)")
        metallb = self.plan["metallb"]
        l2 = metallb["enabled"] and any(p["mode"] == "l2" for p in metallb.get("pools") or [])
        if mode == "nftables":
            self.local_policy_in_nftables_mode()
        if mode == "ipvs" and not strict_arp and l2 and not metallb["manage_kube_proxy"]:
            self.problems.error("metallb_manage_kube_proxy", False, "kube-proxy runs in IPVS mode with strictARP "
                                "off, so every node would answer ARP for MetalLB's L2 addresses",
                                "set ipvs.strictARP: true in ConfigMap kube-system/kube-proxy (key config.conf) "
                                "and restart the kube-proxy DaemonSet, or set metallb_manage_kube_proxy: true")

    def local_policy_in_nftables_mode(self) -> None:
        """kube-proxy's nftables mode short-circuits a LoadBalancer address only for externalTrafficPolicy
        Cluster: with Local, a pod of the cluster sending to the address of a Service is dropped on every node
        without an endpoint (traffic from outside is not affected). Warn per Service, naming it."""
        ingress = self.plan["ingress"]
        local = []
        if (ingress["enabled"] and ingress["exposure"] == "loadbalancer"
                and ingress["external_traffic_policy"] == "Local"):
            local.append(("ingress_external_traffic_policy", "the ingress controller's Service"))
        for i, entry in enumerate(self.plan.get("exposed_services") or []):
            if entry.get("type") == "loadbalancer" and entry.get("external_traffic_policy") == "Local":
                local.append((f"k8s_exposed_services[{i}].external_traffic_policy",
                              f"Service {entry.get('namespace')}/{entry.get('name')}"))
        for variable, who in local:
            self.problems.warning(variable, "Local", f"kube-proxy runs in nftables mode: pods of this cluster cannot "
                                  f"reach the LoadBalancer address of {who} from nodes that run none of its endpoints "
                                  "(clients outside the cluster are not affected)",
                                  "use Cluster where pods must reach it by that address, or have them use its "
                                  "ClusterIP or DNS name")

    def announcers(self, nodes: dict[str, dict]) -> None:
        metallb = self.plan["metallb"]
        pools = [p for p in metallb.get("pools") or [] if p["mode"] == "l2"] if metallb["enabled"] else []
        if not pools or not nodes:
            return
        excluded = sorted(h for h, n in nodes.items() if EXCLUDE_LB in ((n.get("metadata") or {}).get("labels") or {}))
        if len(excluded) == len(nodes):
            self.problems.error("metallb_pools", [p["name"] for p in pools], "no node can announce their addresses: "
                                f"every Node ({', '.join(excluded)}) carries the label {EXCLUDE_LB} (kubeadm puts it "
                                "on control-plane nodes), and MetalLB announces from none of them",
                                f"add a worker node, or remove the label: kubectl label node <node> {EXCLUDE_LB}-")

    def nodeports(self) -> None:
        """Fixed NodePorts of the ingress controller that a live Service of someone else already holds."""
        ingress = self.plan["ingress"]
        if not ingress["enabled"] or ingress["exposure"] != "nodeport":
            return
        held = _held_nodeports(self.live.get("services") or [])
        for variable in ("ingress_http_nodeport", "ingress_https_nodeport"):
            port = ingress.get(variable.removeprefix("ingress_"))
            holder = held.get(port)
            if port is not None and holder is not None and not holder[1]:
                self.problems.error(variable, port, f"NodePort {port} is already held by Service {holder[0]} (the "
                                    "API allocates a NodePort number once, whatever the protocol)",
                                    "pick another NodePort, or free it in that Service first")


def _held_nodeports(services: list[dict]) -> dict[int, tuple[str, bool]]:
    """NodePort number -> (the Service holding it, whether that Service is this project's)."""
    held = {}
    for svc in services:
        meta = svc.get("metadata") or {}
        ours = (meta.get("labels") or {}).get(MANAGED_BY[0]) == MANAGED_BY[1]
        for port in (svc.get("spec") or {}).get("ports") or []:
            if port.get("nodePort"):
                held[port["nodePort"]] = (f"{meta.get('namespace')}/{meta.get('name')}", ours)
    return held


def check(plan: dict, live: dict, kubeconfig: str) -> tuple[list[str], Problems]:
    """Lines for the plan summary (kube-proxy's mode, the Nodes matched) and the problems found."""
    c = _Checker(plan, live, kubeconfig)
    nodes = c.nodes()
    pods = live.get("control_plane_pods") or []
    c.pod_network(nodes, component_flags(pods, "kube-controller-manager"))
    c.service_network(component_flags(pods, "kube-apiserver"))
    c.other_cnis()
    c.kube_proxy()
    c.announcers(nodes)
    c.nodeports()
    if nodes:
        c.summary.insert(0, "cluster: " + ", ".join(
            f"{host} = Node {node['metadata']['name']} ({'/'.join(node_addresses(node))})"
            for host, node in sorted(nodes.items())))
    return c.summary, c.problems
