"""module_utils/live.py: the plan against what a live cluster says (api mode's validation phase)."""

from __future__ import annotations

import copy

import pytest
from ansible_collections.onprem.k8snet.plugins.filter.live_check import FilterModule as LiveCheck
from ansible_collections.onprem.k8snet.plugins.module_utils import live

from tests.unit.planfixtures import make_plan, pool

KUBECONFIG = "/root/.cache/k8snet/lab/admin.conf (fetched from node1:/etc/kubernetes/admin.conf)"


def node(k: int, *, pod_cidr: str | None = "default", labels: dict | None = None, name: str | None = None) -> dict:
    spec = {} if pod_cidr is None else {"podCIDR": f"10.244.{k - 1}.0/24" if pod_cidr == "default" else pod_cidr}
    if "podCIDR" in spec:
        spec["podCIDRs"] = [spec["podCIDR"]]
    return {"metadata": {"name": name or f"node{k}", "labels": labels or {}}, "spec": spec,
            "status": {"addresses": [{"type": "InternalIP", "address": f"192.168.56.{10 + k}"},
                                     {"type": "Hostname", "address": f"node{k}"}]}}


def static_pod(component: str, *args: str) -> dict:
    return {"metadata": {"name": f"{component}-node1", "labels": {"component": component, "tier": "control-plane"}},
            "spec": {"containers": [{"command": [component, *args]}]}}


KUBEADM = [static_pod("kube-apiserver", "--advertise-address=192.168.56.11", "--service-cluster-ip-range=10.96.0.0/12"),
           static_pod("kube-controller-manager", "--allocate-node-cidrs=true", "--cluster-cidr=10.244.0.0/16")]


def kube_proxy(conf: str) -> list[dict]:
    return [{"metadata": {"name": "kube-proxy"}, "data": {"config.conf": conf}}]


def daemonset(namespace: str, name: str, **labels) -> dict:
    return {"metadata": {"namespace": namespace, "name": name, "labels": labels}}


def cluster(**parts) -> dict:
    base = {"nodes": [node(k) for k in (1, 2, 3)], "control_plane_pods": KUBEADM,
            "kube_proxy": kube_proxy("mode: \"\"\n"), "daemonsets": [daemonset("kube-system", "kube-proxy")],
            "services": []}
    return {**base, **copy.deepcopy(parts)}


def errors(plan: dict, parts: dict) -> list[str]:
    return [str(p) for p in live.check(plan, parts, KUBECONFIG)[1].errors]


def test_the_inventorys_cluster_passes_and_the_summary_names_each_hosts_node_and_kube_proxys_mode():
    summary, problems = live.check(make_plan(), cluster(), KUBECONFIG)
    assert not problems.items
    assert summary == ["cluster: node1 = Node node1 (192.168.56.11), node2 = Node node2 (192.168.56.12), "
                       "node3 = Node node3 (192.168.56.13)",
                       "kube-proxy: iptables mode (ConfigMap kube-system/kube-proxy)"]


def test_node_names_may_differ_from_inventory_names():
    renamed = cluster(nodes=[node(k, name=f"worker-{k}") for k in (1, 2, 3)])
    summary, problems = live.check(make_plan(), renamed, KUBECONFIG)
    assert not problems.items and summary[0].startswith("cluster: node1 = Node worker-1 (192.168.56.11)")


def test_another_clusters_kubeconfig_is_refused_naming_the_host_without_a_node():
    other = cluster(nodes=[node(k) for k in (1, 2)])
    (error,) = errors(make_plan(), other)
    assert error.startswith(f"k8s_kubeconfig = {KUBECONFIG}: the cluster it points at does not match the inventory: "
                            "node3: no Node of the cluster has the InternalIP 192.168.56.13")
    assert error.endswith("Fix: point k8s_kubeconfig at this inventory's cluster, or join the missing hosts "
                          "(kubeadm join) before running this")


def test_kubeadm_without_pod_network_cidr_is_refused_before_flannel_would_crash():
    pods = [KUBEADM[0], static_pod("kube-controller-manager", "--bind-address=127.0.0.1")]
    (error,) = errors(make_plan(), cluster(nodes=[node(k, pod_cidr=None) for k in (1, 2, 3)], control_plane_pods=pods))
    assert error.startswith("k8s_pod_cidr = 10.244.0.0/16: kube-controller-manager hands out no node pod subnets "
                            "(--allocate-node-cidrs is not true: kubeadm init ran without --pod-network-cidr)")
    assert "kubeadm init --pod-network-cidr=10.244.0.0/16" in error


