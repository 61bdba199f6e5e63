"""Flannel on every lab layout: the NIC each node chose (and why), how that choice reaches flannel
(--iface or per-node annotations, MetalLB's interfaces), probes that stop a bad MTU before any change,
and a backend the kernel lacks refused up front.

Order: the default lab first, then one layout switch each (renamed, multi, mtu); the mtu tests last
end with the only run that passes on that layout.
"""

from __future__ import annotations

import json

import pytest

from tests.integration.harness import SYSCTL_FILE, clean_node_state
from tests.integration.renders import flannel_args, host_changes, load, one, plan_lines

pytestmark = pytest.mark.lab

ANNOTATION = "flannel.alpha.coreos.com/node-public-ip"
NAT_REASON = "{node}: {nic}: holds {address} (inventory address); {nat} (default route) skipped: " \
             "10.0.2.15 on 3 nodes (NAT); pod MTU {pod_mtu}"


def render(tmp_path, **more):
    return {"k8s_render_dir": str(tmp_path / "rendered"), **more}


def nic_lines(result, lab) -> dict[str, str]:
    """node -> its line of the plan ("node1: eth1: holds ...")."""
    return {node: line for line in plan_lines(result) for node in lab.nodes if line.startswith(f"{node}: ")}


def node_states(lab) -> dict[str, str]:
    """What a run would leave on a node: the sysctl file, the kernel values it sets, links (probe devices)."""
    return {node: lab.exec(node, f"cat {SYSCTL_FILE} 2>/dev/null; cat /proc/sys/net/ipv4/ip_forward "
                                 "/proc/sys/net/ipv4/ip_local_reserved_ports; ip -o link | cut -d@ -f1").stdout
            for node in lab.nodes}


def assert_no_sysctl_file(lab):
    for node in lab.nodes:
        assert lab.exec(node, f"test -e {SYSCTL_FILE}", check=False).returncode == 1, f"{node} has {SYSCTL_FILE}"


# ---------------------------------------------------------------- vagrant: eth1 everywhere, NAT eth0 skipped

def test_vagrant_chooses_eth1_on_every_node_and_passes_it_as_iface(clean_nodes, run_playbook, tmp_path):
    lab = clean_nodes
    first = run_playbook("site.yml", lab.inventory, extravars=render(tmp_path))
    assert first.rc == 0, first.why()
    assert nic_lines(first, lab) == {
        node: NAT_REASON.format(node=node, nic="eth1", address=lab.addresses[node], nat="eth0", pod_mtu=1450)
        for node in lab.nodes}

    rendered = tmp_path / "rendered"
    args = flannel_args(rendered)
    assert "--iface=eth1" in args
    assert [a for a in args if a.startswith("--iface")] == ["--iface=eth1"]
    assert not (rendered / "flannel/node-annotations").exists()

    again = run_playbook("site.yml", lab.inventory, extravars=render(tmp_path))
    assert again.rc == 0, again.why()
    assert again.changed_hosts() == []


# ---------------------------------------------------------------- renamed: different names, annotations instead

def test_renamed_nics_get_per_node_annotations_and_metallb_gets_every_name(lab_layout, run_playbook, tmp_path):
    lab = lab_layout("renamed")
    first = run_playbook("site.yml", lab.inventory, extravars=render(tmp_path))
    assert first.rc == 0, first.why()
    assert nic_lines(first, lab) == {
        "node1": NAT_REASON.format(node="node1", nic="enp0s8", address="192.168.56.11", nat="enp0s3", pod_mtu=1450),
        "node2": NAT_REASON.format(node="node2", nic="enp0s8", address="192.168.56.12", nat="enp0s3", pod_mtu=1450),
        "node3": NAT_REASON.format(node="node3", nic="ens9", address="192.168.56.13", nat="enp0s3", pod_mtu=1450),
    }

    rendered = tmp_path / "rendered"
    assert not [a for a in flannel_args(rendered) if a.startswith("--iface")]   # no name fits every node
    patches = rendered / "flannel/node-annotations"
    assert sorted(p.name for p in patches.iterdir()) == ["node1.yaml", "node2.yaml", "node3.yaml"]
    for node in lab.nodes:
        patch = load(patches / f"{node}.yaml")
        assert (patch["apiVersion"], patch["kind"], patch["metadata"]["name"]) == ("v1", "Node", node)
        assert patch["metadata"]["annotations"] == {ANNOTATION: lab.addresses[node]}

    advertisement = one(rendered / "metallb", "90-l2advertisement-metallb-system-lab-l2.yaml")
    assert advertisement["spec"]["interfaces"] == ["enp0s8", "ens9"]            # sorted, each name once

    again = run_playbook("site.yml", lab.inventory, extravars=render(tmp_path))
    assert again.rc == 0, again.why()
    assert again.changed_hosts() == []


