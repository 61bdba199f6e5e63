#!/usr/bin/env python3
"""Benchmark: the lab's node image build, boot time and memory per node.

Prints the image build time (or "cached"), the time until N nodes (default 3) answer SSH
with systemd up, the memory per node, and what 20 nodes would take of this machine's RAM.
Targets: image < 3 min, 3 nodes < 30 s. It destroys the lab it creates; a lab that is
already up is only replaced with --replace. Run as root.
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

import bench_site  # the benchmarks' shared helpers (this script's own directory)

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
from k8snet_lab import lifecycle, rootfs, state  # the lab's own code, not its CLI

MIB = 1024


def meminfo_kib(field: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise KeyError(field)


def main() -> int:
    p = bench_site.lab_parser(__doc__)
    p.add_argument("--nodes", type=int, default=3)
    args = p.parse_args()
    if bench_site.lab_in_the_way(args.replace):
        return 1
    _, build = rootfs.ensure_rootfs()
    print(f"node image:        {'cached' if build is None else f'built in {build:.0f} s (target < 180 s)'}")

    avail_before = meminfo_kib("MemAvailable")
    started = time.monotonic()
    try:
        with contextlib.redirect_stdout(sys.stderr), state.command_lock():   # create's progress: to stderr
            result = lifecycle.create("vagrant", args.nodes, [])
        wall = time.monotonic() - started
        print(f"{args.nodes} nodes SSH-ready: {wall:.1f} s (target < 30 s for 3; "
              f"nodes booting {result['boot_seconds']:.1f} s)")
        used = (avail_before - meminfo_kib("MemAvailable")) / args.nodes / MIB
        lab_state = state.read_state()
        per_node = [lifecycle.node_status(cfg, check_ssh=False)["memory_kib"] for cfg in lab_state["nodes"].values()]
        node_pss = sum(m["node"] for m in per_node) / len(per_node) / MIB
        overhead = sum(m["overhead"] for m in per_node) / len(per_node) / MIB
    finally:
        destroy_started = time.monotonic()
        left = lifecycle.destroy(quiet=True)
        destroyed = time.monotonic() - destroy_started

    print(f"memory per node:   {node_pss + overhead:.0f} MiB PSS ({node_pss:.0f} node processes + "
          f"{overhead:.0f} nspawn and supervisor); {used:.0f} MiB of MemAvailable")
    worst = max(node_pss + overhead, used)
    total_gib = meminfo_kib("MemTotal") / MIB / MIB
    print(f"20 nodes:          ~{20 * worst:.0f} MiB = {20 * worst / MIB / total_gib:.1%} of "
          f"{total_gib:.0f} GiB RAM")
    print(f"destroy:           {destroyed:.1f} s" + (f", LEFT BEHIND: {left}" if left else ""))
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
