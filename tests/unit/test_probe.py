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
