"""MetalLB on the lab: the generated pool objects, and day-2 pool changes that touch exactly their own files.

Every change test starts from a copy of one converged render directory (objects and state file), so each
stands alone and the run's day-2 diff is against that baseline. (A pool address answering ARP is covered
in test_host_plane.py.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.harness import DEFAULT_LAYOUT, DEFAULT_NODES, clean_node_state
from tests.integration.renders import (
    MANAGED_BY,
    changed_only,
    copy_render_dir,
    delta,
    load,
    snapshot,
)

pytestmark = pytest.mark.lab

LAB_POOL = {"name": "lab-l2", "addresses": ["192.168.56.240-192.168.56.250"]}   # inventory/lab group_vars
POOL_FILE = "metallb/90-ipaddresspool-metallb-system-{}.yaml"
L2_FILE = "metallb/90-l2advertisement-metallb-system-{}.yaml"


@pytest.fixture(scope="module")
def converged(lab_manager, run_playbook, tmp_path_factory) -> Iterator[Path]:
    """The lab's own pools rendered by a full run from clean nodes; the nodes are cleaned again at the end.

    (A module fixture is set up before the per-test layout guard: it asks for the default lab itself.)
    """
    lab = lab_manager.get(DEFAULT_LAYOUT, DEFAULT_NODES)
    clean_node_state(lab)
    render_dir = tmp_path_factory.mktemp("metallb") / "rendered"
    result = run_playbook("site.yml", lab.inventory, extravars={"k8s_render_dir": str(render_dir)})
    assert result.rc == 0, result.why()
    yield render_dir
    clean_node_state(lab)


def run_change(lab, run_playbook, converged, tmp_path, **extravars):
    """Reconfigure a copy of the converged render dir; (result, delta of the component files)."""
    render_dir = copy_render_dir(converged, tmp_path / "rendered")
    before = snapshot(render_dir)
    result = run_playbook("playbooks/reconfigure.yml", lab.inventory,
                          extravars={"k8s_render_dir": str(render_dir), **extravars})
    assert result.rc == 0, result.why()
    return result, delta(before, snapshot(render_dir)), render_dir


def metadata_of(obj: dict, kind: str, name: str, api: str = "metallb.io/v1beta1") -> None:
    assert (obj["apiVersion"], obj["kind"]) == (api, kind)
    assert (obj["metadata"]["name"], obj["metadata"]["namespace"]) == (name, "metallb-system")
    assert obj["metadata"]["labels"].items() >= MANAGED_BY.items()


def test_lab_pool_renders_pool_and_l2_advertisement_on_the_chosen_nic(converged, lab, run_playbook):
    pool = load(converged / POOL_FILE.format("lab-l2"))
    metadata_of(pool, "IPAddressPool", "lab-l2")
    assert pool["spec"] == {"addresses": ["192.168.56.240-192.168.56.250"], "autoAssign": True,
                            "avoidBuggyIPs": False}
    advertisement = load(converged / L2_FILE.format("lab-l2"))
    metadata_of(advertisement, "L2Advertisement", "lab-l2")
    assert advertisement["spec"] == {"ipAddressPools": ["lab-l2"], "interfaces": ["eth1"]}

    before = snapshot(converged)
    again = run_playbook("site.yml", lab.inventory, extravars={"k8s_render_dir": str(converged)})
    assert again.rc == 0, again.why()
    assert again.changed_hosts() == []
    assert delta(before, snapshot(converged)) == changed_only()      # not even rewritten


def test_changing_the_pool_rewrites_only_the_pool_file(converged, lab, run_playbook, tmp_path):
    result, changes, render_dir = run_change(lab, run_playbook, converged, tmp_path, metallb_pools=[
        {"name": "lab-l2", "addresses": ["192.168.56.230-192.168.56.250"]}])
    assert changes == changed_only(POOL_FILE.format("lab-l2"))
    assert load(render_dir / POOL_FILE.format("lab-l2"))["spec"]["addresses"] == ["192.168.56.230-192.168.56.250"]
    assert "metallb: 0 to create, 1 to update, 0 to delete 90-ipaddresspool-metallb-system-lab-l2.yaml" \
        in result.stdout


def test_a_second_pool_adds_its_two_files_and_removing_it_removes_exactly_them(converged, lab, run_playbook,
                                                                                tmp_path):
    second = {"name": "extra", "addresses": ["192.168.56.224/28"], "auto_assign": False}
    _, changes, render_dir = run_change(lab, run_playbook, converged, tmp_path,
                                        metallb_pools=[LAB_POOL, second])
    pair = (POOL_FILE.format("extra"), L2_FILE.format("extra"))
    assert changes == changed_only(added=pair)
    pool = load(render_dir / pair[0])
    metadata_of(pool, "IPAddressPool", "extra")
    assert pool["spec"] == {"addresses": ["192.168.56.224/28"], "autoAssign": False, "avoidBuggyIPs": False}
    assert load(render_dir / pair[1])["spec"] == {"ipAddressPools": ["extra"], "interfaces": ["eth1"]}

    before = snapshot(render_dir)
    removed = run_playbook("playbooks/reconfigure.yml", lab.inventory, extravars={"k8s_render_dir": str(render_dir)})
    assert removed.rc == 0, removed.why()
    assert delta(before, snapshot(render_dir)) == changed_only(removed=pair)
    assert snapshot(render_dir) == snapshot(converged)                 # back to the baseline, file for file


def test_bgp_pool_and_peer_render_bgp_objects(converged, lab, run_playbook, tmp_path):
    bgp = {"name": "bgp-pool", "mode": "bgp", "addresses": ["10.200.0.0/28"]}
    peer = {"name": "tor", "address": "192.168.56.1", "asn": 64512, "my_asn": 64513, "hold_time": 90}
    _, changes, render_dir = run_change(lab, run_playbook, converged, tmp_path,
                                        metallb_pools=[LAB_POOL, bgp], metallb_bgp_peers=[peer])
    files = (POOL_FILE.format("bgp-pool"), "metallb/90-bgpadvertisement-metallb-system-bgp-pool.yaml",
             "metallb/90-bgppeer-metallb-system-tor.yaml")
    assert changes == changed_only(added=files)

    metadata_of(load(render_dir / files[0]), "IPAddressPool", "bgp-pool")
    advertisement = load(render_dir / files[1])
    metadata_of(advertisement, "BGPAdvertisement", "bgp-pool")
    assert advertisement["spec"] == {"ipAddressPools": ["bgp-pool"]}
    bgp_peer = load(render_dir / files[2])
    metadata_of(bgp_peer, "BGPPeer", "tor", api="metallb.io/v1beta2")
    assert bgp_peer["spec"] == {"myASN": 64513, "peerASN": 64512, "peerAddress": "192.168.56.1", "peerPort": 179,
                                "holdTime": "90s"}
    assert not (render_dir / L2_FILE.format("bgp-pool")).exists()      # BGP pools are not announced on L2
