"""Other owners' objects on a live cluster (api mode, lab cluster), one cluster for the module.

- the negative control first: flannel's stock upstream manifest (no --iface) on the vagrant layout
  takes the NAT NIC (flanneld publishes 10.0.2.15 for every node) and cross-node pod traffic fails,
  while the same request inside one node passes;
- that flannel, installed by hand (kubectl apply of the stock manifest), is refused, naming the objects
  and kubectl as their manager, and left exactly as it was; with `k8s_adopt_existing: true` the project
  takes it over: its labels on every object, flanneld restarted on the NIC the plan chose, and the
  same two pods of the negative control now talk across nodes;
- switching MetalLB off while its CRD holds an IPAddressPool someone else created is refused, and
  MetalLB stays; with `k8s_allow_disruptive: true` that pool goes first, then MetalLB with its CRDs.
"""

from __future__ import annotations

import pytest

from tests.integration.harness import lab_tool, wait_until
from tests.integration.test_api_lab import (
    FLANNEL_MANIFEST,
    agnhost_pods,
    cross_node_http,
    published_ips,
    upstream_mirror,
)

pytestmark = [pytest.mark.lab, pytest.mark.cluster, pytest.mark.upstream]

OURS = "app.kubernetes.io/managed-by=k8snet"
USERS_POOL = """apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: users-pool, namespace: metallb-system}
spec: {addresses: [192.168.56.230/32], autoAssign: false}
"""


@pytest.fixture(scope="module")
def cluster(lab_manager):
    yield lab_manager.get("vagrant", 3, cluster=True)
    lab_tool("destroy", check=False)


def run(run_playbook, lab, tmp_path, **extravars):
    return run_playbook("site.yml", lab.inventory, skip_tags="verify",
                        # no ingress controller: its LoadBalancer Service would hold a pool address, and
                        # switching MetalLB off would be refused for that first (the pool guard)
                        extravars={"k8s_render_dir": str(tmp_path / "staging"), "ingress_enabled": False,
                                   **extravars})


def flannel_daemonset(lab) -> dict:
    return lab.kube_json("-n", "kube-flannel", "get", "daemonset", "kube-flannel-ds", "--show-managed-fields")


def test_stock_flannel_takes_the_nat_nic_and_cross_node_pods_cannot_talk(cluster):
    """The negative control: without --iface flanneld takes eth0, 10.0.2.15 on every node."""
    lab = cluster
    lab.kubectl("apply", "-f", str(upstream_mirror() / FLANNEL_MANIFEST))
    wait_until(lambda: all(ip for ip in published_ips(lab).values()), 180, "flanneld to publish each node's address")
    assert set(published_ips(lab).values()) == {"10.0.2.15"}, published_ips(lab)
    lab.kubectl("apply", "-f", "-", data=agnhost_pods(lab))
    lab.kubectl("wait", "--for=condition=Ready", "pod/probe-a", "pod/probe-b", "--timeout=180s", timeout=200)
    rc, said = cross_node_http(lab)
    assert rc != 0, f"cross-node pod traffic passed with flannel on the NAT NIC: {said}"
    # the check itself works: the same request inside one node passes
    ip_a = lab.kube_json("get", "pod", "probe-a")["status"]["podIP"]
    same = lab.kubectl("exec", "probe-a", "--", "curl", "-sS", "-m", "5", f"http://{ip_a}:8080/hostname")
    assert same.stdout.strip() == "probe-a"


def test_flannel_installed_by_hand_is_refused_then_adopted(cluster, run_playbook, tmp_path):
    lab = cluster
    lab.kubectl("apply", "-f", str(upstream_mirror() / FLANNEL_MANIFEST))
    # installed earlier, by someone else: flanneld runs on every node (its VXLAN device is up)
    wait_until(lambda: all(published_ips(lab).values()), 180, "flanneld to run on every node")
    before = flannel_daemonset(lab)["metadata"]["generation"]
    refused = run(run_playbook, lab, tmp_path)
    assert refused.rc != 0
    assert refused.changed_hosts() == []                       # refused in the validation phase: no host touched
    said = refused.failed_messages()
    assert "flannel: 6 object(s) of the same kind and name already exist and were not installed by this project:" \
        in said, said
    assert "DaemonSet kube-flannel/kube-flannel-ds (installed by kubectl-client-side-apply)" in said
    assert "k8s_adopt_existing: true" in said
    after = flannel_daemonset(lab)["metadata"]                                   # left as it was (its status
    assert after["generation"] == before                                         # moves on its own)
    assert "k8snet" not in {f["manager"] for f in after["managedFields"]}
    assert lab.kube_json("get", "daemonsets,configmaps", "-A", "-l", OURS)["items"] == []

    adopted = run(run_playbook, lab, tmp_path, k8s_adopt_existing=True)
    assert adopted.rc == 0, adopted.why()
    ds = flannel_daemonset(lab)
    assert ds["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "k8snet"
    args = next(c for c in ds["spec"]["template"]["spec"]["containers"] if c["name"] == "kube-flannel")["args"]
    assert not [a for a in args if a.startswith("--iface")], args         # api mode: the Node annotations decide
    assert {n["metadata"]["name"]: n["metadata"]["annotations"].get("flannel.alpha.coreos.com/node-public-ip")
            for n in lab.kube_json("get", "nodes")["items"]} == lab.addresses
    wait_until(lambda: published_ips(lab) == lab.addresses, 120, "flanneld to publish the lab-bridge addresses")
    if lab.kubectl("get", "pod", "probe-a", "probe-b", check=False).returncode == 0:   # the negative control's pods
        wait_until(lambda: cross_node_http(lab) == (0, "probe-b"), 120, "the negative control's pods to talk now")
        lab.kubectl("delete", "pod", "probe-a", "probe-b", "--wait=false")


def test_switching_metallb_off_keeps_a_pool_someone_else_made_unless_disruption_is_allowed(cluster, run_playbook,
                                                                                            tmp_path):
    lab = cluster
    assert lab.kubectl("-n", "metallb-system", "get", "deployment", "controller", check=False).returncode == 0, \
        "MetalLB is not installed (the test before converges the cluster)"
    lab.kubectl("apply", "-f", "-", data=USERS_POOL)
    refused = run(run_playbook, lab, tmp_path, metallb_enabled=False)
    assert refused.rc != 0 and refused.changed_hosts() == []
    said = refused.failed_messages()
    assert ("metallb: switching it off deletes its CRDs, and with them custom resources this project did not "
            "create: CRD ipaddresspools.metallb.io holds IPAddressPool metallb-system/users-pool. Nothing was "
            "changed.") in said, said
    assert lab.kubectl("-n", "metallb-system", "get", "ipaddresspool", "users-pool", "lab-l2",
                       check=False).returncode == 0
    assert lab.kubectl("-n", "metallb-system", "get", "deployment", "controller", check=False).returncode == 0

    allowed = run(run_playbook, lab, tmp_path, metallb_enabled=False, k8s_allow_disruptive=True)
    assert allowed.rc == 0, allowed.why()
    crds = [c["metadata"]["name"] for c in lab.kube_json("get", "customresourcedefinitions")["items"]]
    assert not [c for c in crds if c.endswith(".metallb.io")], crds
    wait_until(lambda: lab.kubectl("get", "namespace", "metallb-system", check=False).returncode != 0, 120,
               "namespace metallb-system to go")
