"""Probe sizes: each node pings its peers at ITS OWN pod MTU, the size its pods will send."""

from __future__ import annotations

from ansible_collections.onprem.k8snet.plugins.module_utils import probe


def node(address: str, mtu: int, pod_mtu: int) -> dict:
    return {"iface": {"name": "eth1", "ipv4": address, "mtu": mtu}, "pod_mtu": pod_mtu}


def test_vxlan_probe_uses_the_senders_pod_mtu_so_a_smaller_peer_mtu_shows():
    nodes = {"node1": node("192.168.56.11", 1500, 1450), "node2": node("192.168.56.12", 1400, 1350)}
    who, _ = probe.pairs(list(nodes))
    probes = probe.vxlan_probes(nodes, {}, {"vni": 1, "port": 8472}, who)
    assert [(t["peer"], t["size"]) for t in probes["node1"]["targets"]] == [("node2", 1450)]
    assert [(t["peer"], t["size"]) for t in probes["node2"]["targets"]] == [("node1", 1350)]
    assert (probes["node1"]["mtu"], probes["node2"]["mtu"]) == (1450, 1350)


def test_the_probe_device_never_takes_flannels_vni_so_a_flannel_starting_meanwhile_cannot_clash():
    nodes = {"node1": node("192.168.56.11", 1500, 1450), "node2": node("192.168.56.12", 1500, 1450)}
    who, _ = probe.pairs(list(nodes))
    for vni, expected in ((1, 2), (4096, 4097), (16777215, 1)):
        probes = probe.vxlan_probes(nodes, {}, {"vni": vni, "port": 8472}, who)
        assert (probes["node1"]["vni"], probes["node1"]["port"]) == (expected, 8472)


def test_l2_pools_are_swept_by_arp_from_the_node_on_their_segment_and_ipv6_ranges_are_listed_as_unprobed():
    nodes = {"node1": {"iface": {"name": "eth1", "ipv4": "192.168.56.11", "prefix4": 24}},
             "node2": {"iface": {"name": "eth1", "ipv4": "192.168.56.12", "prefix4": 24}}}
    pools = [
        {"name": "lan", "mode": "l2", "ranges": [
            {"family": 4, "first": "192.168.56.240", "last": "192.168.56.242"},
            {"family": 6, "first": "fd00::10", "last": "fd00::1f"}]},
        {"name": "routed", "mode": "bgp", "ranges": [{"family": 6, "first": "fd01::1", "last": "fd01::9"}]},
    ]
    sweeps = probe.pool_sweeps(nodes, pools)
    assert list(sweeps) == ["node1"]
    assert sweeps["node1"]["addresses"] == ["192.168.56.240", "192.168.56.241", "192.168.56.242"]
    assert sweeps["node1"]["pools"]["192.168.56.241"] == "lan"
    assert probe.unprobed_ranges(pools) == ["lan: fd00::10-fd00::1f"]


# ---------------------------------------------------------------- what a run probes

SETTINGS = {"flannel_backend": "vxlan", "flannel_vni": 1, "flannel_port": 8472, "metallb_enabled": True,
            "k8s_probe_scope": "changes"}


def plan_of(count: int, pool_last: str = "192.168.56.242", settings: dict | None = None, **changed_nodes) -> dict:
    settings = {**SETTINGS, **(settings or {})}
    nodes = {f"node{i}": {"iface": {"name": "eth1", "ipv4": f"192.168.56.{10 + i}", "prefix4": 24, "mtu": 1500},
                          "pod_mtu": 1450} for i in range(1, count + 1)}
    nodes.update(changed_nodes)
    pools = [{"name": "lan", "mode": "l2", "ranges": [{"family": 4, "first": "192.168.56.240", "last": pool_last}]}]
    flannel = {"backend": settings["flannel_backend"], "vni": settings["flannel_vni"],
               "port": settings["flannel_port"], "mtu": None}
    return {"nodes": nodes, "flannel": flannel, "metallb": {"enabled": settings["metallb_enabled"], "pools": pools},
            "probes": probe.plan_probes(nodes, {}, settings, pools)}


def applied(plan: dict) -> dict:
    """A plan as the day-2 record gives it back (state.load): pools by name."""
    return {**plan, "metallb": {**plan["metallb"], "pools": {p["name"]: p for p in plan["metallb"]["pools"]}}}


def pairs_of(section: dict) -> set[tuple[str, str]]:
    return {(host, t["peer"]) for host, entry in section.items() for t in entry["targets"]}


def test_a_run_with_nothing_changed_sends_no_probe_and_says_why():
    scoped = probe.scoped(plan_of(3), applied(plan_of(3)))
    assert (scoped["vxlan"], scoped["ports"], scoped["pools"]) == ({}, {}, {})
    assert scoped["scope"].startswith("none: nothing the probes depend on changed")
    assert scoped["nodes"] == []                                 # site.yml skips the probe play


def test_a_first_run_or_k8s_probe_scope_all_or_an_overlay_change_probes_everything():
    full = plan_of(3)["probes"]
    before = applied(plan_of(3))
    for plan, previous, why in ((plan_of(3), None, "nothing applied yet"),
                                (plan_of(3, settings={"k8s_probe_scope": "all"}), before, "k8s_probe_scope: all"),
                                (plan_of(3, settings={"flannel_port": 4789}), before, "overlay settings changed")):
        scoped = probe.scoped(plan, previous)
        assert pairs_of(scoped["vxlan"]) == pairs_of(full["vxlan"]) and len(pairs_of(scoped["vxlan"])) == 6
        assert scoped["pools"]["node1"]["addresses"] == full["pools"]["node1"]["addresses"]
        assert why in scoped["scope"]
        assert scoped["nodes"] == ["node1", "node2", "node3"]


