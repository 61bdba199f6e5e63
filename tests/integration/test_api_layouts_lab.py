"""api mode on the other lab layouts (lab cluster, day 0): flanneld itself shows it took the NIC the
plan chose, and the traffic passes; the mtu layout is refused before the cluster is touched.

- renamed (enp0s8 on node1/node2, ens9 on node3, no common name, so no --iface): the lab's day 0 on
  this layout first (every Node on its bridge NIC, NotReady without a CNI: test_cluster_lab's check),
  then the per-node `node-public-ip` annotations make each flanneld take the right NIC;
- multi (eth1 on 192.168.56.0/24 and eth2 on 172.16.0.0/24 both reach every peer): the inventory
  address decides;
for both, evidence from flanneld: the `public-ip` it writes back on its Node, the VXLAN device's
underlying link and local address on each node, and verify's four kinds of traffic PASS.
- multi on day 2: node2 told to use eth2 (`flannel_iface` in its host_vars): only node2's flannel
  pod is restarted (api mode gives the DaemonSet no --iface, so it does not change), it publishes
  and tunnels from its eth2 address, node1 keeps eth1, and a pod on node1 reaches one on node2
  across the mixed NICs;
- mtu (node2's NIC at 1400): the probe stops the run; the cluster has no flannel namespace and no
  record of this project afterwards.
"""

from __future__ import annotations

import re

import pytest

from tests.integration.harness import lab_tool, write_inventory
from tests.integration.renders import traffic_lines
from tests.integration.test_api_lab import agnhost_pods, assert_every_kind_passed, cross_node_http, published_ips
from tests.integration.test_cluster_lab import assert_day0

pytestmark = [pytest.mark.lab, pytest.mark.cluster, pytest.mark.upstream]

VXLAN = re.compile(r"vxlan id (\d+) local (\S+) dev (\S+)")


@pytest.fixture(scope="module", autouse=True)
def _destroyed_at_the_end():
    """Each test asks for its layout (a new cluster on each switch); the multi NIC change on day 2 continues
    on the cluster the multi test installed. The lab goes at the end of the module."""
    yield
    lab_tool("destroy", check=False)


def inventory_nic(lab, node: str) -> str:
    """The NIC that holds the node's inventory address, as the lab built it."""
    (nic,) = [n for n in lab.nics(node) if n["address"].split("/")[0] == lab.addresses[node]]
    return nic["name"]


def vxlan_device(lab, node: str) -> tuple[str, str, str]:
    """(VNI, local address, underlying link) of flannel.1 on the node, as the kernel reports it."""
    shown = lab.exec(node, "ip -d link show flannel.1").stdout
    match = VXLAN.search(shown)
    assert match, f"{node}: flannel.1 is no VXLAN device: {shown}"
    return match.groups()


@pytest.mark.parametrize("layout", ["renamed", "multi"])
def test_flanneld_takes_the_planned_nic_on_every_node(lab_cluster, run_playbook, tmp_path, layout):
    lab = lab_cluster(layout)
    if layout == "renamed":         # the lab's day 0 on this layout first: Nodes on their bridge NIC, no CNI yet
        names = {node: [n["name"] for n in lab.nics(node) if n["kind"] == "bridge"] for node in lab.nodes}
        assert names == {"node1": ["enp0s8"], "node2": ["enp0s8"], "node3": ["ens9"]}
        assert_day0(lab)
    result = run_playbook("site.yml", lab.inventory, extravars={"k8s_render_dir": str(tmp_path / "staging")})
    assert result.rc == 0, result.why()
    expected = {node: inventory_nic(lab, node) for node in lab.nodes}
    if layout == "renamed":
        assert expected == {"node1": "enp0s8", "node2": "enp0s8", "node3": "ens9"}
    assert published_ips(lab) == lab.addresses                             # what flanneld wrote back
    assert {node: vxlan_device(lab, node) for node in lab.nodes} == {
        node: ("1", lab.addresses[node], expected[node]) for node in lab.nodes}
    lines = traffic_lines(result)
    assert_every_kind_passed(lines)


