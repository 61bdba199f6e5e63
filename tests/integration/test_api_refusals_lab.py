"""api mode refuses, in the validation phase, a cluster that does not match the plan (lab cluster, day 0).

Each case changes the cluster (or the inventory's view of it) as operators meet it, runs site.yml,
and asserts the refusal names the variable, its value and what the cluster says, and that nothing
was changed: no flannel namespace, no object or record of this project, no host prepared. Then
the cluster is put back and the next case starts from day 0 again. The last run, with nothing
wrong, passes the validation (the check can pass, so its refusals are not a broken check).
"""

from __future__ import annotations

import json

import pytest
import yaml
from ansible_collections.onprem.k8snet.plugins.module_utils import kube

from tests.integration.harness import SYSCTL_FILE, lab_tool, wait_until
from tests.integration.renders import task_results
from tests.integration.test_api_exposed_services_lab import README_EXAMPLE

pytestmark = [pytest.mark.lab, pytest.mark.cluster, pytest.mark.upstream]

REFUSED = "The cluster does not match the network plan; nothing was changed."
EXCLUDE = "node.kubernetes.io/exclude-from-external-load-balancers"
CALICO = """apiVersion: apps/v1
kind: DaemonSet
metadata: {name: calico-node, namespace: kube-system}
spec:
  selector: {matchLabels: {k8s-app: calico-node}}
  template:
    metadata: {labels: {k8s-app: calico-node}}
    spec:
      nodeSelector: {k8snet-test: nowhere}
      containers: [{name: pause, image: registry.k8s.io/pause:3.10.2}]
"""
SYSLOG = """apiVersion: v1
kind: Service
metadata: {name: syslog, namespace: default}
spec:
  type: NodePort
  selector: {app: syslog}
  ports: [{name: syslog, protocol: UDP, port: 514, nodePort: 30053}]
"""


@pytest.fixture(scope="module")
def day0(lab_manager):
    yield lab_manager.get("vagrant", 3, cluster=True)
    lab_tool("destroy", check=False)


def refused(lab, run_playbook, tmp_path, **extravars) -> str:
    """site.yml's refusal; asserts that the cluster and the hosts are as they were."""
    result = run_playbook("site.yml", lab.inventory,
                          extravars={"k8s_render_dir": str(tmp_path / "staging"), **extravars})
    assert result.rc != 0, "site.yml passed"
    messages = result.failed_messages()
    assert REFUSED in messages, messages
    assert result.changed_hosts() == []
    assert lab.kubectl("get", "namespace", "kube-flannel", check=False).returncode != 0
    ours = lab.kube_json("get", "configmaps,daemonsets,services", "-A", "-l", "app.kubernetes.io/managed-by=k8snet")
    assert ours["items"] == []
    for node in lab.nodes:
        assert lab.exec(node, f"test -e {SYSCTL_FILE}", check=False).returncode == 1
    return messages


def test_a_host_that_is_no_node_of_the_cluster(day0, run_playbook, tmp_path):
    lab = day0
    lab.exec("node3", "systemctl stop kubelet")
    lab.kubectl("delete", "node", "node3")
    try:
        said = refused(lab, run_playbook, tmp_path)
        assert "k8s_kubeconfig = " in said and "(fetched from node1:/etc/kubernetes/admin.conf): the cluster it " \
            "points at does not match the inventory: node3: no Node of the cluster has the InternalIP " \
            "192.168.56.13" in said, said
    finally:
        lab.exec("node3", "systemctl start kubelet")
        wait_until(lambda: lab.kubectl("get", "node", "node3", check=False).returncode == 0, 120,
                   "node3 to register again")


@pytest.mark.parametrize(("extravars", "expected"), [
    ({"k8s_pod_cidr": "10.85.0.0/16"},
     "k8s_pod_cidr = 10.85.0.0/16: the cluster's pod network is 10.244.0.0/16 (kube-controller-manager "
     "--cluster-cidr)"),
    ({"k8s_node_pod_prefix": 25},
     # kubeadm sets --node-cidr-mask-size-ipv4 or leaves --node-cidr-mask-size at its default, by release
     "k8s_node_pod_prefix = 25: kube-controller-manager gives each Node a /24 (--node-cidr-mask-size"),
    ({"k8s_service_cidr": "10.100.0.0/16"},
     "k8s_service_cidr = 10.100.0.0/16: kube-apiserver serves ClusterIPs from 10.96.0.0/12"),
    ({"k8s_nodeport_range": "30000-31000"},
     "k8s_nodeport_range = 30000-31000: kube-apiserver allocates NodePorts from 30000-32767"),
], ids=["pod-network", "node-prefix", "service-network", "nodeport-range"])
def test_networks_the_cluster_disagrees_on(day0, run_playbook, tmp_path, extravars, expected):
    assert expected in refused(day0, run_playbook, tmp_path, **extravars)


def test_another_cni(day0, run_playbook, tmp_path):
    lab = day0
    lab.kubectl("apply", "-f", "-", data=CALICO)
    try:
        said = refused(lab, run_playbook, tmp_path)
        assert "the cluster already runs another CNI, Calico (DaemonSet kube-system/calico-node)" in said
    finally:
        lab.kubectl("-n", "kube-system", "delete", "daemonset", "calico-node", "--wait=true")