@pytest.mark.parametrize(("parts", "expected"), [
    ({"control_plane_pods": [KUBEADM[0], static_pod("kube-controller-manager", "--allocate-node-cidrs=true",
                                                    "--cluster-cidr=10.85.0.0/16")],
      "nodes": [node(k, pod_cidr=f"10.85.{k}.0/24") for k in (1, 2, 3)]},
     ["k8s_pod_cidr = 10.244.0.0/16: the cluster's pod network is 10.85.0.0/16 (kube-controller-manager "
      "--cluster-cidr); flannel would route another network than the Nodes' subnets. Fix: set k8s_pod_cidr: "
      "10.85.0.0/16",
      *(f"k8s_pod_cidr = 10.244.0.0/16: Node node{k} (node{k}) has podCIDR 10.85.{k}.0/24, outside it"
        for k in (1, 2, 3))]),
    ({"control_plane_pods": [KUBEADM[0], static_pod("kube-controller-manager", "--allocate-node-cidrs=true",
                                                    "--cluster-cidr=10.244.0.0/16", "--node-cidr-mask-size=25")]},
     ["k8s_node_pod_prefix = 24: kube-controller-manager gives each Node a /25 (--node-cidr-mask-size). "
      "Fix: set k8s_node_pod_prefix: 25"]),
    ({"control_plane_pods": [static_pod("kube-apiserver", "--service-cluster-ip-range=10.100.0.0/16",
                                        "--service-node-port-range=30000-31000"), KUBEADM[1]]},
     ["k8s_service_cidr = 10.96.0.0/12: kube-apiserver serves ClusterIPs from 10.100.0.0/16 "
      "(--service-cluster-ip-range). Fix: set k8s_service_cidr: 10.100.0.0/16",
      "k8s_nodeport_range = 30000-32767: kube-apiserver allocates NodePorts from 30000-31000"]),
], ids=["pod-network", "mask-size", "service-network-and-nodeports"])
def test_networks_the_cluster_disagrees_on(parts, expected):
    found = errors(make_plan(), cluster(**parts))
    assert len(found) == len(expected), found
    for error, start in zip(found, expected, strict=True):
        assert error.startswith(start), (error, start)


def test_a_plan_nodeport_range_that_is_the_apiservers_default_passes_without_the_flag():
    assert errors(make_plan(), cluster()) == []
    narrow = make_plan(cluster={"nodeport_range": {"start": 30000, "end": 30999}})
    assert [e.split(":")[0] for e in errors(narrow, cluster())] == ["k8s_nodeport_range = 30000-30999"]


def test_another_cni_or_an_older_flannel_is_refused_and_ours_is_not():
    ours = daemonset("kube-flannel", "kube-flannel-ds", app="flannel")
    assert errors(make_plan(), cluster(daemonsets=[ours])) == []
    calico_node = daemonset("kube-system", "calico-node", k8s_app="calico-node")
    (calico,) = errors(make_plan(), cluster(daemonsets=[calico_node]))
    assert "the cluster already runs another CNI, Calico (DaemonSet kube-system/calico-node)" in calico
    (old,) = errors(make_plan(), cluster(daemonsets=[daemonset("kube-system", "kube-flannel-ds", app="flannel")]))
    assert "an older flannel runs as DaemonSet kube-system/kube-flannel-ds" in old
    assert "kubectl -n kube-system delete daemonset kube-flannel-ds" in old


def test_ipvs_without_strict_arp_is_refused_only_when_metallb_may_not_fix_it():
    ipvs = cluster(kube_proxy=kube_proxy("mode: ipvs\nipvs:\n  strictARP: false\n"))
    summary, problems = live.check(make_plan(), ipvs, KUBECONFIG)
    assert not problems.items
    assert summary[-1] == "kube-proxy: ipvs mode, strictARP off (ConfigMap kube-system/kube-proxy)"
    (error,) = errors(make_plan(metallb={"manage_kube_proxy": False}), ipvs)
    assert error.startswith("metallb_manage_kube_proxy = False: kube-proxy runs in IPVS mode with strictARP off")
    nftables = cluster(kube_proxy=kube_proxy("mode: nftables\n"))
    assert live.check(make_plan(), nftables, KUBECONFIG)[0][-1].startswith("kube-proxy: nftables mode")


