"""What the lab tests read back from a run: the rendered objects, what the run printed, what changed where.

    objects = load(render_dir / "flannel/60-daemonset-kube-flannel-kube-flannel-ds.yaml")
    before = snapshot(render_dir); ...run...; delta(before, snapshot(render_dir))
    plan_lines(result)      # the "Show the plan" lines, one per node choice, unwrapped
    host_changes(result)    # host -> tasks that changed something ON the host (not on the controller)
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import yaml
from ansible_collections.onprem.k8snet.plugins.module_utils.addons.registry import COMPONENTS

from tests.integration.harness import PlaybookResult

MANAGED_BY = {"app.kubernetes.io/managed-by": "k8snet"}
STATE_FILE = "k8snet-state.json"


def load(path: Path) -> dict:
    """One rendered object (the files start with a comment header)."""
    return yaml.safe_load(path.read_text())


def one(directory: Path, pattern: str) -> dict:
    """The single rendered object whose file matches `pattern`."""
    found = sorted(directory.glob(pattern))
    assert len(found) == 1, f"expected one {pattern} in {directory}, found {[f.name for f in found]}"
    return load(found[0])


def container(workload: dict, name: str) -> dict:
    containers = workload["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == name)


def flannel_args(render_dir: Path) -> list[str]:
    daemonset = load(render_dir / "flannel/60-daemonset-kube-flannel-kube-flannel-ds.yaml")
    return container(daemonset, "kube-flannel")["args"]


def state(render_dir: Path) -> dict:
    return json.loads((render_dir / STATE_FILE).read_text())


def snapshot(render_dir: Path) -> dict[str, tuple[str, int]]:
    """Every file of every component: relative path -> (sha256 of the content, mtime in ns)."""
    files = {}
    for component in COMPONENTS:
        for path in sorted((render_dir / component).rglob("*")):
            if path.is_file():
                files[str(path.relative_to(render_dir))] = (hashlib.sha256(path.read_bytes()).hexdigest(),
                                                           path.stat().st_mtime_ns)
    return files


def delta(before: dict, after: dict) -> dict[str, set[str]]:
    """added / removed / changed (content) / rewritten (same content, written again) between two snapshots."""
    common = before.keys() & after.keys()
    return {"added": set(after) - set(before), "removed": set(before) - set(after),
            "changed": {f for f in common if before[f][0] != after[f][0]},
            "rewritten": {f for f in common if before[f][0] == after[f][0] and before[f][1] != after[f][1]}}


def changed_only(*files: str, added: tuple[str, ...] = (), removed: tuple[str, ...] = ()) -> dict[str, set[str]]:
    """The delta a test expects: these files changed, these added/removed, nothing else touched."""
    return {"added": set(added), "removed": set(removed), "changed": set(files), "rewritten": set()}


def copy_render_dir(source: Path, dest: Path) -> Path:
    """A copy (contents, state file and mtimes) to run a day-2 change against, leaving `source` as it was."""
    shutil.copytree(source, dest, copy_function=shutil.copy2)
    return dest


def task_results(result: PlaybookResult, task: str) -> dict[str, dict]:
    """host -> `res` of every OK result of the task named `task`."""
    return {e["event_data"]["host"]: e["event_data"]["res"] for e in result.events
            if e.get("event") == "runner_on_ok" and e["event_data"].get("task") == task}


def applied(result: PlaybookResult) -> dict[str, str]:
    """add-on -> what api mode said it changed in the cluster ("flannel: 6 created, ..."), for each one changed."""
    said = (e["event_data"]["res"] for e in result.events if e.get("event") == "runner_item_on_ok"
            and e["event_data"].get("task") == "Say what changed in the cluster")
    return {res["item"]["component"]: " ".join(str(res["msg"]).split()) for res in said}


def plan_lines(result: PlaybookResult) -> list[str]:
    """The lines the run printed under "Show the plan" (the NIC choice of every node with its reason)."""
    shown = task_results(result, "Show the plan")
    assert len(shown) == 1, f"the plan was shown {len(shown)} times"
    return next(iter(shown.values()))["msg"]


def traffic_lines(result: PlaybookResult) -> list[str]:
    """The lines verify printed under "Show the four kinds of traffic" (kind, PASS/FAIL, evidence)."""
    shown = task_results(result, "Show the four kinds of traffic")
    assert shown, "verify printed no table"
    return next(iter(shown.values()))["msg"]


def diff_lines(result: PlaybookResult) -> list[str]:
    """The lines the run printed under "What differs from the last applied plan"."""
    shown = task_results(result, "What differs from the last applied plan")
    assert len(shown) == 1, f"the day-2 diff was shown {len(shown)} times"
    return next(iter(shown.values()))["msg"]


def host_changes(result: PlaybookResult) -> dict[str, list[str]]:
    """host -> names of the tasks that changed something on that host (what the controller changed, such as
    the rendered files and the state file, in its own plays or delegated to it, is left out)."""
    changes: dict[str, list[str]] = {}
    for e in result.events:
        data = e.get("event_data", {})
        if e.get("event") == "runner_on_ok" and data["res"].get("changed") and data["host"] != "localhost" \
                and not data["res"].get("_ansible_delegated_vars"):
            changes.setdefault(data["host"], []).append(data["task"])
    return changes
