"""Parsing of node command output (plugins/module_utils/hostfacts.py) over recorded output.

facts_raw_netns/ and facts_raw_vm/ were captured on the development machine (a
network namespace set up like a lab node on day 2: NAT eth0, eth1 with several
addresses, br0 in front of enp0s9, docker0, cni0 with a pod veth, flannel.1, a
macvlan and a tun device; and the VM itself). The bond/VLAN, WireGuard and
IPv6-only hosts cannot be built on that kernel (no bonding, 8021q, wireguard):
their fixtures are written in the same format by hand.
"""

from __future__ import annotations

import gzip
import json

import pytest
from ansible_collections.onprem.k8snet.plugins.module_utils import hostfacts

from tests.unit.inputs import FIXTURES


def raw(name: str) -> str:
    return (FIXTURES / name).read_text()


def interfaces(scenario: str) -> dict:
    return {i["name"]: i for i in hostfacts.parse_interfaces(raw(f"facts_raw_{scenario}/ip_addr.json"))}


# ---------------------------------------------------------------- interfaces

def test_netns_capture_kinds_states_and_order():
    parsed = hostfacts.parse_interfaces(raw("facts_raw_netns/ip_addr.json"))
    assert [(i["name"], i["kind"], i["state"]) for i in parsed] == [
        ("lo", "loopback", "up"),
        ("eth0", "veth", "up"),
        ("eth1", "veth", "up"),
        ("enp0s9", "veth", "up"),
        ("br0", "bridge", "up"),
        ("docker0", "bridge", "up"),
        ("cni0", "bridge", "up"),
        ("veth1a2b3c4d", "veth", "up"),
        ("flannel.1", "vxlan", "up"),
        ("mv0", "macvlan", "down"),   # admin down
        ("tun0", "tun", "down"),      # admin up, NO-CARRIER
    ]


def test_netns_capture_addresses_are_global_only():
    by_name = interfaces("netns")
    assert by_name["lo"]["addresses"] == []  # 127.0.0.1 and ::1 are scope host
    assert by_name["eth1"]["addresses"] == [
        {"address": "192.168.56.11", "prefix": 24, "family": 4},
        {"address": "10.10.0.11", "prefix": 24, "family": 4},
        {"address": "192.168.56.111", "prefix": 24, "family": 4},
        {"address": "fd00:56::11", "prefix": 64, "family": 6},
    ]  # no fe80:: link-local
    assert by_name["enp0s9"]["addresses"] == []  # link-local only
    assert by_name["flannel.1"]["addresses"] == [{"address": "10.244.0.0", "prefix": 32, "family": 4}]


def test_netns_capture_master_parent_mtu_mac():
    by_name = interfaces("netns")
    assert by_name["enp0s9"]["master"] == "br0"
    assert by_name["veth1a2b3c4d"]["master"] == "cni0"
    assert by_name["veth1a2b3c4d"]["parent"] is None  # its peer lives in a pod namespace
    assert by_name["mv0"]["parent"] == "eth1"
    assert by_name["eth0"]["parent"] is None
    assert by_name["flannel.1"]["mtu"] == 1450
    assert by_name["tun0"]["mac"] is None  # link_type none
    assert by_name["br0"]["mac"] == by_name["enp0s9"]["mac"]


def test_link_and_addr_from_two_commands_equal_one_detailed_addr():
    merged = hostfacts.parse_interfaces(raw("facts_raw_netns/ip_addr_plain.json"),
                                        raw("facts_raw_netns/ip_link.json"))
    assert merged == hostfacts.parse_interfaces(raw("facts_raw_netns/ip_addr.json"))


def test_vm_capture_plain_nic():
    by_name = interfaces("vm")
    assert by_name["eth0"]["kind"] == "ether"
    assert by_name["eth0"]["mtu"] == 1400
    assert {a["family"] for a in by_name["eth0"]["addresses"]} == {4, 6}
    assert by_name["ifb0"]["kind"] == "ifb" and by_name["ifb0"]["state"] == "down"


