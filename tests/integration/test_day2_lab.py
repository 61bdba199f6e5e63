"""Day 2 on a 4-node lab: the cluster is converged on node1-3 once (module fixture), then each test
re-runs against a copy of that render directory and state file: a safe change shows its diff and
touches only its objects, node4 joins without touching the others, a disruptive change is refused
unless allowed, and reset.yml puts every node back.

The lab has 4 nodes from the start; the first inventory lists 3 of them, "adding" node4 means
running with the inventory that lists all 4 (both share the lab's group_vars).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration import harness
from tests.integration.harness import REPO, SYSCTL_FILE, Lab, clean_node_state, lab_tool
from tests.integration.renders import (
    STATE_FILE,
    changed_only,
    copy_render_dir,
    delta,
    diff_lines,
    host_changes,
    load,
    snapshot,
    state,
)

pytestmark = pytest.mark.lab

PING = REPO / "tests/integration/playbooks/ping.yml"
RECONFIGURE = "playbooks/reconfigure.yml"
NODE2_OWN_RESERVED = "40000"    # a port node2 reserved before k8snet: reset must give it back


@dataclass
class Cluster:
    lab: Lab
    three: Path          # inventory of node1-3
    four: Path           # the same plus node4
    render_dir: Path     # converged on node1-3 (do not change it: copy it)


def write_inventory(directory: Path, nodes: int) -> Path:
    """An inventory as tools/lab.py writes it, with the lab's group_vars."""
    return harness.write_inventory(directory, lab_tool("inventory", "--nodes", str(nodes)).stdout,
                                   REPO / "inventory/lab/group_vars")


def reserved_ports(lab: Lab, node: str) -> str:
    return lab.exec(node, "cat /proc/sys/net/ipv4/ip_local_reserved_ports").stdout.strip()


def has_sysctl_file(lab: Lab, node: str) -> bool:
    return lab.exec(node, f"test -e {SYSCTL_FILE}", check=False).returncode == 0


@pytest.fixture(scope="module")
def cluster(lab_manager, run_playbook, tmp_path_factory):
    lab = lab_manager.get("vagrant", 4)
    clean_node_state(lab)
    lab.exec("node2", f"echo {NODE2_OWN_RESERVED} > /proc/sys/net/ipv4/ip_local_reserved_ports")
    base = tmp_path_factory.mktemp("day2")
    converged = Cluster(lab, write_inventory(base / "three", 3), write_inventory(base / "four", 4),
                        base / "rendered")
    result = run_playbook("site.yml", converged.three, extravars={"k8s_render_dir": str(converged.render_dir)})
    assert result.rc == 0, result.why()
    assert sorted(host_changes(result)) == ["node1", "node2", "node3"]
    yield converged
    clean_node_state(lab)


def reconfigure(cluster, run_playbook, tmp_path, inventory=None, **extravars):
    """reconfigure.yml on a copy of the converged render dir: (result, component-file delta, that copy)."""
    render_dir = copy_render_dir(cluster.render_dir, tmp_path / "rendered")
    before = snapshot(render_dir)
    result = run_playbook(RECONFIGURE, inventory or cluster.three,
                          extravars={"k8s_render_dir": str(render_dir), **extravars})
    return result, delta(before, snapshot(render_dir)), render_dir


def test_pool_and_exposure_change_prints_the_diff_and_changes_only_those_objects(cluster, run_playbook, tmp_path):
    result, changes, _ = reconfigure(cluster, run_playbook, tmp_path, ingress_exposure="nodeport", metallb_pools=[
        {"name": "lab-l2", "addresses": ["192.168.56.230-192.168.56.250"]}])
    assert result.rc == 0, result.why()
    lines = diff_lines(result)
    for expected in ("~ ingress.exposure: loadbalancer -> nodeport",
                     '~ metallb.pools.lab-l2.addresses: ["192.168.56.240-192.168.56.250"] -> '
                     '["192.168.56.230-192.168.56.250"]'):
        assert expected in lines
    assert "~ ingress.exposure: loadbalancer -> nodeport" in result.stdout        # printed as it is
    assert changes == changed_only("metallb/90-ipaddresspool-metallb-system-lab-l2.yaml",
                                   "ingress/50-service-nginx-ingress-nginx-ingress.yaml",     # LoadBalancer -> NodePort
                                   "ingress/26-configmap-nginx-ingress-nginx-config.yaml")    # status address
    assert host_changes(result) == {}                                             # no host setting differs