# ---------------------------------------------------------------- multi: two NICs reach every peer

def test_multi_nic_nodes_take_the_nic_of_the_inventory_address(lab_layout, run_playbook, tmp_path):
    lab = lab_layout("multi")
    result = run_playbook("site.yml", lab.inventory, extravars=render(tmp_path))
    assert result.rc == 0, result.why()
    lines = nic_lines(result, lab)
    for node in lab.nodes:
        assert lines[node].startswith(f"{node}: eth1: holds {lab.addresses[node]} (inventory address)")
    rendered = tmp_path / "rendered"
    assert [a for a in flannel_args(rendered) if a.startswith("--iface")] == ["--iface=eth1"]
    assert not (rendered / "flannel/node-annotations").exists() or \
        not list((rendered / "flannel/node-annotations").iterdir())                  # no per-node annotations needed
    advertisement = one(rendered / "metallb", "90-l2advertisement-metallb-system-lab-l2.yaml")
    assert advertisement["spec"]["interfaces"] == ["eth1"]                        # MetalLB announces on eth1 only
    again = run_playbook("site.yml", lab.inventory, extravars=render(tmp_path))
    assert again.rc == 0, again.why()
    assert again.changed_hosts() == []


# ---------------------------------------------------------------- mtu: node2's eth1 at 1400

@pytest.fixture
def mtu_lab(lab_layout):
    lab = lab_layout("mtu")
    clean_node_state(lab)
    yield lab
    clean_node_state(lab)


def test_smaller_mtu_on_node2_stops_at_the_probe_and_changes_nothing(mtu_lab, run_playbook, tmp_path):
    lab = mtu_lab
    before = node_states(lab)
    result = run_playbook("site.yml", lab.inventory, extravars=render(tmp_path))
    assert result.rc != 0
    messages = result.failed_messages()
    assert "The underlay probes failed; nothing was changed:" in messages
    for sender in ("node1", "node3"):   # their pods send 1450-byte packets, node2's NIC carries 1400-byte frames
        assert (f"{sender} eth1 {lab.addresses[sender]} -> node2 eth1 192.168.56.12: packets of 1450 bytes with "
                "don't-fragment are lost but small ones pass: an MTU mismatch on the path (this NIC MTU 1500, "
                "peer 1400); set flannel_mtu to the smallest MTU on the path") in messages
    assert "-> node1" not in messages and "-> node3" not in messages   # node2's 1350-byte pod packets pass
    assert result.changed_hosts() == []
    assert host_changes(result) == {}
    assert_no_sysctl_file(lab)
    assert node_states(lab) == before                                  # and no probe device left behind
    assert not (tmp_path / "rendered").exists()


def test_wireguard_on_a_kernel_without_it_is_refused_before_any_change(mtu_lab, run_playbook, tmp_path):
    lab = mtu_lab
    result = run_playbook("site.yml", lab.inventory, extravars=render(tmp_path, flannel_backend="wireguard"))
    assert result.rc != 0
    messages = result.failed_messages()
    assert "The network plan has problems; nothing was changed." in messages
    assert ("flannel_backend = wireguard: flannel_backend wireguard needs the kernel feature wireguard, which "
            "the kernel of node1, node2, node3 does not have") in messages
    assert result.changed_hosts() == []
    assert_no_sysctl_file(lab)


def test_flannel_mtu_set_to_the_smallest_nic_mtu_passes_the_probe(mtu_lab, run_playbook, tmp_path):
    lab = mtu_lab
    result = run_playbook("site.yml", lab.inventory, extravars=render(tmp_path, flannel_mtu=1400))
    assert result.rc == 0, result.why()
    assert all(line.endswith("pod MTU 1350") for line in nic_lines(result, lab).values())
    config = load(tmp_path / "rendered/flannel/26-configmap-kube-flannel-kube-flannel-cfg.yaml")
    assert json.loads(config["data"]["net-conf.json"])["Backend"]["MTU"] == 1400
    for node in lab.nodes:
        assert "net.ipv4.ip_forward = 1" in lab.exec(node, f"cat {SYSCTL_FILE}").stdout   # prepared this time