def test_bond_and_vlans():
    by_name = interfaces("bond_vlan")
    assert by_name["bond0"]["kind"] == "bond" and by_name["bond0"]["addresses"] == []
    assert by_name["eno1"]["kind"] == "ether" and by_name["eno1"]["master"] == "bond0"
    assert by_name["eno3"]["state"] == "down"  # NO-CARRIER
    vlan = by_name["bond0.100"]
    assert (vlan["kind"], vlan["parent"], vlan["mtu"]) == ("vlan", "bond0", 1500)
    assert vlan["addresses"] == [{"address": "10.20.100.21", "prefix": 24, "family": 4}]
    assert by_name["kube-ipvs0"]["kind"] == "dummy" and by_name["kube-ipvs0"]["state"] == "down"


def test_wireguard_devices_and_flannel_overlay():
    parsed = hostfacts.parse_interfaces(raw("facts_raw_wireguard/ip_addr.json"))
    by_name = {i["name"]: i for i in parsed}
    assert by_name["wg0"]["kind"] == "wireguard" and by_name["wg0"]["mac"] is None
    assert by_name["ens18"]["addresses"][1] == {"address": "2001:db8:1::5", "prefix": 64, "family": 6}
    assert hostfacts.flannel_overlay(parsed) == {"running": True, "device": "flannel-wg",
                                                 "addresses": ["10.244.2.0/32"]}


def test_flannel_overlay_vxlan_and_absent():
    assert hostfacts.flannel_overlay(hostfacts.parse_interfaces(raw("facts_raw_netns/ip_addr.json"))) == {
        "running": True, "device": "flannel.1", "addresses": ["10.244.0.0/32"]}
    assert hostfacts.flannel_overlay(hostfacts.parse_interfaces(raw("facts_raw_vm/ip_addr.json"))) == {
        "running": False, "device": None, "addresses": []}


def test_flannel_overlay_down_device_is_not_running():
    v6 = {"address": "fd00:10:244:1::", "prefix": 128}
    devices = [{"name": "flannel-v6.1", "state": "up", "addresses": [v6]},
               {"name": "flannel.1", "state": "down", "addresses": []},
               {"name": "flannelx", "state": "up", "addresses": []}]
    assert hostfacts.flannel_overlay(devices) == {"running": True, "device": "flannel.1",
                                                  "addresses": ["fd00:10:244:1::/128"]}
    assert hostfacts.flannel_overlay(devices[1:])["running"] is False


def test_ipv6_only_host():
    """Privacy (temporary) and deprecated addresses come first in the capture and are left out."""
    by_name = interfaces("ipv6_only")
    assert [a["address"] for a in by_name["ens3"]["addresses"]] == ["2001:db8:10::21", "2001:db8:10::1:21"]
    routes = hostfacts.parse_default_routes(raw("facts_raw_ipv6_only/route4.json"),
                                            raw("facts_raw_ipv6_only/route6.json"))
    assert routes == [{"family": 6, "gateway": "fe80::1", "dev": "ens3"}]  # metric 100 beats 1024


# ---------------------------------------------------------------- routes

def test_default_routes_of_the_netns():
    routes = hostfacts.parse_default_routes(raw("facts_raw_netns/route4.json"),
                                            raw("facts_raw_netns/route6.json"))
    assert routes == [
        {"family": 4, "gateway": "10.0.2.2", "dev": "eth0"},
        {"family": 6, "gateway": "fd00:56::1", "dev": "eth1"},
    ]


def test_default_routes_multipath_and_unreachable():
    v4 = json.dumps([
        {"type": "unreachable", "dst": "default", "metric": 1, "flags": []},
        {"dst": "default", "metric": 50, "flags": [],
         "nexthops": [{"gateway": "10.0.0.1", "dev": "bond0.10", "weight": 1, "flags": []},
                      {"gateway": "10.0.1.1", "dev": "bond0.11", "weight": 1, "flags": []}]},
        {"dst": "default", "gateway": "10.0.2.2", "dev": "eth0", "metric": 100, "flags": []},
        {"dst": "default", "dev": "wg0", "scope": "link", "metric": 200, "flags": []},
    ])
    assert hostfacts.parse_default_routes(v4, "") == [{"family": 4, "gateway": "10.0.0.1", "dev": "bond0.10"}]


@pytest.mark.parametrize(("target", "dev", "src"), [
    ("192.168.56.12", "eth1", "192.168.56.11"),
    ("203.0.113.9", "eth0", "10.0.2.15"),
    ("192.168.56.111", "eth1", "192.168.56.11"),   # the host's own address: the route is via lo
])
def test_route_get(target, dev, src):
    parsed = hostfacts.parse_interfaces(raw("facts_raw_netns/ip_addr.json"))
    result = hostfacts.parse_route_get(target, raw(f"facts_raw_netns/route_get_{target}.json"), "", parsed)
    assert result == {"target": target, "dev": dev, "src": src}


