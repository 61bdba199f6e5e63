"""kube-proxy in nftables mode and nodes without iptables, on the lab cluster, with real traffic.

- kube-proxy in nftables mode (tools/lab.py create --cluster --kube-proxy-mode nftables): the plan reads the
  mode from ConfigMap kube-system/kube-proxy and says flannel programs nftables; the live net-conf.json has
  EnableNFTables true and flanneld's masquerading is an nftables table on every node, not iptables chains; the
  warning about externalTrafficPolicy Local names the ingress Service; verify's four kinds PASS (pod-to-pod,
  a ClusterIP and CoreDNS, NodePorts, the MetalLB address and an Ingress from the client).
- negative control on the same cluster: k8s_kube_proxy_mode: iptables, which the cluster contradicts, stops the
  run in the validation phase naming the variable.
- nodes without the iptables package (--without-iptables, kube-proxy in its default mode): node facts say so,
  the plan turns EnableNFTables on because no host has iptables, and the four kinds PASS.
"""

from __future__ import annotations

import json

import pytest

from tests.integration.renders import task_results, traffic_lines

pytestmark = [pytest.mark.lab, pytest.mark.cluster, pytest.mark.upstream]

KINDS = ("intra-pod", "pod-to-pod", "pod-to-service", "external-to-service")


def net_conf(lab) -> dict:
    configmap = lab.kube_json("get", "configmap", "-n", "kube-flannel", "kube-flannel-cfg")
    return json.loads(configmap["data"]["net-conf.json"])


def nft_tables(lab, node: str) -> list[str]:
    return lab.exec(node, "nft list tables").stdout.splitlines()


def flannel_iptables_chains(lab, node: str) -> str:
    """flanneld's iptables chains, when the node has iptables ('' when it has none or they are absent)."""
    return lab.exec(node, "command -v iptables-save >/dev/null && iptables-save | grep -c FLANNEL || true").stdout


def plan_summary(result) -> list[str]:
    shown = task_results(result, "Show the plan")
    assert shown, "the plan was not shown"
    return next(iter(shown.values()))["msg"]


def cluster_says(result) -> list[str]:
    shown = task_results(result, "Show what the cluster says")
    assert shown, "the live check was not shown"
    return next(iter(shown.values()))["msg"]


def assert_four_kinds_pass(result) -> None:
    lines = traffic_lines(result)
    for kind in KINDS:
        assert any(line.startswith(kind) and " PASS " in line for line in lines), lines


def assert_flannel_on_nftables(lab) -> None:
    assert net_conf(lab)["EnableNFTables"] is True
    for node in lab.nodes:
        tables = nft_tables(lab, node)
        assert any("flannel" in table for table in tables), (node, tables)
        assert flannel_iptables_chains(lab, node).strip() in ("", "0"), node


@pytest.fixture(scope="module")
def nftables_lab(lab_manager):
    return lab_manager.get(cluster=True, kube_proxy_mode="nftables")


def test_kube_proxy_in_nftables_mode_flannel_follows_and_the_four_kinds_pass(nftables_lab, run_playbook):
    lab = nftables_lab
    result = run_playbook("site.yml", lab.inventory)
    assert result.rc == 0, result.why()
    summary = plan_summary(result)
    assert "flannel programs nftables (EnableNFTables: kube-proxy in nftables mode)" in summary, summary
    said = cluster_says(result)
    assert "kube-proxy: nftables mode (ConfigMap kube-system/kube-proxy)" in said, said
    # the upstream trap, named before it bites: pods cannot reach a LoadBalancer address with policy Local
    assert any(line.startswith("warning: ingress_external_traffic_policy = Local: kube-proxy runs in nftables "
                               "mode: pods of this cluster cannot reach the LoadBalancer address of the ingress "
                               "controller's Service") for line in said), said
    assert_flannel_on_nftables(lab)
    assert any("kube-proxy" in table for table in nft_tables(lab, lab.nodes[0]))     # kube-proxy's own table
    assert_four_kinds_pass(result)


def test_a_kube_proxy_mode_the_cluster_contradicts_stops_the_run_naming_the_variable(nftables_lab, run_playbook):
    result = run_playbook("site.yml", nftables_lab.inventory, extravars={"k8s_kube_proxy_mode": "iptables"})
    assert result.rc != 0
    message = result.failed_messages()
    assert "k8s_kube_proxy_mode" in message and "(nftables, ConfigMap kube-system/kube-proxy)" in message, message
    assert not result.changed_hosts(), result.changed_hosts()


@pytest.fixture(scope="module")
def iptables_less_lab(lab_manager, nftables_lab):
    del nftables_lab                                   # after the nftables tests: one lab at a time
    return lab_manager.get(cluster=True, without_iptables=True)


def test_nodes_without_iptables_get_flannel_on_nftables_and_the_four_kinds_pass(iptables_less_lab, run_playbook):
    lab = iptables_less_lab
    for node in lab.nodes:
        assert lab.exec(node, "command -v iptables", check=False).returncode != 0, f"{node} still has iptables"
    result = run_playbook("site.yml", lab.inventory)
    assert result.rc == 0, result.why()
    summary = plan_summary(result)
    assert "flannel programs nftables (EnableNFTables: no host has iptables)" in summary, summary
    assert_flannel_on_nftables(lab)
    assert_four_kinds_pass(result)
