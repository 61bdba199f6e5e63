"""The host plane on the lab: validation refuses bad input, probes stop bad underlays, node preparation
is truthful in check mode, idempotent, and keeps firewall openings across a reboot without cutting SSH."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.lab

SYSCTL_FILE = "/etc/sysctl.d/90-k8snet.conf"
DROP_RULESET = """#!/usr/sbin/nft -f
flush ruleset
table inet filter {
  chain input {
    type filter hook input priority 0; policy drop;
    ct state established,related accept
    iif lo accept
    tcp dport 22 accept
    icmp type echo-request accept
  }
  chain forward { type filter hook forward priority 0; policy drop; }
}
"""


def extravars(tmp_path, **more):
    return {"k8s_render_dir": str(tmp_path / "rendered"), **more}


def node_state(lab, node):
    return lab.exec(node, f"cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/ip_local_reserved_ports; "
                          f"cat {SYSCTL_FILE} 2>/dev/null; ip -o link; nft list ruleset").stdout


def test_validate_names_every_bad_variable_and_changes_nothing(lab, run_playbook, tmp_path):
    result = run_playbook("playbooks/validate.yml", lab.inventory, extravars=extravars(
        tmp_path, k8s_pod_cidr="10.244.1.0/16", k8s_nodeport_range="6000-7000", flannel_vni=0,
        metallb_pools=[{"name": "Bad_Name", "addresses": ["192.168.56.12/32"]}]))
    assert result.rc != 0
    messages = result.failed_messages()
    for expected in ("k8s_pod_cidr = 10.244.1.0/16: has host bits set", "use 10.244.0.0/16",
                     "k8s_nodeport_range = 6000-7000: contains port 6443 used by kube-apiserver",
                     "flannel_vni = 0", "metallb_pools[0].name = Bad_Name",
                     "metallb_pools[0].addresses[0] = 192.168.56.12/32: contains addresses already in use: "
                     "192.168.56.12 (the address of node2 eth1)"):
        assert expected in messages
    assert result.changed_hosts() == []


def test_misspelt_variable_is_a_warning_naming_the_closest(lab, run_playbook, tmp_path):
    result = run_playbook("playbooks/validate.yml", lab.inventory, extravars=extravars(
        tmp_path, metallb_pool=[{"name": "x", "addresses": ["192.168.56.250/32"]}]))
    assert result.rc == 0
    assert "metallb_pool" in result.stdout and "rename it to metallb_pools" in result.stdout


def test_check_mode_tells_the_truth_then_apply_then_nothing(clean_nodes, run_playbook, tmp_path):
    lab = clean_nodes
    before = {n: node_state(lab, n) for n in lab.nodes}
    check = run_playbook("site.yml", lab.inventory, extravars=extravars(tmp_path), check=True, diff=True)
    assert check.rc == 0, check.why()
    assert check.changed_hosts() == sorted([*lab.nodes, "localhost"])               # localhost: the rendered files
    assert "+net.ipv4.ip_local_reserved_ports = 30000-32767" in check.stdout   # the --diff of the file
    assert {n: node_state(lab, n) for n in lab.nodes} == before                 # and nothing written

    applied = run_playbook("site.yml", lab.inventory, extravars=extravars(tmp_path))
    assert applied.rc == 0, applied.why()
    assert applied.changed_hosts() == sorted([*lab.nodes, "localhost"])
    assert lab.exec("node2", "cat /proc/sys/net/ipv4/ip_local_reserved_ports").stdout.strip() == "30000-32767"

    again = run_playbook("site.yml", lab.inventory, extravars=extravars(tmp_path))
    assert again.rc == 0 and again.changed_hosts() == []


def test_forced_nat_nic_stops_at_the_probe_and_changes_nothing(clean_nodes, run_playbook, tmp_path):
    lab = clean_nodes
    before = {n: node_state(lab, n) for n in lab.nodes}
    result = run_playbook("site.yml", lab.inventory, extravars=extravars(
        tmp_path, flannel_iface="eth0", metallb_enabled=False, ingress_exposure="nodeport"))
    assert result.rc != 0
    assert "node1 eth0 10.0.2.15 -> node2 eth0 10.0.2.15: same address on both ends (NAT)" in \
        result.failed_messages()
    assert result.changed_hosts() == []
    assert {n: node_state(lab, n) for n in lab.nodes} == before   # no file, no sysctl, no probe device left


def test_pool_address_answering_arp_stops_the_run_naming_it_and_the_mac(clean_nodes, run_playbook, tmp_path):
    lab = clean_nodes
    lab.client_ip("add", "192.168.56.205")
    try:
        mac = lab.client_exec("cat /sys/class/net/eth0/address").stdout.strip()
        result = run_playbook("site.yml", lab.inventory, extravars=extravars(
            tmp_path, metallb_pools=[{"name": "busy", "addresses": ["192.168.56.200-192.168.56.210"]}],
            ingress_lb_ip="192.168.56.201"))
    finally:
        lab.client_ip("del", "192.168.56.205")
    assert result.rc != 0
    assert f"metallb pool busy: 192.168.56.205 is already in use on the wire: {mac} answered ARP" in \
        result.failed_messages()
    assert result.changed_hosts() == []


def test_drop_policy_firewall_gets_openings_that_survive_a_reboot(clean_nodes, run_playbook, tmp_path):
    lab = clean_nodes
    lab.exec("node2", f"cat > /etc/nftables.conf <<'EOF'\n{DROP_RULESET}EOF\nsystemctl enable --now nftables")
    applied = run_playbook("site.yml", lab.inventory, extravars=extravars(tmp_path))
    assert applied.rc == 0, applied.why()   # the probes crossed node2's drop policy too
    rules = lab.exec("node2", "nft list chain inet filter input").stdout
    for opening in ("udp dport 8472 accept", "tcp dport 7946 accept", "udp dport 30000-32767 accept"):
        assert opening in rules
    assert "k8snet-probe" not in rules                  # the probe's temporary openings are gone
    assert "ip saddr 10.244.0.0/16 accept" in lab.exec("node2", "nft list chain inet filter forward").stdout

    rebooted = run_playbook("tests/integration/playbooks/reboot.yml", lab.inventory, limit="node2",
                            extravars={"marker": "firewall"})
    assert rebooted.rc == 0, rebooted.why()  # Ansible reconnected through the firewall
    assert "udp dport 8472 accept" in lab.exec("node2", "nft list chain inet filter input").stdout

    again = run_playbook("site.yml", lab.inventory, extravars=extravars(tmp_path))
    assert again.rc == 0 and again.changed_hosts() == []
