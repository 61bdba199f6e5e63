"""The lab itself: NICs as promised, SSH, isolation, restarts, layouts, crash recovery, clean destroy.

Order matters for speed: the default lab first, then the layout switches, then destroy.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.integration import harness
from tests.integration.harness import REPO, lab_tool

PLAYBOOKS = Path(__file__).parent / "playbooks"
STATE_DIR = Path("/var/lib/k8snet-lab")


def addrs(lab, node: str) -> dict[str, dict]:
    """NIC name -> {"ipv4": [...], "mtu": int} inside the node."""
    links = json.loads(lab.exec(node, "ip -j addr show").stdout)
    return {link["ifname"]: {"mtu": link["mtu"],
                             "ipv4": [a["local"] for a in link["addr_info"] if a["family"] == "inet"]}
            for link in links}


def default_route(lab, node: str) -> dict:
    routes = json.loads(lab.exec(node, "ip -j -4 route show default").stdout)
    assert len(routes) == 1, routes
    return routes[0]


def host(*argv: str) -> str:
    """Run on the controller (root namespace); its stdout."""
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def root_links() -> list[dict]:
    return json.loads(host("ip", "-j", "link", "show"))


@pytest.mark.parametrize("inventory", ["lab", "lab-cluster"])
def test_committed_inventory_is_the_default_lab_inventory(inventory):
    printed = lab_tool("inventory").stdout
    assert (REPO / f"inventory/{inventory}/hosts.yml").read_text() == printed, \
        f"regenerate it: tools/lab.py inventory > inventory/{inventory}/hosts.yml"


def test_run_playbook_reports_failed_task_messages(run_playbook):
    result = run_playbook(PLAYBOOKS / "fail.yml", "localhost,")
    assert result.rc != 0 and result.status == "failed"
    assert result.failed_messages() == "k8s_pod_cidr: 10.244.0.0/33 is not a network"
    assert result.stats["localhost"]["failures"] == 1
    assert result.changed_hosts() == []


@pytest.mark.lab
def test_vagrant_nics(lab):
    route = default_route(lab, "node1")
    assert (route["dev"], route["gateway"]) == ("eth0", "10.0.2.2")
    assert addrs(lab, "node1")["eth1"]["ipv4"] == ["192.168.56.11"]
    for node in lab.nodes:
        nics = addrs(lab, node)
        assert nics["eth0"]["ipv4"] == ["10.0.2.15"], node
        assert nics["eth1"]["ipv4"] == [lab.addresses[node]], node
        assert nics["eth0"]["mtu"] == nics["eth1"]["mtu"] == 1500


@pytest.mark.lab
def test_lab_inventory_and_group_vars(lab):
    assert lab.inventory.read_text() == (REPO / "inventory/lab/hosts.yml").read_text()
    assert (lab.inventory.parent / "group_vars").resolve() == REPO / "inventory/lab/group_vars"
    assert lab.addresses == {"node1": "192.168.56.11", "node2": "192.168.56.12", "node3": "192.168.56.13"}


@pytest.mark.lab
def test_ansible_reaches_every_node(lab, run_playbook):
    result = run_playbook(PLAYBOOKS / "ping.yml", lab.inventory)
    assert result.rc == 0, result.stdout
    assert sorted(result.stats) == lab.nodes
    assert all(s["ok"] >= 3 and not s["failures"] and not s["unreachable"] for s in result.stats.values())
    assert result.changed_hosts() == []


@pytest.mark.lab
def test_systemd_is_running_everywhere(lab):
    for node in lab.nodes:
        state = lab.ssh(node, "systemctl is-system-running", check=False).stdout.strip()
        failed = lab.exec(node, "systemctl --failed --plain --no-legend").stdout
        assert state == "running", f"{node}: {state}; failed units: {failed}"


@pytest.mark.lab
def test_nodes_do_not_share_files_or_sysctls(lab):
    token = uuid.uuid4().hex
    lab.exec("node1", f"echo {token} > /root/only-on-node1 && sysctl -q -w net.ipv4.ip_forward=1")
    try:
        assert lab.exec("node1", "cat /root/only-on-node1").stdout.strip() == token
        assert lab.exec("node2", "test -e /root/only-on-node1", check=False).returncode == 1
        assert lab.exec("node2", "sysctl -n net.ipv4.ip_forward").stdout.strip() == "0"
        assert Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() == "0"      # the host's own
    finally:
        lab.exec("node1", "rm -f /root/only-on-node1; sysctl -q -w net.ipv4.ip_forward=0")


@pytest.mark.lab
def test_client_reaches_nodes_and_planted_address_answers_arp(lab):
    lab.client_exec("ping -c 1 -W 2 192.168.56.11")
    lab.client_ip("add", "192.168.56.205")
    try:
        assert "192.168.56.205/24" in lab.client_exec("ip -br addr show dev eth0").stdout
        lab.exec("node1", "arping -c 1 -w 3 -I eth1 192.168.56.205")
    finally:
        lab.client_ip("del", "192.168.56.205")
    assert lab.exec("node1", "arping -c 1 -w 1 -I eth1 192.168.56.205", check=False).returncode != 0


@pytest.mark.lab
def test_nat_goes_nowhere_and_routing_out_of_the_lab_is_dropped(lab):
    # The far end of every eth0 sits, unaddressed, in the isolated namespace, never in ours.
    names = {link["ifname"] for link in root_links()}
    assert not any(n.endswith("-0") and n.startswith("k8l-") for n in names)
    void = json.loads(host("ip", "-n", "k8snet-void", "-j", "addr", "show"))
    assert {link["ifname"] for link in void} >= {f"k8l-{n}-0" for n in lab.nodes}
    assert all(not link["addr_info"] for link in void if link["ifname"] != "lo")
    assert all(link["operstate"] == "UP" for link in void if link["ifname"] != "lo")
    assert lab.exec("node1", "ping -c 1 -W 1 10.0.2.2", check=False).returncode != 0
    guard = host("nft", "list", "table", "inet", "k8snet_lab")
    assert 'iifname "k8snet-br0" oifname != "k8snet-br0" drop' in guard
    assert 'oifname "k8snet-br0" iifname != "k8snet-br0" drop' in guard


@pytest.mark.lab
def test_ansible_reboot_keeps_files(lab, run_playbook):
    before = lab.status()["node3"]
    result = run_playbook(PLAYBOOKS / "reboot.yml", lab.inventory, limit="node3",
                          extravars={"marker": uuid.uuid4().hex})
    assert result.rc == 0, result.stdout
    after = lab.status()["node3"]
    assert after["boots"] == before["boots"] + 1
    assert after["pids"]["leader"] != before["pids"]["leader"]
    assert after["pids"]["supervisor"] == before["pids"]["supervisor"]


@pytest.mark.lab
def test_restart_keeps_files(lab):
    lab.exec("node2", "echo kept > /root/kept")
    before = lab.status()["node2"]["pids"]
    lab.restart("node2")
    assert lab.status()["node2"]["pids"]["leader"] != before["leader"]
    assert lab.ssh("node2", "cat /root/kept").stdout.strip() == "kept"
    assert addrs(lab, "node2")["eth1"]["ipv4"] == ["192.168.56.12"]


@pytest.mark.lab
def test_create_after_a_crash(lab):
    """kill -9 of every supervisor and nspawn (the nodes live on, links stay): create still works."""
    for node in lab.status().values():
        for role in ("supervisor", "nspawn"):
            os.kill(node["pids"][role], signal.SIGKILL)
    assert any(link["ifname"].startswith("k8l-") for link in root_links())
    lab_tool("create")
    again = harness.Lab.current()
    assert again is not None and again.healthy()
    assert lab.exec("node1", "systemctl is-system-running").stdout.strip() == "running"


@pytest.mark.lab
def test_renamed_layout(lab_layout):
    lab = lab_layout("renamed")
    for node in lab.nodes:
        nics = addrs(lab, node)
        private = "ens9" if node == lab.nodes[-1] else "enp0s8"
        assert nics["enp0s3"]["ipv4"] == ["10.0.2.15"], node
        assert nics[private]["ipv4"] == [lab.addresses[node]], node
        assert not {"eth0", "eth1"} & set(nics), node
        assert default_route(lab, node)["dev"] == "enp0s3"


@pytest.mark.lab
def test_multi_layout(lab_layout):
    lab = lab_layout("multi")
    for node, k in zip(lab.nodes, range(1, 4), strict=True):
        assert addrs(lab, node)["eth2"]["ipv4"] == [f"172.16.0.{10 + k}"]
    # Two NICs reach every peer; only the inventory address tells them apart.
    lab.exec("node1", "ping -c 1 -W 2 -I eth2 172.16.0.12 && ping -c 1 -W 2 -I eth1 192.168.56.12")
    br1 = json.loads(host("ip", "-j", "addr", "show", "dev", "k8snet-br1"))[0]
    assert br1["addr_info"] == [], "the second bridge must have no address on the controller"


@pytest.mark.lab
def test_mtu_layout(lab_layout):
    lab = lab_layout("mtu")
    assert addrs(lab, "node2")["eth1"]["mtu"] == 1400
    assert addrs(lab, "node1")["eth1"]["mtu"] == 1500
    assert next(link for link in root_links() if link["ifname"] == "k8l-node2-1")["mtu"] == 1400
    # The mismatch is visible to a DF probe: 1400 bytes pass, 1500 do not.
    lab.exec("node1", "ping -c 1 -W 2 -M do -s 1372 192.168.56.12")
    assert lab.exec("node1", "ping -c 1 -W 1 -M do -s 1472 192.168.56.12", check=False).returncode != 0


@pytest.mark.lab
def test_destroy_leaves_nothing(lab_manager):
    if harness.Lab.current() is None:
        lab_manager.get()
    lab_tool("destroy")
    live = [p for p in host("ps", "-eo", "stat=,args=").splitlines() if not p.startswith("Z")]
    assert not [p for p in live if "systemd-nspawn" in p or "lab.py _supervise" in p]
    assert not [link["ifname"] for link in root_links() if link["ifname"].startswith(("k8l-", "k8snet-"))]
    netns = host("ip", "netns", "list")
    assert "k8snet-void" not in netns and "k8snet-client" not in netns
    assert str(STATE_DIR) not in Path("/proc/self/mountinfo").read_text()
    assert "k8snet_lab" not in host("nft", "list", "tables")
    assert lab_tool("status", check=False).returncode == 1
