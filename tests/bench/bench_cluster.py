#!/usr/bin/env python3
"""Benchmark: the lab cluster's cold build, warm create and memory per node.

1. Cold build: every binary of the pin table built into an empty build cache and bin dir
   (the Go module cache stays warm: downloads are the network's time, not the build's), the
   image base packed and every image built into an empty registry storage.
2. Warm create: `create --cluster` again with everything cached, to every Node registered.
   Target: under 90 s for 3 nodes.
3. Memory: each node's memory cgroup (kubelet, containerd, its pods) once kube-proxy runs
   everywhere, and how many such nodes fit in this machine's memory.

`--warm-only` skips the cold build (a few minutes instead of about fifteen). It destroys the
lab it creates; a lab that is already up is only replaced with --replace. Run as root.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import time
from pathlib import Path

import bench_site  # the benchmarks' shared helpers (this script's own directory)

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
from k8snet_lab import cgroups, cluster, gobuild, images, lifecycle, pins, registry, state, util
from k8snet_lab.constants import MAX_CLUSTER_NODES

TARGET_CREATE = 90.0
GIB = 1 << 30


def node_memory_bytes(node: str) -> int:
    """Memory the node's cgroup holds (rss and cache, less inactive file pages the kernel can drop)."""
    for parent in cgroups.cgroup_parents():
        own = parent / f"{cgroups.CGROUP_PREFIX}{node}"
        if (own / "memory.usage_in_bytes").exists():
            usage = int((own / "memory.usage_in_bytes").read_text())
            stat = dict(line.split() for line in (own / "memory.stat").read_text().splitlines())
            return usage - int(stat.get("total_inactive_file", 0))
    raise RuntimeError(f"no memory cgroup for {node}")


def total_memory() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("MemTotal")


def create(nodes: int) -> dict:
    with contextlib.redirect_stdout(sys.stderr), state.command_lock():     # create's progress: to stderr
        return lifecycle.create("vagrant", nodes, [], kubernetes=pins.kubernetes_minor())


def cold_build(nodes: int) -> tuple[float, float]:
    """(binaries seconds, images seconds) into empty caches; restores the real ones afterwards."""
    saved = (gobuild.BIN_DIR, dict(gobuild.GO_ENV), images.LAYERS, registry.STORAGE)
    with tempfile.TemporaryDirectory(prefix="bench-cold-", dir=gobuild.CACHE_DIR) as tmp:
        gobuild.BIN_DIR = Path(tmp) / "bin"
        gobuild.GO_ENV["GOCACHE"] = str(Path(tmp) / "go-build")
        images.LAYERS = Path(tmp) / "layers"
        registry.STORAGE = Path(tmp) / "registry"
        try:
            started = time.monotonic()
            with contextlib.redirect_stdout(sys.stderr):
                gobuild.ensure_all(pins.pins())
            binaries = time.monotonic() - started
            result = create(nodes)
            built = [s for s in result["images"].values() if s != "cached"]
            images_seconds = sum(float(s.split()[2]) for s in built) + 0.0
            lifecycle.destroy(quiet=True)
        finally:
            gobuild.BIN_DIR, env, images.LAYERS, registry.STORAGE = saved
            gobuild.GO_ENV.clear()
            gobuild.GO_ENV.update(env)
    return binaries, images_seconds


def main() -> int:
    p = bench_site.lab_parser(__doc__)
    p.add_argument("--nodes", type=int, default=3)
    p.add_argument("--warm-only", action="store_true", help="skip the cold build")
    args = p.parse_args()
    if bench_site.lab_in_the_way(args.replace):
        return 2
    with contextlib.redirect_stdout(sys.stderr):
        gobuild.ensure_all(pins.pins())                     # the warm caches the warm create uses
    if not args.warm_only:
        binaries, images_seconds = cold_build(args.nodes)
        print(f"cold build: every binary {binaries:.0f} s, every image {images_seconds:.0f} s "
              f"(Go module cache warm)")
    try:
        lifecycle.destroy(quiet=True)
        result = create(args.nodes)
        registered = result["cluster"]["registered"]
        print(f"warm create --cluster, {args.nodes} nodes: all Nodes registered {result['boot_seconds']:.1f} s "
              f"after the boot began (kubeadm init + join {registered:.1f} s) = "
              f"{result['boot_seconds'] / TARGET_CREATE:.2f}x the {TARGET_CREATE:.0f} s target "
              f"({'met' if result['boot_seconds'] < TARGET_CREATE else 'MISSED'})")

        def proxies():
            out = cluster.kubectl("get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-proxy", "-o",
                                  "jsonpath={.items[*].status.phase}", check=False).stdout.split()
            return out.count("Running") == args.nodes
        util.wait_for(proxies, 180, "kube-proxy on every node", 1.0)
        per_node = {n: node_memory_bytes(n) for n in result["statuses"]}
        for node, used in per_node.items():
            print(f"  {node}: {used / (1 << 20):.0f} MiB (kubelet, containerd and its pods)")
        workers = [v for n, v in per_node.items() if n != "node1"] or list(per_node.values())
        worker = max(workers)
        fits = int((total_memory() - per_node.get("node1", 0)) // worker) + 1
        print(f"memory: a worker node {worker / (1 << 20):.0f} MiB, node1 (control plane) "
              f"{per_node.get('node1', 0) / (1 << 20):.0f} MiB: by memory alone about {fits} nodes fit in "
              f"{total_memory() / GIB:.0f} GiB (ratio worker/machine {worker / total_memory():.4f}); the 2 cores, "
              f"not memory, are why create --cluster stops at {MAX_CLUSTER_NODES}")
    finally:
        lifecycle.destroy(quiet=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
