"""api mode on the other lab layouts (lab cluster, day 0): flanneld itself shows it took the NIC the
plan chose, and the traffic passes; the mtu layout is refused before the cluster is touched.

- renamed (enp0s8 on node1/node2, ens9 on node3, no common name, so no --iface): the per-node
  `node-public-ip` annotations make each flanneld take the right NIC;
- multi (eth1 on 192.168.56.0/24 and eth2 on 172.16.0.0/24 both reach every peer): the inventory
  address decides;
for both, evidence from flanneld: the `public-ip` it writes back on its Node, the VXLAN device's
underlying link and local address on each node, and verify's four kinds of traffic PASS.
- mtu (node2's NIC at 1400): the probe stops the run; the cluster has no flannel namespace and no
  record of this project afterwards.
"""

from __future__ import annotations

import re

import pytest

from tests.integration.harness import lab_tool
from tests.integration.renders import traffic_lines
from tests.integration.test_api_lab import KINDS, published_ips

pytestmark = [pytest.mark.lab, pytest.mark.upstream]

VXLAN = re.compile(r"vxlan id (\d+) local (\S+) dev (\S+)")


@pytest.fixture
def spent_cluster(lab_cluster):
    yield lab_cluster
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
def test_flanneld_takes_the_planned_nic_on_every_node(spent_cluster, run_playbook, tmp_path, layout):
    lab = spent_cluster(layout)
    result = run_playbook("site.yml", lab.inventory, extravars={"k8s_render_dir": str(tmp_path / "staging")})
    assert result.rc == 0, result.failed_messages() or result.stdout[-4000:]
    expected = {node: inventory_nic(lab, node) for node in lab.nodes}
    if layout == "renamed":
        assert expected == {"node1": "enp0s8", "node2": "enp0s8", "node3": "ens9"}
    assert published_ips(lab) == lab.addresses                             # what flanneld wrote back
    assert {node: vxlan_device(lab, node) for node in lab.nodes} == {
        node: ("1", lab.addresses[node], expected[node]) for node in lab.nodes}
    lines = traffic_lines(result)
    for kind in KINDS:
        line = next(line for line in lines if line.startswith(kind))
        assert " PASS " in line, line


def test_mtu_layout_is_refused_before_the_cluster_is_touched(spent_cluster, run_playbook, tmp_path):
    lab = spent_cluster("mtu")
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