def test_route_get_without_route_keeps_the_error():
    result = hostfacts.parse_route_get("198.18.0.1", "", "RTNETLINK answers: Network is unreachable\n")
    assert result == {"target": "198.18.0.1", "dev": None, "src": None,
                      "error": "RTNETLINK answers: Network is unreachable"}


# ---------------------------------------------------------------- sysctls

@pytest.mark.parametrize(("text", "expected"), [
    ("32768\t60999\n", [32768, 60999]),
    ("1024 65000", [1024, 65000]),
    ("", [32768, 60999]),
    (None, [32768, 60999]),
])
def test_port_range(text, expected):
    assert hostfacts.parse_port_range(text) == expected


# ---------------------------------------------------------------- kernel features

def lab_kernel():
    config = gzip.decompress((FIXTURES / "facts_raw_kernel_lab/config.gz").read_bytes()).decode()
    return config, set(raw("facts_raw_kernel_lab/sys_module.txt").split())


@pytest.mark.parametrize(("feature", "state"), [
    ("br_netfilter", "builtin"),   # no /sys/module/br_netfilter, but CONFIG_BRIDGE_NETFILTER=y
    ("vxlan", "builtin"),          # /sys/module/vxlan exists, and CONFIG_VXLAN=y
    ("overlay", "builtin"),        # CONFIG_OVERLAY_FS=y
    ("nf_conntrack", "builtin"),
    ("wireguard", "absent"),
    ("ip_vs", "absent"),
])
def test_lab_kernel_has_no_lib_modules(feature, state):
    config, sys_module = lab_kernel()
    assert hostfacts.feature_state(feature, feature in sys_module, set(), config, set()) == state


@pytest.mark.parametrize(("feature", "state"), [
    ("br_netfilter", "module"),
    ("vxlan", "loaded"),
    ("overlay", "module"),
    ("wireguard", "module"),
    ("nf_conntrack", "loaded"),
    ("unix", "builtin"),           # listed in modules.builtin
    ("sctp", "absent"),
])
def test_distribution_kernel_with_modules(feature, state):
    builtin = hostfacts.module_names(raw("facts_raw_kernel_debian/modules.builtin"))
    available = hostfacts.module_names(raw("facts_raw_kernel_debian/modules.dep"))
    loaded = feature in raw("facts_raw_kernel_debian/sys_module.txt").split()
    config = raw("facts_raw_kernel_debian/config")
    assert hostfacts.feature_state(feature, loaded, builtin, config, available) == state


def test_module_names_normalize_dashes():
    names = hostfacts.module_names("kernel/arch/x86/crypto/crc32c-intel.ko.zst\n"
                                   "kernel/fs/overlayfs/overlay.ko.xz:\n")
    assert names == {"crc32c_intel", "overlay"}


# ---------------------------------------------------------------- firewall

def test_nftables_drop_policy_from_the_netns():
    assert hostfacts.detect_firewall(nft_chains=raw("facts_raw_netns/nft_chains.json")) == {
        "kind": "nftables", "detail": "table inet filter, chain input policy drop"}
    # `nft -j list ruleset` (rules included) reads the same
    assert hostfacts.detect_firewall(nft_chains=raw("facts_raw_netns/nft_ruleset.json"))["kind"] == "nftables"


def test_iptables_nft_is_reported_as_iptables():
    result = hostfacts.detect_firewall(nft_chains=raw("facts_raw_firewall/nft_chains_iptables_nft.json"))
    assert result["kind"] == "iptables" and "INPUT policy DROP" in result["detail"]


def test_iptables_legacy_policy():
    drop = hostfacts.detect_firewall(iptables_input=raw("facts_raw_firewall/iptables_input_drop.txt"))
    accept = hostfacts.detect_firewall(iptables_input=raw("facts_raw_firewall/iptables_input_accept.txt"))
    assert (drop["kind"], accept["kind"]) == ("iptables", "none")


