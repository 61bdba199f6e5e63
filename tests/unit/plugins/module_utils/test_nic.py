"""NIC selection (plugins/module_utils/nic.py) over the clusters of fixtures/facts_clusters.yaml,
over facts parsed from recorded `ip` output, and at 5,000 nodes."""

from __future__ import annotations

import copy

import netaddr
import pytest
import yaml
from ansible_collections.onprem.k8snet.plugins.module_utils import hostfacts
from ansible_collections.onprem.k8snet.plugins.module_utils.nic import (
    AddressIndex,
    select_interfaces,
    summarize,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.inputs import FIXTURES

CLUSTERS = yaml.safe_load((FIXTURES / "facts_clusters.yaml").read_text())


def expand_iface(short) -> dict:
    """The fixtures' short interface form -> the node_facts interface shape."""
    if short == "lo":
        short = {"name": "lo", "kind": "loopback", "mtu": 65536}
    addresses = []
    for cidr in short.get("addrs", []):
        ip = netaddr.IPNetwork(cidr)
        addresses.append({"address": str(ip.ip), "prefix": ip.prefixlen, "family": ip.version})
    return {"name": short["name"], "kind": short.get("kind", "ether"), "state": short.get("state", "up"),
            "mtu": short.get("mtu", 1500), "mac": "02:00:00:00:00:01", "master": short.get("master"),
            "parent": None, "addresses": addresses}


def expand_node(node: dict) -> dict:
    routes = [{"family": fam, "gateway": None, "dev": node[key]}
              for fam, key in ((4, "default_route"), (6, "default_route6")) if node.get(key)]
    facts = {"hostname": "x", "interfaces": [expand_iface(i) for i in node["interfaces"]],
             "default_routes": routes, "can_reach": node.get("can_reach")}
    return {"address": node.get("address"), "facts": facts, "vars": node.get("vars") or {}}


def run(scenario: dict):
    nodes = {host: expand_node(node) for host, node in scenario["nodes"].items()}
    settings_ = {"flannel_iface": None, "flannel_iface_regex": None, "flannel_iface_can_reach": None,
                 "families": {"ipv4": True, "ipv6": False}, **(scenario.get("settings") or {})}
    return select_interfaces(nodes, settings_)


@pytest.mark.parametrize("name", list(CLUSTERS))
def test_cluster_fixture(name):
    scenario = CLUSTERS[name]
    choices, problems = run(scenario)
    assert set(choices) == set(scenario["nodes"])
    for host, expected in scenario["expect"].items():
        choice = choices[host]
        if expected is None:
            assert choice is None, f"{host}: expected no choice, got {choice}"
            continue
        assert choice is not None, f"{host}: no choice; {problems.report()}"
        for key, value in expected.items():
            if key == "reason_contains":
                for part in value:
                    assert part in choice["reason"], choice["reason"]
            else:
                assert choice[key] == value, f"{host}.{key}: {choice[key]!r} != {value!r}"
    assert summarize(choices) == scenario["summary"]
    wanted = scenario["problems"]
    got = [(p.severity, p.variable) for p in problems.items]
    assert sorted(got) == sorted((w["severity"], w["variable"]) for w in wanted), problems.report()
    for want in wanted:
        problem = next(p for p in problems.items
                       if p.variable == want["variable"] and p.severity == want["severity"])
        for part in want.get("why_contains", []):
            assert part in problem.why, problem.why
        for part in want.get("fix_contains", []):
            assert part in problem.fix, problem.fix


def test_every_choice_has_the_documented_keys():
    choices, _ = run(CLUSTERS["dual_stack"])
    assert set(choices["node1"]) == {"name", "ipv4", "ipv6", "prefix4", "prefix6", "mtu", "method", "reason",
                                     "first_address", "skipped"}
    assert "\n" not in choices["node1"]["reason"]


def test_per_host_variable_wins_over_cluster_wide():
    scenario = copy.deepcopy(CLUSTERS["two_networks_inventory_wins"])
    scenario["settings"] = {"flannel_iface": "eth1"}
    scenario["nodes"]["node2"]["vars"] = {"flannel_iface": "eth2"}
    choices, problems = run(scenario)
    assert (choices["node1"]["name"], choices["node2"]["name"]) == ("eth1", "eth2")
    assert summarize(choices) == {"iface_arg": None, "annotate_nodes": True}
    assert not problems.items


def test_flannel_iface_wins_over_regex_and_can_reach():
    scenario = copy.deepcopy(CLUSTERS["two_networks_inventory_wins"])
    scenario["settings"] = {"flannel_iface_regex": "^eth1$", "flannel_iface_can_reach": "192.168.56.1"}
    scenario["nodes"]["node1"]["vars"] = {"flannel_iface": "eth2"}
    choices, _ = run(scenario)
    assert choices["node1"]["method"] == "flannel_iface" and choices["node1"]["name"] == "eth2"
    assert choices["node2"]["method"] == "flannel_iface_regex" and choices["node2"]["name"] == "eth1"


def test_regex_that_does_not_compile_is_an_error_for_that_host():
    scenario = copy.deepcopy(CLUSTERS["vagrant_trap"])
    scenario["nodes"]["node2"]["vars"] = {"flannel_iface_regex": "eth[1"}
    choices, problems = run(scenario)
    assert choices["node2"] is None and choices["node1"]["name"] == "eth1"
    [error] = problems.errors
    assert error.variable == "flannel_iface_regex (host node2)" and "does not compile" in error.why


def test_same_problem_on_many_hosts_is_reported_once():
    base = CLUSTERS["unbreakable_tie"]["nodes"]["node1"]
    nodes = {}
    for i in range(1, 13):
        node = copy.deepcopy(base)
        node["address"] = f"203.0.113.{i}"
        node["interfaces"][2]["addrs"] = [f"192.168.56.{i}/24"]
        node["interfaces"][3]["addrs"] = [f"172.16.0.{i}/24"]
        nodes[f"node{i}"] = node
    # The inventory address is part of the message, so only hosts with the same one merge: make them equal.
    for node in nodes.values():
        node["address"] = None
    choices, problems = run({"nodes": nodes})
    assert all(c is None for c in choices.values())
    [error] = problems.errors
    assert error.variable == "flannel_iface (hosts node1, node2, node3, node4, node5 and 7 more)"
    assert "cannot choose between eth1 (192.168.56.0/24) and eth2 (172.16.0.0/24)" in error.why


def test_summarize_edge_cases():
    assert summarize({}) == {"iface_arg": None, "annotate_nodes": False}
    assert summarize({"a": None}) == {"iface_arg": None, "annotate_nodes": False}


def test_families_default_to_ipv4():
    scenario = CLUSTERS["vagrant_trap"]
    nodes = {host: expand_node(node) for host, node in scenario["nodes"].items()}
    choices, _ = select_interfaces(nodes, {})
    assert choices["node1"]["name"] == "eth1" and choices["node1"]["ipv6"] is None


# ---------------------------------------------------------------- from recorded `ip` output

def captured_node(replace: dict, address: str | None) -> dict:
    """The netns capture (NAT eth0, eth1 with 3 addresses, br0, docker0, cni0, flannel.1, ...) as a node."""
    text = (FIXTURES / "facts_raw_netns/ip_addr.json").read_text()
    for old, new in replace.items():
        text = text.replace(f'"{old}"', f'"{new}"')
    facts = {"interfaces": hostfacts.parse_interfaces(text),
             "default_routes": hostfacts.parse_default_routes(
                 (FIXTURES / "facts_raw_netns/route4.json").read_text(),
                 (FIXTURES / "facts_raw_netns/route6.json").read_text()),
             "can_reach": None}
    return {"address": address, "facts": facts, "vars": {}}


def test_recorded_lab_nodes_choose_eth1():
    nodes = {"node1": captured_node({}, "192.168.56.11"),
             "node2": captured_node({"192.168.56.11": "192.168.56.12", "172.16.0.11": "172.16.0.12",
                                     "10.10.0.11": "10.10.0.12"}, "192.168.56.12")}
    choices, problems = select_interfaces(nodes, {"families": {"ipv4": True, "ipv6": False}})
    assert choices["node2"]["reason"] == ("eth1: holds 192.168.56.12 (inventory address); "
                                          "eth0 (default route) skipped: 10.0.2.15 on 2 nodes (NAT)")
    assert choices["node1"]["ipv4"] == "192.168.56.11" and choices["node1"]["mtu"] == 1500
    assert not problems.items


def test_every_other_interface_is_skipped_in_one_word():
    """The netns capture: NAT, a bridge port, a down link and a tunnel, each in one word; a candidate the
    choice did not need is spare (br0 automatically, eth1 when flannel_iface picks br0); container plumbing
    (docker0, cni0, pod veths, flannel.1) is no NIC and not listed: it changes with every pod."""
    replace = {"192.168.56.11": "192.168.56.12", "172.16.0.11": "172.16.0.12", "10.10.0.11": "10.10.0.12"}
    nodes = {"node1": captured_node({}, "192.168.56.11"), "node2": captured_node(replace, "192.168.56.12")}
    families = {"ipv4": True, "ipv6": False}
    choices, _ = select_interfaces(nodes, {"families": families})
    assert choices["node1"]["skipped"] == {
        "eth0": "NAT", "enp0s9": "port", "br0": "spare", "mv0": "down", "tun0": "tun"}
    explicit, _ = select_interfaces(nodes, {"flannel_iface": "br0", "families": families})
    assert explicit["node1"]["name"] == "br0"
    assert (explicit["node1"]["skipped"]["eth1"], explicit["node1"]["skipped"]["eth0"]) == ("spare", "NAT")
    assert "br0" not in explicit["node1"]["skipped"] and "lo" not in explicit["node1"]["skipped"]


def test_recorded_lab_nodes_behind_nat_tie_between_eth1_and_br0():
    replace = {"192.168.56.11": "192.168.56.12", "172.16.0.11": "172.16.0.12", "10.10.0.11": "10.10.0.12"}
    nodes = {"node1": captured_node({}, None), "node2": captured_node(replace, None)}
    choices, problems = select_interfaces(nodes, {"families": {"ipv4": True, "ipv6": False}})
    assert choices == {"node1": None, "node2": None}
    assert [p.variable for p in problems.errors] == ["flannel_iface (hosts node1, node2)"]  # the same problem
    assert "between eth1 (192.168.56.0/24) and br0 (172.16.0.0/24)" in problems.errors[0].why


def test_recorded_bond_host():
    text = (FIXTURES / "facts_raw_bond_vlan/ip_addr.json").read_text()
    facts = {"interfaces": hostfacts.parse_interfaces(text),
             "default_routes": hostfacts.parse_default_routes(
                 (FIXTURES / "facts_raw_bond_vlan/route4.json").read_text(), "[]")}
    choices, _ = select_interfaces({"db1": {"address": "10.20.100.21", "facts": facts, "vars": {}}},
                                   {"families": {"ipv4": True}})
    assert choices["db1"]["name"] == "bond0.100" and choices["db1"]["method"] == "inventory_address"


# ---------------------------------------------------------------- scale and the subnet index

def big_cluster(count: int, inventory_on_node: bool) -> dict:
    nodes = {}
    for i in range(count):
        a = netaddr.IPAddress(netaddr.IPNetwork("10.128.0.0/14").first + 10 + i)
        s = netaddr.IPAddress(netaddr.IPNetwork("172.20.0.0/14").first + 10 + i)
        interfaces = [
            {"name": "lo", "kind": "loopback", "state": "up", "mtu": 65536, "addresses": []},
            {"name": "eth0", "kind": "ether", "state": "up", "mtu": 1500,
             "addresses": [{"address": "10.0.2.15", "prefix": 24, "family": 4}]},
            {"name": "eth1", "kind": "ether", "state": "up", "mtu": 1500,
             "addresses": [{"address": str(a), "prefix": 14, "family": 4}]},
            {"name": "eth2", "kind": "ether", "state": "up", "mtu": 9000,
             "addresses": [{"address": str(s), "prefix": 24, "family": 4}]},
        ]
        nodes[f"n{i}"] = {"address": str(a) if inventory_on_node else f"198.18.{i // 250}.{i % 250}",
                          "facts": {"interfaces": interfaces,
                                    "default_routes": [{"family": 4, "gateway": "10.0.2.2", "dev": "eth0"}]},
                          "vars": {}}
    return nodes


@pytest.mark.parametrize("inventory_on_node", [True, False])
def test_5000_nodes_choose_the_same_way(inventory_on_node):
    # Correctness at scale only: how fast is make bench's figure (tests/bench/bench_plan.py), not a timed
    # unit test that a loaded machine fails.
    nodes = big_cluster(5000, inventory_on_node)
    choices, problems = select_interfaces(nodes, {"families": {"ipv4": True}})
    assert not problems.items
    assert {c["name"] for c in choices.values()} == {"eth1"}
    expected = "inventory_address" if inventory_on_node else "peers_subnet"
    assert {c["method"] for c in choices.values()} == {expected}


points = st.lists(st.tuples(st.integers(0, 7), st.integers(0, 255)), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(points, st.integers(0, 255), st.integers(24, 32))
def test_index_counts_nodes_like_brute_force(pts, base, prefix):
    """AddressIndex.nodes_in = number of distinct nodes with an address inside the subnet."""
    nodes = {}
    for node, last in pts:
        nodes.setdefault(f"n{node}", set()).add(f"10.1.0.{last}")
    facts = {h: {"address": None, "vars": {}, "facts": {"interfaces": [
        {"name": f"e{k}", "kind": "ether", "state": "up", "mtu": 1500,
         "addresses": [{"address": a, "prefix": 32, "family": 4}]} for k, a in enumerate(sorted(addrs))]}}
        for h, addrs in nodes.items()}
    from ansible_collections.onprem.k8snet.plugins.module_utils import nic
    parsed = [nic._read_node(h, d, 4) for h, d in facts.items()]
    for node in parsed:
        for iface in node.ifaces:
            iface.skip = nic.skip_reason(iface, (4,))
    index = AddressIndex(parsed)
    network = netaddr.IPNetwork(f"10.1.0.{base}/{prefix}")
    brute = sum(1 for addrs in nodes.values() if any(netaddr.IPAddress(a) in network for a in addrs))
    assert index.nodes_in(network) == brute


def test_api_mode_always_annotates_and_never_sets_iface():
    """api mode: the same names everywhere still give per-node annotations, so a NIC change on one node
    leaves the DaemonSet (and every other node's flannel pod) alone."""
    choices, _ = run(CLUSTERS["two_networks_inventory_wins"])
    assert summarize(choices)["iface_arg"] == "eth1"
    assert summarize(choices, per_node=True) == {"iface_arg": None, "annotate_nodes": True}