def test_l2_pools_need_a_node_without_the_exclude_label():
    label = {live.EXCLUDE_LB: ""}
    one_control_plane = make_plan(node_count=1, metallb={"pools": [pool(interfaces={"node1": "eth1"})]})
    (error,) = errors(one_control_plane, cluster(nodes=[node(1, labels=label)]))
    assert error.startswith("metallb_pools = ['lab-pool']: no node can announce their addresses: every Node (node1) "
                            f"carries the label {live.EXCLUDE_LB}")
    assert errors(make_plan(), cluster(nodes=[node(1, labels=label), node(2), node(3)])) == []
    assert errors(make_plan(metallb={"pools": []}), cluster(nodes=[node(k, labels=label) for k in (1, 2, 3)])) == []


def test_a_fixed_ingress_nodeport_another_service_holds_on_any_protocol_is_refused():
    plan = make_plan(ingress={"exposure": "nodeport", "http_nodeport": 30080, "https_nodeport": 30443})
    dns = {"metadata": {"namespace": "kube-system", "name": "dns-np", "labels": {}},
           "spec": {"ports": [{"protocol": "UDP", "port": 53, "nodePort": 30080}]}}
    (error,) = errors(plan, cluster(services=[dns]))
    assert error.startswith("ingress_http_nodeport = 30080: NodePort 30080 is already held by Service "
                            "kube-system/dns-np (the API allocates a NodePort number once, whatever the protocol)")
    dns["metadata"]["labels"] = {"app.kubernetes.io/managed-by": "k8snet"}        # ours: a re-run
    assert errors(plan, cluster(services=[dns])) == []


def test_the_single_stack_mask_flag_is_read_for_an_ipv6_only_cluster():
    plan = make_plan(cluster={"pod_cidr": {"ipv4": None, "ipv6": "fd00:10:244::/56"}})
    nodes = [node(k, pod_cidr=f"fd00:10:244:{k}::/64") for k in (1, 2, 3)]
    pods = [KUBEADM[0], static_pod("kube-controller-manager", "--allocate-node-cidrs=true",
                                   "--cluster-cidr=fd00:10:244::/56", "--node-cidr-mask-size=80")]
    found = [e for e in errors(plan, cluster(nodes=nodes, control_plane_pods=pods)) if "prefix" in e]
    assert found == ["k8s_node_pod_prefix_ipv6 = 64: kube-controller-manager gives each Node a /80 "
                     "(--node-cidr-mask-size). Fix: set k8s_node_pod_prefix_ipv6: 80"]


def test_local_traffic_policy_with_kube_proxy_in_nftables_mode_is_a_warning_naming_each_service():
    nft = cluster(kube_proxy=kube_proxy("mode: nftables\n"))
    exposed = [{"name": "dns", "namespace": "kube-system", "type": "loadbalancer", "external_traffic_policy": "Local"},
               {"name": "web", "namespace": "apps", "type": "loadbalancer", "external_traffic_policy": "Cluster"}]
    summary, problems = live.check(make_plan(exposed_services=exposed), nft, KUBECONFIG)
    assert not problems.errors and summary[-1] == "kube-proxy: nftables mode (ConfigMap kube-system/kube-proxy)"
    warned = {w.variable: w for w in problems.warnings}
    assert set(warned) == {"ingress_external_traffic_policy", "k8s_exposed_services[0].external_traffic_policy"}
    assert "pods of this cluster cannot reach the LoadBalancer address of Service kube-system/dns" in \
        warned["k8s_exposed_services[0].external_traffic_policy"].why
    # the negative control: the same plan against kube-proxy in iptables mode warns about none of them
    _, quiet = live.check(make_plan(exposed_services=exposed), cluster(kube_proxy=kube_proxy("mode: iptables\n")),
                          KUBECONFIG)
    assert not quiet.warnings
    # what the validation phase shows: the filter's summary ends with them, and lists them apart
    shown = LiveCheck().filters()["live_check"](make_plan(exposed_services=exposed), nft, KUBECONFIG)
    assert len(shown["warnings"]) == 2 and shown["summary"][-2:] == [f"warning: {w}" for w in shown["warnings"]]