def test_an_added_node_probes_only_its_pairs_both_ways_and_its_peers_keep_their_device_and_listeners():
    scoped = probe.scoped(plan_of(4), applied(plan_of(3)))
    expected = {("node4", p) for p in ("node1", "node2", "node3")} | {(p, "node4") for p in ("node1", "node2", "node3")}
    assert pairs_of(scoped["vxlan"]) == expected
    assert pairs_of(scoped["ports"]) == expected
    assert set(scoped["vxlan"]) == set(scoped["ports"]) == {"node1", "node2", "node3", "node4"}
    assert all(entry["listen"] for entry in scoped["ports"].values())
    assert scoped["pools"] == {}
    assert scoped["scope"].startswith("only the pairs of node4")
    assert scoped["nodes"] == ["node1", "node2", "node3", "node4"]


def test_a_node_whose_nic_changed_is_probed_again_and_only_new_pool_addresses_are_swept():
    moved = {"iface": {"name": "eth2", "ipv4": "192.168.56.12", "prefix4": 24, "mtu": 1500}, "pod_mtu": 1450}
    scoped = probe.scoped(plan_of(3, pool_last="192.168.56.244", node2=moved), applied(plan_of(3)))
    assert pairs_of(scoped["vxlan"]) == {("node2", "node1"), ("node2", "node3"), ("node1", "node2"), ("node3", "node2")}
    assert scoped["pools"]["node1"]["addresses"] == ["192.168.56.243", "192.168.56.244"]
    assert scoped["scope"] == ("only the pairs of node2 (new, changed NIC or not prepared) and 2 new pool addresses; "
                               "k8s_probe_scope: all (or verify.yml) probes everything")


def test_a_node_without_a_trace_of_preparation_is_probed_like_a_new_one():
    """Same NIC, same address, but reinstalled (no sysctl drop-in in its facts): its pairs are probed."""
    from ansible_collections.onprem.k8snet.plugins.filter.probe_scope import probe_scope

    def hostvars(file_node3):
        return {f"node{i}": {"network_plan_facts": {"facts": {"sysctl": {
            "file": file_node3 if i == 3 else "# Managed by k8snet"}}}} for i in (1, 2, 3)}

    scoped = probe_scope(plan_of(3), applied(plan_of(3)), hostvars=hostvars(None))["probes"]
    assert pairs_of(scoped["vxlan"]) == {("node3", "node1"), ("node3", "node2"), ("node1", "node3"), ("node2", "node3")}
    assert scoped["scope"].startswith("only the pairs of node3 (new, changed NIC or not prepared)")
    prepared = hostvars("# Managed by k8snet")
    assert probe_scope(plan_of(3), applied(plan_of(3)), hostvars=prepared)["probes"]["vxlan"] == {}


def test_where_flannel_already_runs_the_planned_nics_path_is_probed_not_the_running_overlay():
    """Someone's flannel on the NAT NIC (or ours, before a NIC change) says nothing about the planned NICs."""
    nodes = plan_of(3)["nodes"]
    running = {"running": True, "device": "flannel.1", "addresses": ["10.244.0.0/32"]}
    facts = {"node1": {"flannel": running}, "node2": {"flannel": running}, "node3": {"flannel": {"running": False}}}
    vxlan = probe.plan_probes(nodes, facts, SETTINGS, [])["vxlan"]
    assert not vxlan["node1"]["create_device"] and vxlan["node3"]["create_device"]
    to_node2 = next(t for t in vxlan["node1"]["targets"] if t["peer"] == "node2")
    assert (to_node2["kind"], to_node2["address"], to_node2["size"]) == ("underlay", "192.168.56.12", 1500)
    assert {t["kind"] for t in vxlan["node3"]["targets"]} == {"underlay"}    # its peers run flannel


DIAG_PLAN = {"nodes": {"node1": node("192.168.56.11", 1500, 1450), "node2": node("192.168.56.12", 1400, 1350)},
             "flannel": {"vni": 1, "port": 8472}}


def vxlan_check(**result) -> dict:
    return {"peer": "node2", "kind": "vxlan", "address": "10.244.1.0", "size": 1450, **result}


def test_small_packets_pass_full_size_ones_do_not_names_the_mtu_and_the_command_that_finds_it():
    (line,) = probe.diagnose_vxlan(DIAG_PLAN, {"node1": [vxlan_check(large=False, small=True)]})
    assert line.startswith("node1 eth1 192.168.56.11 -> node2 eth1 192.168.56.12: packets of 1450 bytes with "
                           "don't-fragment are lost but small ones pass: an MTU mismatch on the path (this NIC "
                           "MTU 1500, peer 1400); set flannel_mtu to the smallest MTU on the path."), line
    # 1450-byte pod packets travel in 1500-byte underlay packets: ping's payload is 1500 - 28.
    assert "hypervisor vSwitch" in line and "`ping -M do -s 1472 192.168.56.12` on node1" in line, line


def test_nothing_passing_over_vxlan_names_firewall_hypervisor_and_checksum_offload_with_their_tests():
    (line,) = probe.diagnose_vxlan(DIAG_PLAN, {"node1": [vxlan_check(large=False, small=False)]})
    assert "no VXLAN traffic (UDP 8472) gets through" in line
    assert "`tcpdump -ni eth1 udp port 8472` on node2" in line                       # (1) a firewall
    assert "try another flannel_port (e.g. 4789), or flannel_backend: host-gw" in line  # (2) the hypervisor
    assert "`ethtool -K eth1 tx-checksum-ip-generic off` on both nodes" in line       # (3) checksum offload


def test_a_pair_whose_full_size_packets_pass_has_no_diagnosis():
    assert probe.diagnose_vxlan(DIAG_PLAN, {"node1": [vxlan_check(large=True, small=True)]}) == []