def test_a_fourth_node_is_prepared_and_the_others_are_left_alone(cluster, run_playbook, tmp_path):
    lab = cluster.lab
    assert not has_sysctl_file(lab, "node4")
    result, changes, _ = reconfigure(cluster, run_playbook, tmp_path, inventory=cluster.four)
    assert result.rc == 0, result.why()
    assert any(line.startswith("+ nodes.node4: null -> ") and line.endswith(
        "(node added: it gets detection, probes and preparation)") for line in diff_lines(result))
    assert host_changes(result).keys() == {"node4"}
    assert result.stats["node1"]["changed"] == result.stats["node2"]["changed"] == result.stats["node3"]["changed"] == 0
    # The controller's plays wrote only the state file.
    assert [e["event_data"]["task"] for e in result.events
            if e.get("event") == "runner_on_ok" and e["event_data"]["host"] == "localhost"
            and e["event_data"]["res"].get("changed")] == ["Write the state file into the render directory"]
    # Only node4's pairs were probed: 3 peers each way over VXLAN.
    assert "probed: only the pairs of node4 (new, changed NIC or not prepared)" in result.stdout
    assert "vxlan (VNI 1, UDP 8472): 6/6 pairs passed" in result.stdout
    assert has_sysctl_file(lab, "node4")
    assert reserved_ports(lab, "node4") == "30000-32767"
    assert changes == changed_only()                       # same NIC name: no flannel or MetalLB object changes


def test_pod_cidr_change_is_refused_unless_disruptive_changes_are_allowed(cluster, run_playbook, tmp_path):
    refused, changes, render_dir = reconfigure(cluster, run_playbook, tmp_path, k8s_pod_cidr="10.245.0.0/16")
    assert refused.rc != 0
    messages = refused.failed_messages()
    assert "Refusing disruptive changes (nothing was changed):" in messages
    assert "cluster.pod_cidr.ipv4: 10.244.0.0/16 -> 10.245.0.0/16 is disruptive" in messages
    assert "set k8s_allow_disruptive: true to apply it anyway" in messages
    assert refused.changed_hosts() == []
    assert changes == changed_only()
    assert (render_dir / STATE_FILE).read_bytes() == (cluster.render_dir / STATE_FILE).read_bytes()

    allowed = run_playbook(RECONFIGURE, cluster.three, extravars={
        "k8s_render_dir": str(render_dir), "k8s_pod_cidr": "10.245.0.0/16", "k8s_allow_disruptive": True})
    assert allowed.rc == 0, allowed.why()
    assert state(render_dir)["applied"]["cluster"]["pod_cidr"]["ipv4"] == "10.245.0.0/16"
    config = load(render_dir / "flannel/26-configmap-kube-flannel-kube-flannel-cfg.yaml")
    assert json.loads(config["data"]["net-conf.json"])["Network"] == "10.245.0.0/16"


def test_reset_puts_every_node_back_and_keeps_ssh(cluster, run_playbook, tmp_path):
    lab = cluster.lab
    assert reserved_ports(lab, "node2") == f"30000-32767,{NODE2_OWN_RESERVED}"     # merged by preparation
    render_dir = copy_render_dir(cluster.render_dir, tmp_path / "rendered")
    result = run_playbook("playbooks/reset.yml", cluster.four, extravars={"k8s_render_dir": str(render_dir)})
    assert result.rc == 0, result.why()
    assert not render_dir.exists()
    for node in lab.nodes:
        assert not has_sysctl_file(lab, node), node
        assert lab.exec(node, "cat /proc/sys/net/ipv4/ip_forward").stdout.strip() == "0", node
        assert reserved_ports(lab, node) == (NODE2_OWN_RESERVED if node == "node2" else ""), node

    ping = run_playbook(PING, cluster.four)
    assert ping.rc == 0, ping.stdout
    assert sorted(ping.stats) == lab.nodes