def flannel_pods(lab) -> dict[str, str]:
    """node -> UID of the Running flannel pod on it."""
    pods = lab.kube_json("-n", "kube-flannel", "get", "pods", "--field-selector=status.phase=Running")["items"]
    return {p["spec"]["nodeName"]: p["metadata"]["uid"] for p in pods}


def with_host_vars(lab, directory, host: str, variables: dict):
    """A copy of the lab's inventory with host_vars for one host (group_vars: the lab's own)."""
    source = lab.inventory if lab.inventory.is_dir() else lab.inventory.parent
    return write_inventory(directory, (source / "hosts.yml").read_text(), source / "group_vars", {host: variables})


def test_a_nic_change_on_one_node_restarts_its_flannel_pod_on_the_new_nic(lab_cluster, run_playbook, tmp_path):
    lab = lab_cluster("multi")
    # flannel only: an L2 pool on the lab bridge is refused once node2's chosen NIC is eth2 (its
    # subnet is 172.16.0.0/24), and the ingress controller's Service would need a pool
    staging = {"k8s_render_dir": str(tmp_path / "staging"), "metallb_enabled": False, "ingress_enabled": False}
    # on the cluster the test before installed, switching MetalLB and the ingress controller off is disruptive
    first = run_playbook("site.yml", lab.inventory, skip_tags="verify",
                         extravars={**staging, "k8s_allow_disruptive": True})
    assert first.rc == 0, first.why()
    before = flannel_pods(lab)
    assert sorted(before) == lab.nodes, before
    (eth2,) = [n["address"].split("/")[0] for n in lab.nics("node2") if n["name"] == "eth2"]

    # verify's external NodePort check would ask 172.16.0.12, which the lab's client cannot route to:
    # the pod traffic through node2's new tunnel is checked below with two pods instead
    moved = run_playbook("site.yml", with_host_vars(lab, tmp_path / "inventory", "node2", {"flannel_iface": "eth2"}),
                         skip_tags="verify", extravars=staging)
    assert moved.rc == 0, moved.why()
    after = flannel_pods(lab)
    # node2's flanneld must restart to take the new address; nothing else may (the DaemonSet is unchanged)
    assert after["node2"] != before["node2"], (before, after)
    assert {n: p for n, p in after.items() if n != "node2"} == {n: p for n, p in before.items() if n != "node2"}
    assert published_ips(lab) == {**lab.addresses, "node2": eth2}                 # flanneld's own word
    assert vxlan_device(lab, "node2") == ("1", eth2, "eth2")
    assert vxlan_device(lab, "node1") == ("1", lab.addresses["node1"], inventory_nic(lab, "node1"))
    pods = agnhost_pods(lab).replace(f"nodeName: {lab.nodes[-1]}", "nodeName: node2")
    lab.kubectl("apply", "-f", "-", data=pods)
    lab.kubectl("wait", "--for=condition=Ready", "pod/probe-a", "pod/probe-b", "--timeout=180s", timeout=200)
    assert lab.kube_json("get", "pod", "probe-b")["spec"]["nodeName"] == "node2"
    rc, said = cross_node_http(lab)                                    # node1 (eth1) -> node2 (eth2)
    assert rc == 0 and said == "probe-b", said


def test_mtu_layout_is_refused_before_the_cluster_is_touched(lab_cluster, run_playbook, tmp_path):
    lab = lab_cluster("mtu")
    result = run_playbook("site.yml", lab.inventory, extravars={"k8s_render_dir": str(tmp_path / "staging")})
    assert result.rc != 0
    messages = result.failed_messages()
    assert "The underlay probes failed; nothing was changed:" in messages
    assert "-> node2 eth1 192.168.56.12: packets of 1450 bytes with don't-fragment are lost" in messages
    assert lab.kubectl("get", "namespace", "kube-flannel", check=False).returncode != 0
    ours = lab.kube_json("get", "configmaps,namespaces,daemonsets", "-A", "-l", "app.kubernetes.io/managed-by=k8snet")
    assert ours["items"] == []
    assert all(n["metadata"].get("annotations", {}).get("flannel.alpha.coreos.com/node-public-ip") is None
               for n in lab.kube_json("get", "nodes")["items"])
