#!/usr/bin/env python3
"""Benchmark: a no-op re-run of site.yml on N lab nodes against the Ansible floor on the same nodes.

The floor is a playbook that gathers network facts and runs one module per host (tests/bench/floor.yml).
Both are timed in the same run, several times each (best of), and the ratio is printed; the target is
<= 2x, with changed=0 on the re-run. Creates a lab of N nodes (default 10) and destroys it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAB = [sys.executable, str(ROOT / "tools/lab.py")]


def lab_parser(doc: str) -> argparse.ArgumentParser:
    """The command line of a benchmark that makes its own lab: its docstring's first paragraph, --replace."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--replace", action="store_true", help="replace a lab that is already up")
    return parser


def lab_in_the_way(replace: bool) -> bool:
    """True, saying why, when a lab is up and --replace was not given: a benchmark never takes one silently.
    Otherwise it checks that it runs as root (the lab needs it)."""
    sys.path.insert(0, str(ROOT / "tools"))
    from k8snet_lab import state, util
    if state.read_state() and not replace:
        print("a lab is up: destroy it first (tools/lab.py destroy) or pass --replace", file=sys.stderr)
        return True
    util.require_root()
    return False


def run(playbook: str, inventory: str, *args: str) -> tuple[float, dict]:
    """(seconds, stats) of ansible-playbook with the repository's ansible.cfg; exits naming the playbook on failure
    (bench_api.py times its runs with this too)."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_STDOUT_CALLBACK": "json",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    start = time.perf_counter()
    proc = subprocess.run(["ansible-playbook", "-i", inventory, playbook, *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{playbook} {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return took, json.loads(proc.stdout)["stats"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    subprocess.run([*LAB, "create", "--nodes", str(args.nodes)], check=True, stdout=subprocess.DEVNULL)
    inventory = "/var/lib/k8snet-lab/inventory"
    try:
        with tempfile.TemporaryDirectory(prefix="k8snet-bench-") as render:
            first, _ = run("site.yml", inventory, "-e", f"k8s_render_dir={render}")
            sites, floors = [], []
            for _ in range(args.repeat):
                took, stats = run("site.yml", inventory, "-e", f"k8s_render_dir={render}")
                changed = sum(stats[h]["changed"] for h in stats)
                sites.append(took)
                floors.append(run("tests/bench/floor.yml", inventory, "-e", f"k8s_render_dir={render}")[0])
            print(f"site.yml on {args.nodes} lab nodes: first run {first:.1f} s")
            print(f"site.yml no-op re-run: best {min(sites):.1f} s (changed={changed} on the last one)")
            print(f"Ansible floor (network facts + one module per host): best {min(floors):.1f} s")
            ratio = min(sites) / min(floors)
            print(f"ratio: {ratio:.2f}x (target <= 2x) -> {'met' if ratio <= 2 and changed == 0 else 'MISSED'}")
    finally:
        subprocess.run([*LAB, "destroy"], check=False, stdout=subprocess.DEVNULL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
