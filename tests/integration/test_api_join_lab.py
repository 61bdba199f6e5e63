"""A node added on day 2 (api mode, lab cluster): node4 joins with kubeadm, then the inventory grows.

The lab boots four nodes and makes a cluster of three (`create --cluster --nodes 4 --joined 3`);
site.yml converges them with a three-host inventory. `tools/lab.py join node4` runs kubeadm join
on node4, and site.yml runs with all four hosts: node4 is prepared and gets a flannel pod (that
publishes node4's lab-bridge address) and a MetalLB speaker; node1..node3 see no change; verify
places its second test pod on node4 and the four kinds of traffic PASS; a re-run changes nothing.
"""

from __future__ import annotations

import pytest

from tests.integration.harness import REPO, Lab, lab_tool, write_inventory
from tests.integration.renders import host_changes, traffic_lines
from tests.integration.test_api_lab import assert_every_kind_passed, published_ips

pytestmark = [pytest.mark.lab, pytest.mark.upstream]


@pytest.fixture(scope="module")
def three_of_four():
    lab_tool("create", "--cluster", "--nodes", "4", "--joined", "3", timeout=1800)
    lab = Lab.current()
    assert lab is not None
    yield lab
    lab_tool("destroy", check=False)


def three_host_inventory(directory):
    return write_inventory(directory, lab_tool("inventory", "--nodes", "3").stdout,
                           REPO / "inventory/lab-cluster/group_vars")


def test_node4_joins_and_gets_flannel_and_metallb_the_others_unchanged(three_of_four, run_playbook, tmp_path):
    lab = three_of_four
    staging = {"k8s_render_dir": str(tmp_path / "staging")}
    first = run_playbook("site.yml", three_host_inventory(tmp_path / "three"), skip_tags="verify", extravars=staging)
    assert first.rc == 0, first.failed_messages() or first.stdout[-4000:]
    names = sorted(n["metadata"]["name"] for n in lab.kube_json("get", "nodes")["items"])
    assert names == ["node1", "node2", "node3"], names

    lab_tool("join", "node4")
    grown = run_playbook("site.yml", lab.inventory, extravars=staging)
    assert grown.rc == 0, grown.failed_messages() or grown.stdout[-4000:]
    changes = host_changes(grown)
    assert {h: t for h, t in changes.items() if t and h != "node4"} == {}, changes
    assert changes.get("node4"), changes                                    # node4 was prepared
    assert any(lab.pods_on("kube-flannel", "node4").values()), "no flannel pod Running on node4"
    assert any(lab.pods_on("metallb-system", "node4").values()), "no MetalLB speaker Running on node4"
    assert published_ips(lab)["node4"] == lab.addresses["node4"]
    lines = traffic_lines(grown)
    assert_every_kind_passed(lines)
    pod_to_pod = next(line for line in lines if line.startswith("pod-to-pod"))
    assert "(node4)" in pod_to_pod, pod_to_pod                               # traffic to and from node4

    again = run_playbook("site.yml", lab.inventory, skip_tags="verify", extravars=staging)
    assert again.rc == 0 and again.changed_hosts() == [], again.stats
