#!/usr/bin/env python3
"""Benchmark: network-plan validation for 500 / 5,000 / 50,000 nodes (3 NICs each) and 50 pools.

Prints the time per size and the growth factor; the target is < 1 s for 5,000 nodes and
roughly linear growth. Dual-stack pod/service networks; 25 IPv4 L2 pools and 25 IPv6 BGP pools.
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

import netaddr

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "collections"), str(ROOT)]

from ansible_collections.onprem.k8snet.plugins.module_utils.plan import build_plan

from tests.unit.inputs import iface

NODE_NET = netaddr.IPNetwork("10.128.0.0/14")     # eth1: the cluster network (shared L2 for the L2 pools)
STORAGE_NET = netaddr.IPNetwork("172.20.0.0/14")  # eth2: a second network on every node
V6_NET = netaddr.IPNetwork("fd00:1::/64")


def facts(i: int) -> dict:
    a = netaddr.IPAddress(NODE_NET.first + 10 + i)
    s = netaddr.IPAddress(STORAGE_NET.first + 10 + i)
    v6 = netaddr.IPAddress(V6_NET.first + 10 + i, 6)
    return {
        "hostname": f"n{i}",
        "interfaces": [iface("lo", kind="loopback"), iface("eth0", "10.0.2.15/24"),
                       iface("eth1", f"{a}/14", f"{v6}/64"), iface("eth2", f"{s}/14")],
        "default_routes": [{"family": 4, "gateway": "10.0.2.2", "dev": "eth0"}],
        "can_reach": None, "ip_local_port_range": [32768, 60999], "ip_local_reserved_ports": "",
        "kernel": {"release": "6.1", "features": {}}, "firewall": {"kind": "none", "detail": ""},
        "listening": [], "flannel": {"running": False, "device": None, "addresses": []},
    }


def inputs(nodes: int) -> dict:
    last = netaddr.IPAddress(NODE_NET.last)
    pools = [{"name": f"l2-{p}", "addresses": [f"{last - 1000 - p * 16}-{last - 1000 - p * 16 + 9}"]}
             for p in range(25)]
    pools += [{"name": f"bgp6-{p}", "addresses": [f"fd00:ff:{p:x}::/120"], "mode": "bgp"} for p in range(25)]
    cluster = {"k8s_pod_cidr": ["100.64.0.0/10", "fd00:10::/48"],
               "k8s_service_cidr": ["100.128.0.0/16", "fd00:96::/112"],
               "k8s_node_pod_prefix": 26, "metallb_pools": pools,
               "metallb_bgp_peers": [{"address": "fd00:1::1", "asn": 64512, "my_asn": 64513}]}
    hosts = {}
    for i in range(nodes):
        groups = ["k8s_cluster", "kube_node"] + (["kube_control_plane"] if i < 3 else [])
        hosts[f"n{i}"] = {"groups": groups, "address": str(netaddr.IPAddress(NODE_NET.first + 10 + i)),
                          "vars": cluster, "facts": facts(i)}
    return {"hosts": hosts, "unknown_variables": {}, "inventory_name": "bench", "base_dir": "/tmp"}


def main() -> int:
    results = []
    for nodes in (500, 5_000, 50_000):
        data = inputs(nodes)
        best = float("inf")
        for _ in range(3 if nodes < 50_000 else 1):
            start = time.perf_counter()
            _, problems = build_plan(data)
            best = min(best, time.perf_counter() - start)
        if problems.errors:
            print(problems.report())
            return 1
        results.append((nodes, best))
        print(f"plan validation: {nodes:>6} nodes x 3 NICs, 50 pools (v4+v6): {best:7.3f} s "
              f"({best / nodes * 1e6:.0f} us/node)")
    for (n1, t1), (n2, t2) in itertools.pairwise(results):
        print(f"growth {n1} -> {n2} nodes (x{n2 // n1}): time x{t2 / t1:.1f}")
    five_k = dict(results)[5_000]
    print(f"target: 5,000 nodes < 1 s -> {'met' if five_k < 1 else 'MISSED'} ({five_k:.3f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
