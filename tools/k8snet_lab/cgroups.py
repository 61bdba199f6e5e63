"""Per-node cgroups: each node boots in a cgroup of its own in every hierarchy."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from .constants import CGROUP_PREFIX
from .util import LabError, mountinfo, wait_for

# ---------------------------------------------------------------- cgroups

def cgroup_parents() -> list[Path]:
    """Where node cgroups go: our own cgroup in EVERY hierarchy (each v1 controller, name=systemd, v2).

    Containers in a node (kubelet, containerd, runc) create cgroups in every controller; a
    node left in the machine's cgroup of some controller would share it with the others.
    """
    own = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        own[controllers] = path
    parents = []
    for point, fstype, opts in mountinfo():
        if fstype == "cgroup2":
            key = ""
        elif fstype == "cgroup":
            options = set(opts.split(","))
            key = next((c for c in own if c and set(c.split(",")) <= options), None)
        else:
            continue
        if key is not None and key in own:
            parents.append(Path(point) / own[key].lstrip("/"))
    return parents


def enter_node_cgroups(node: str) -> None:
    """Move the calling process into cgroups of the node's own (runs in the child before it execs nspawn).

    With --keep-unit nspawn puts a node's systemd under the cgroup nspawn was started in. Started
    side by side in one cgroup, the nodes would share one `payload` tree and tear down each other's
    unit cgroups (units then fail with status 219/CGROUP), so every node gets its own.
    A v1 cpuset cgroup starts with no CPUs and memory nodes: it takes its parent's.
    """
    for parent in cgroup_parents():
        own = parent / f"{CGROUP_PREFIX}{node}"
        own.mkdir(exist_ok=True)
        for name in ("cpuset.cpus", "cpuset.mems"):
            if (own / name).exists() and not (own / name).read_text().strip():
                (own / name).write_text((parent / name).read_text())
        (own / "cgroup.procs").write_text("0")


def lab_cgroups(max_depth: int = 4) -> list[Path]:
    """The nodes' cgroups wherever they are: under every hierarchy, not only our own cgroup.

    A lab created by a process in another cgroup (a shell of another session, a CI job's runner)
    has its node cgroups under that process's cgroup; destroy must find those too. The search
    stops at a node's cgroup (the node's own tree is removed with it) and at max_depth.
    """
    found = []
    for point, fstype, _ in mountinfo():
        if fstype not in ("cgroup", "cgroup2"):
            continue
        for top, dirs, _ in os.walk(point):
            depth = len(Path(top).relative_to(point).parts)
            found += [Path(top) / d for d in sorted(dirs) if d.startswith(CGROUP_PREFIX)]
            dirs[:] = [] if depth >= max_depth else [d for d in dirs if not d.startswith(CGROUP_PREFIX)]
    return list(dict.fromkeys(found))


def remove_lab_cgroups(timeout: float = 5.0) -> None:
    """Remove the nodes' cgroups, innermost first; a cgroup is busy until its last process is reaped."""
    def removed():
        for top in lab_cgroups():
            for sub, _, _ in sorted(os.walk(top), key=lambda w: len(w[0]), reverse=True):
                with contextlib.suppress(OSError):
                    os.rmdir(sub)
        return not lab_cgroups()
    with contextlib.suppress(LabError):
        wait_for(removed, timeout, "the nodes' cgroups to empty", 0.1)


