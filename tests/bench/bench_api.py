#!/usr/bin/env python3
"""Benchmark: api mode on the lab cluster against what a careful operator would type by hand.

1. The floor of a first install: on a day-0 lab cluster (3 nodes, images not yet pulled; best of --first
   clusters, alternating with 2.),
   `kubectl apply --server-side` of the very files render mode writes for it (flannel,
   MetalLB, the ingress controller), `kubectl rollout status` of the same controllers, then MetalLB's pool and
   advertisement, retried until its webhook takes them. Only the kubectl steps are timed.
2. site.yml in api mode on another day-0 cluster of the same shape (`--skip-tags verify`; the
   validation, node facts, underlay probes and node preparation are included: they are the
   value). Target: <= 1.5x the floor. verify's own time (test pods, real requests) is printed
   apart: the floor has nothing like it.
3. The no-op re-run of site.yml in api mode (`--skip-tags verify`, best of N) against the
   Ansible floor of bench_site.py (network facts + one module per host) on the same nodes.
   Target: <= 2x, changed=0, and no resourceVersion of an object the project labels changed.

Creates and destroys its own lab clusters; a lab that is already up is only replaced with
--replace. Run as root, with K8SNET_UPSTREAM_MIRROR or internet for the pinned manifests.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_site  # the one timed ansible-playbook runner of the benchmarks (this script's own directory)

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
from k8snet_lab import cluster, util

LAB = bench_site.LAB
INVENTORY = "/var/lib/k8snet-lab/inventory"
FIRST_TARGET, NOOP_TARGET = 1.5, 2.0
CONTROLLERS = (("kube-flannel", "daemonset/kube-flannel-ds"), ("metallb-system", "deployment/controller"),
               ("metallb-system", "daemonset/speaker"), ("nginx-ingress", "deployment/nginx-ingress"))
LABELLED = "daemonsets,deployments,services,configmaps,serviceaccounts,namespaces,clusterroles," \
           "clusterrolebindings,customresourcedefinitions,ipaddresspools.metallb.io,l2advertisements.metallb.io," \
           "ingressclasses"


def playbook(path: str, *args: str) -> tuple[float, dict]:
    return bench_site.run(path, INVENTORY, *args)


def fresh_cluster() -> None:
    subprocess.run([*LAB, "destroy"], check=False, stdout=subprocess.DEVNULL)
    subprocess.run([*LAB, "create", "--cluster"], check=True, stdout=subprocess.DEVNULL)


def kubectl(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return cluster.kubectl(*args, timeout=timeout, check=False)


def floor_install(rendered: Path) -> float:
    """The kubectl steps of a first install by hand, timed."""
    metallb = sorted(rendered.glob("metallb/*.yaml"))
    custom = [p for p in metallb if p.name.startswith("90-")]           # pools and advertisements
    start = time.perf_counter()
    for files in (sorted(rendered.glob("flannel/*.yaml")), [p for p in metallb if p not in custom],
                  sorted(rendered.glob("ingress/*.yaml"))):
        done = kubectl("apply", "--server-side", *(f"-f={p}" for p in files))
        if done.returncode != 0:
            sys.exit(f"kubectl apply failed: {done.stderr}")
    for namespace, name in CONTROLLERS:
        done = kubectl("-n", namespace, "rollout", "status", name, "--timeout=600s", timeout=620)
        if done.returncode != 0:
            sys.exit(f"rollout status {name}: {done.stderr}")
    util.wait_for(lambda: kubectl("apply", "--server-side", *(f"-f={p}" for p in custom)).returncode == 0,
                  300, "MetalLB's webhook to take the pool", 1.0)
    return time.perf_counter() - start


def resource_versions() -> dict[str, str]:
    items = json.loads(kubectl("get", LABELLED, "-A", "-l", "app.kubernetes.io/managed-by=k8snet",
                               "-o", "json").stdout)["items"]
    return {f"{i['kind']}/{i['metadata'].get('namespace', '')}/{i['metadata']['name']}":
            i["metadata"]["resourceVersion"] for i in items}


def main() -> int:
    parser = bench_site.lab_parser(__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="no-op re-runs (and floors) measured, best taken")
    parser.add_argument("--first", type=int, default=2, help="day-0 clusters per side for the first install")
    args = parser.parse_args()
    if bench_site.lab_in_the_way(args.replace):
        return 2
    try:
        with tempfile.TemporaryDirectory(prefix="k8snet-bench-api-") as tmp:
            rendered, staging = Path(tmp) / "rendered", Path(tmp) / "staging"
            # Best of --first day-0 clusters each, alternating: a day-0 install is mostly image pulls and pod
            # starts, whose time varies more from one cluster to the next than anything either side does.
            floors, firsts = [], []
            for round_ in range(args.first):
                fresh_cluster()
                if round_ == 0:
                    playbook("site.yml", "--tags", "addons", "-e", "k8s_apply=render",
                             "-e", f"k8s_render_dir={rendered}")
                floors.append(floor_install(rendered))
                fresh_cluster()
                firsts.append(playbook("site.yml", "--skip-tags", "verify", "-e", f"k8s_render_dir={staging}")[0])
            floor, first = min(floors), min(firsts)
            print(f"floor, first install by hand: kubectl apply --server-side of the rendered files + rollout "
                  f"status of {len(CONTROLLERS)} controllers + the pool: best {floor:.1f} s "
                  f"({', '.join(f'{f:.1f}' for f in floors)})")
            ratio = first / floor
            print(f"site.yml api mode, first run on a day-0 cluster (probes and node preparation included): "
                  f"best {first:.1f} s ({', '.join(f'{f:.1f}' for f in firsts)}) = {ratio:.2f}x the floor "
                  f"(target <= {FIRST_TARGET}x) -> {'met' if ratio <= FIRST_TARGET else 'MISSED'}")
            verify, _ = playbook("playbooks/verify.yml", "-e", f"k8s_render_dir={staging}")
            print(f"verify alone (test pods, the four kinds of traffic from real requests): {verify:.1f} s")

            before = resource_versions()
            sites, floors, changed = [], [], 0
            for _ in range(args.repeat):
                took, stats = playbook("site.yml", "--skip-tags", "verify", "-e", f"k8s_render_dir={staging}")
                changed = sum(s["changed"] for s in stats.values())
                sites.append(took)
                floors.append(playbook("tests/bench/floor.yml")[0])
            moved = sorted(k for k, v in resource_versions().items() if before.get(k) != v)
            ratio = min(sites) / min(floors)
            ok = ratio <= NOOP_TARGET and changed == 0 and not moved
            print(f"site.yml api mode no-op re-run: best {min(sites):.1f} s (changed={changed}; objects whose "
                  f"resourceVersion moved: {moved or 'none'} of {len(before)})")
            print(f"Ansible floor (network facts + one module per host): best {min(floors):.1f} s")
            print(f"ratio: {ratio:.2f}x (target <= {NOOP_TARGET}x) -> {'met' if ok else 'MISSED'}")
    finally:
        subprocess.run([*LAB, "destroy"], check=False, stdout=subprocess.DEVNULL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