def test_firewalld_and_ufw_win_over_their_rulesets():
    firewalld_chains = raw("facts_raw_firewall/nft_chains_firewalld.json")
    assert hostfacts.detect_firewall(nft_chains=firewalld_chains)["kind"] == "none"  # accept policies only
    assert hostfacts.detect_firewall(True, False, firewalld_chains)["kind"] == "firewalld"
    assert hostfacts.ufw_enabled(raw("facts_raw_firewall/ufw.conf")) is True
    assert hostfacts.ufw_enabled("ENABLED=no\n") is False
    assert hostfacts.detect_firewall(False, True, raw("facts_raw_netns/nft_chains.json"))["kind"] == "ufw"


def test_no_firewall_on_the_vm():
    result = hostfacts.detect_firewall(nft_chains=raw("facts_raw_vm/nft_chains.json"))
    assert result["kind"] == "none" and result["detail"]


# ---------------------------------------------------------------- sockets

def test_listening_from_the_netns_capture():
    ports = [{"protocol": "tcp", "port": 443}, {"protocol": "udp", "port": 8472},
             {"protocol": "udp", "port": 7946}, {"protocol": "tcp", "port": 7946}]
    assert hostfacts.parse_listening(raw("facts_raw_netns/ss.txt"), ports) == [
        {"protocol": "udp", "port": 7946, "address": "192.168.56.11", "process": "python3", "pid": 7193},
        # the kernel's vxlan socket has no owning process
        {"protocol": "udp", "port": 8472, "address": "0.0.0.0", "process": None, "pid": None},
        {"protocol": "tcp", "port": 443, "address": "*", "process": "python3", "pid": 7193},
    ]


def test_listening_address_forms_and_several_processes():
    ports = [{"protocol": "tcp", "port": p} for p in (80, 53, 8080, 10250)]
    ports.append({"protocol": "udp", "port": 443})
    found = hostfacts.parse_listening(raw("facts_raw_firewall/ss_typical_node.txt"), ports)
    assert [(s["port"], s["address"], s["process"], s["pid"]) for s in found] == [
        (53, "127.0.0.53", "systemd-resolve", 512),
        (80, "0.0.0.0", "nginx", 1235),
        (80, "::", "nginx", 1235),
        (10250, "*", "kubelet", 2048),
        (8080, "fe80::1", "python3", 3001),
    ]


def test_no_ports_asked_no_sockets():
    assert hostfacts.parse_listening(raw("facts_raw_netns/ss.txt"), []) == []


# ---------------------------------------------------------------- JSON

@pytest.mark.parametrize("text", ["", "  \n", None, "[]\n"])
def test_empty_ip_output_is_nothing(text):
    assert hostfacts.load_json(text) == []


def test_kernel_parameters_are_read_from_proc_and_a_missing_one_is_none():
    from ansible_collections.onprem.k8snet.plugins.module_utils.sysctl import read_runtime

    values = read_runtime(["net.ipv4.ip_forward", "net.k8snet.no_such_parameter"])
    assert values["net.ipv4.ip_forward"] in ("0", "1")
    assert values["net.k8snet.no_such_parameter"] is None


def test_cgroup_version_as_kubelet_sees_it():
    v1_mounts = "cgroup /sys/fs/cgroup/memory cgroup rw,nosuid 0 0\nproc /proc proc rw 0 0\n"
    hybrid = v1_mounts + "cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n"
    assert hostfacts.cgroup_version(True, "cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n") == "v2"
    assert hostfacts.cgroup_version(False, v1_mounts) == "v1"
    assert hostfacts.cgroup_version(False, hybrid) == "v1"          # hybrid: kubelet counts it as v1
    assert hostfacts.cgroup_version(False, None) == "unknown"


@pytest.mark.parametrize("output, backend", [
    ("iptables v1.8.9 (nf_tables)\n", "nft"),
    ("iptables v1.8.9 (legacy)\n", "legacy"),
    ("iptables v1.6.1\n", "legacy"),                   # before 1.8 there was only the legacy backend
    (None, None),                                       # no iptables command at all
    ("", None),
])
def test_iptables_backend_from_its_version_line(output, backend):
    assert hostfacts.iptables_backend(output) == backend


def test_packet_filter_lists_the_tools_in_a_fixed_order_and_the_plain_iptables_backend():
    assert hostfacts.packet_filter(["nft", "iptables-nft", "iptables-legacy"], "iptables v1.8.9 (nf_tables)") == \
        {"tools": ["iptables-legacy", "iptables-nft", "nft"], "iptables": "nft"}
    # a host that ships nftables only
    assert hostfacts.packet_filter(["nft"], None) == {"tools": ["nft"], "iptables": None}
