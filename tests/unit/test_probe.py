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