def test_ipvs_without_strict_arp_when_metallb_may_not_fix_it(day0, run_playbook, tmp_path):
    lab = day0
    original = lab.kube_json("-n", "kube-system", "get", "configmap", "kube-proxy")["data"]["config.conf"]
    conf = yaml.safe_load(original)
    assert conf.get("mode") in ("", "iptables"), conf.get("mode")          # kubeadm's default
    conf["mode"], conf.setdefault("ipvs", {})["strictARP"] = "ipvs", False
    patch = json.dumps({"data": {"config.conf": yaml.safe_dump(conf)}})
    lab.kubectl("-n", "kube-system", "patch", "configmap", "kube-proxy", "--type=merge", "-p", patch)
    try:
        said = refused(lab, run_playbook, tmp_path, metallb_manage_kube_proxy=False)
        assert "metallb_manage_kube_proxy = False: kube-proxy runs in IPVS mode with strictARP off" in said
    finally:
        lab.kubectl("-n", "kube-system", "patch", "configmap", "kube-proxy", "--type=merge",
                    "-p", json.dumps({"data": {"config.conf": original}}))


def test_l2_pool_no_node_may_announce(day0, run_playbook, tmp_path):
    lab = day0
    lab.kubectl("label", "node", "node2", "node3", f"{EXCLUDE}=")
    try:
        said = refused(lab, run_playbook, tmp_path)
        assert f"metallb_pools = ['lab-l2']: no node can announce their addresses: every Node (node1, node2, " \
            f"node3) carries the label {EXCLUDE}" in said
    finally:
        lab.kubectl("label", "node", "node2", "node3", f"{EXCLUDE}-")


def test_a_nodeport_number_another_service_holds_on_the_other_protocol(day0, run_playbook, tmp_path):
    lab = day0
    lab.kubectl("apply", "-f", "-", data=SYSLOG)
    tcp_only = {**README_EXAMPLE, "ports": [{"name": "dns-tcp", "port": 53, "protocol": "TCP", "node_port": 30053}]}
    try:
        result = run_playbook("site.yml", lab.inventory, extravars={
            "k8s_render_dir": str(tmp_path / "staging"), "k8s_exposed_services": [tcp_only]})
        assert result.rc != 0
        said = result.failed_messages()
        assert "k8s_exposed_services cannot be applied (nothing was changed):" in said
        assert "k8s_exposed_services[0].ports[0].node_port = 30053: 30053 is already held by Service default/syslog " \
            "(30053/UDP) in the cluster" in said, said
        assert result.changed_hosts() == []
        assert lab.kubectl("get", "namespace", "kube-flannel", check=False).returncode != 0
    finally:
        lab.kubectl("-n", "default", "delete", "service", "syslog")


def server_minor(lab) -> tuple[str, str]:
    """(gitVersion, minor) of the lab cluster's API server, as kubectl reads it."""
    git_version = lab.kube_json("version")["serverVersion"]["gitVersion"]
    return git_version, kube.major_minor(git_version)


def test_a_k8s_version_the_api_server_contradicts(day0, run_playbook, tmp_path):
    git_version, minor = server_minor(day0)
    other = "1.36" if minor != "1.36" else "1.37"
    result = run_playbook("site.yml", day0.inventory,
                          extravars={"k8s_render_dir": str(tmp_path / "staging"), "k8s_version": other})
    assert result.rc != 0, "site.yml passed"
    said = result.failed_messages()
    assert f"k8s_version = {other}: is not the cluster's minor (its API server is {git_version})" in said, said
    assert f"set k8s_version: {minor}, or leave it unset" in said, said
    assert result.changed_hosts() == []
    assert day0.kubectl("get", "namespace", "kube-flannel", check=False).returncode != 0


def test_a_cluster_that_does_not_answer(day0, run_playbook, tmp_path):
    """The API server's address with a port nothing listens on: the validation's one read fails, naming the
    kubeconfig and what the client said."""
    config = yaml.safe_load(day0.kubeconfig.read_text())
    server = config["clusters"][0]["cluster"]["server"]
    config["clusters"][0]["cluster"]["server"] = server.rsplit(":", 1)[0] + ":6444"
    silent = tmp_path / "silent.conf"
    silent.write_text(yaml.safe_dump(config))
    result = run_playbook("site.yml", day0.inventory,
                          extravars={"k8s_render_dir": str(tmp_path / "staging"), "k8s_kubeconfig": str(silent)})
    assert result.rc != 0, "site.yml passed"
    said = result.failed_messages()
    assert "The cluster could not be read; nothing was changed." in said, said
    assert f"reading the cluster: the cluster of {silent} did not answer as expected" in said, said
    assert "Connection refused" in said, said
    assert result.changed_hosts() == []
    assert day0.kubectl("get", "namespace", "kube-flannel", check=False).returncode != 0


def test_the_same_cluster_put_back_passes_the_validation(day0, run_playbook, tmp_path):
    result = run_playbook("playbooks/validate.yml", day0.inventory,
                          extravars={"k8s_render_dir": str(tmp_path / "staging")})
    assert result.rc == 0, result.why()
    # k8s_version is unset in the inventory: the plan took the API server's minor
    _, minor = server_minor(day0)
    shown = next(iter(task_results(result, "Show the plan").values()))["msg"]
    assert f"3 nodes, Kubernetes {minor}, apply mode api" in shown[0], shown
