"""Day 2: what differs between the plan last applied and the plan now, and what that breaks.

The applied plan is recorded after every successful run (render mode: a state
file in the render directory; api mode: a ConfigMap in kube-system). A new run
compares the two projections below, classifies every change as safe or
disruptive, and refuses disruptive ones unless ``k8s_allow_disruptive``.

The record holds only that projection (what day 2 compares and what the probes'
scope needs), with the per-node part packed: the fields nodes share are stored
once per distinct combination ("shapes"), each node keeps its addresses and the
index of its shape. 5,000 nodes with 30-character names take about 340 KB,
inside a ConfigMap's 1 MiB (the whole plan took about 670 bytes a node).
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import asdict, dataclass

SAFE, DISRUPTIVE = "safe", "disruptive"
STATE_FILE = "k8snet-state.json"
STATE_CONFIGMAP = "k8snet-state"
RECORD_FORMAT = 2                       # 1 (0.1.x): the whole plan under "plan"

# Settings whose change breaks live pod traffic, with what breaks and how to do it instead.
DISRUPTIVE_SETTINGS = {
    "cluster.pod_cidr": (
        "nodes keep the pod subnets they were given (spec.podCIDR is immutable) and running pods keep their "
        "addresses; flannel's Network would no longer contain them, so pod-to-pod traffic breaks",
        "drain and re-register every node (or rebuild the cluster) with the new pod network"),
    "cluster.service_cidr": (
        "existing Services keep ClusterIPs outside the new range and kube-apiserver must be restarted "
        "with the same range; pods reaching services by VIP break until both agree",
        "change kube-apiserver --service-cluster-ip-range first, then re-create the Services"),
    "cluster.node_pod_prefix": (
        "kube-controller-manager hands out node subnets of the new size only to new nodes; existing "
        "nodes keep theirs, and flannel would mix both sizes",
        "change --node-cidr-mask-size and re-register the nodes one by one"),
    "flannel.backend": (
        "every flannel pod restarts with a different overlay; until all nodes run the new backend, "
        "cross-node pod traffic is dropped",
        "do it in a maintenance window; the flannel DaemonSet rolls node by node"),
    "flannel.vni": (
        "nodes on the old and the new VNI cannot talk while the flannel DaemonSet rolls",
        "do it in a maintenance window"),
    "flannel.port": (
        "nodes on the old and the new UDP port cannot talk while the flannel DaemonSet rolls, and "
        "firewalls must allow the new port first",
        "open the new port, then apply in a maintenance window"),
}

NOTES = {
    "flannel.mtu": "pods keep their old MTU until they are restarted",
    "cluster.nodeport_range": "kube-apiserver --service-node-port-range must be changed to match",
}


@dataclass(frozen=True)
class Change:
    path: str
    before: object
    after: object
    kind: str
    breaks: str = ""
    how: str = ""
    note: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


# The cluster settings a day-2 change is about. Not upstream_mirror: where this controller fetches the pinned
# (sha256-checked) manifests changes nothing in the cluster, and a run from a shell without
# K8SNET_UPSTREAM_MIRROR must not rewrite the record or report a change.
CLUSTER_KEYS = ("pod_cidr", "service_cidr", "node_pod_prefix", "nodeport_range", "apply", "kube_version",
                "registry_mirror")


def comparable(plan: dict | None) -> dict:
    """The parts of a plan that a day-2 change is about (facts-derived and volatile parts left out)."""
    if not plan:
        return {}
    cluster = {k: plan["cluster"].get(k) for k in CLUSTER_KEYS}
    nodes = {}
    for name, node in plan.get("nodes", {}).items():
        iface = node.get("iface") or {}
        nodes[name] = {"address": node.get("address"), "control_plane": node.get("control_plane"),
                       "iface": {k: iface.get(k) for k in ("name", "ipv4", "ipv6", "mtu")},
                       "pod_mtu": node.get("pod_mtu"), "reserved_ports": node.get("reserved_ports"),
                       "host_ports": node.get("host_ports")}
    pools = {p["name"]: p for p in plan["metallb"].get("pools", [])}
    metallb = {**{k: v for k, v in plan["metallb"].items() if k != "pools"}, "pools": pools}
    services = {f"{s.get('namespace', 'default')}/{s.get('name')}": s for s in plan.get("exposed_services", [])}
    return {"cluster": cluster, "flannel": plan["flannel"], "metallb": metallb, "ingress": plan["ingress"],
            "gateway_api": plan.get("gateway_api", {}), "exposed_services": services, "nodes": nodes}


def _pack_nodes(nodes: dict) -> dict:
    """{shapes, nodes}: what nodes share stored once; each node its address, NIC addresses and shape index."""
    shapes: list[dict] = []
    index: dict[str, int] = {}
    packed = {}
    for name in sorted(nodes):
        node = nodes[name]
        iface = node.get("iface") or {}
        shape = {**{k: v for k, v in node.items() if k != "address"},
                 "iface": {k: v for k, v in iface.items() if k not in ("ipv4", "ipv6")}}
        key = json.dumps(shape, sort_keys=True)
        if key not in index:
            index[key] = len(shapes)
            shapes.append(shape)
        packed[name] = [node.get("address"), iface.get("ipv4"), iface.get("ipv6"), index[key]]
    return {"shapes": shapes, "nodes": packed}


def _unpack_nodes(packed: dict) -> dict:
    nodes = {}
    for name, (address, ipv4, ipv6, shape) in packed["nodes"].items():
        node = copy.deepcopy(packed["shapes"][shape])
        node["iface"] = {**node["iface"], "ipv4": ipv4, "ipv6": ipv6}
        nodes[name] = {**node, "address": address}
    return nodes


def record(plan: dict, project_version: str) -> str:
    """What is stored as "last applied": the comparable projection, nodes packed, as stable compact JSON."""
    applied = comparable(plan)
    applied["nodes"] = _pack_nodes(applied["nodes"])
    return json.dumps({"format": RECORD_FORMAT, "project_version": project_version, "digest": digest(plan),
                       "applied": applied}, sort_keys=True, separators=(",", ":")) + "\n"


def load(text: str | None) -> dict:
    """The comparable projection of the last applied plan from a record's text ({} when nothing was applied).

    Reads what record() writes and what 0.1.x wrote (the whole plan), so a cluster recorded by the
    previous release is compared, not taken for a first run.
    """
    if not text or not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ValueError(f"the last applied plan is not JSON ({e}); remove it to start over") from e
    if data.get("format") == RECORD_FORMAT:
        applied = data["applied"]
        cluster = {k: v for k, v in (applied.get("cluster") or {}).items() if k in CLUSTER_KEYS}  # older records
        return {**applied, "cluster": cluster, "nodes": _unpack_nodes(applied["nodes"])}
    return comparable(data["plan"]) if data.get("plan") else {}


def digest(plan: dict | None) -> str:
    return hashlib.sha256(json.dumps(comparable(plan), sort_keys=True).encode()).hexdigest()


def _walk(before, after, path: str):
    """Leaf differences between two JSON-like values, as (path, before, after)."""
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after), key=str):
            yield from _walk(before.get(key), after.get(key), f"{path}.{key}" if path else str(key))
    elif before != after:
        yield path, before, after


def _classify(path: str, before, after) -> Change:
    for setting, (breaks, how) in DISRUPTIVE_SETTINGS.items():
        if path == setting or path.startswith(setting + "."):
            return Change(path, before, after, DISRUPTIVE, breaks, how)
    note = next((n for p, n in NOTES.items() if path == p or path.startswith(p + ".")), "")
    if path.startswith("nodes.") and path.count(".") == 1:
        note = "node added: it gets detection, probes and preparation" if before is None else \
            "node removed from the inventory: its Node object and host settings are left as they are"
    elif path.startswith("nodes.") and ".iface." in path:
        note = "the flannel pod on this node restarts to use the new NIC"
    return Change(path, before, after, SAFE, note=note)


def diff(applied: dict | None, new: dict) -> list[Change]:
    """Every change from the last applied projection (load()) to the new plan; empty on a first run."""
    if not applied:
        return []
    return [_classify(path, b, a) for path, b, a in _walk(applied, comparable(new), "")]


def _short(value) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."


def report(changes: list[Change], first_run: bool = False) -> list[str]:
    """Readable lines: settings, objects and hosts that change, disruptive ones marked."""
    if first_run:
        return ["nothing applied yet: this run installs everything"]
    if not changes:
        return ["no change since the last applied plan"]
    lines = []
    for c in changes:
        mark = "!!" if c.kind == DISRUPTIVE else "~" if c.before is not None and c.after is not None else \
            "+" if c.before is None else "-"
        line = f"{mark} {c.path}: {_short(c.before)} -> {_short(c.after)}"
        if c.note:
            line += f"  ({c.note})"
        lines.append(line)
    return lines


def refusals(changes: list[Change]) -> list[str]:
    return [f"{c.path}: {_short(c.before)} -> {_short(c.after)} is disruptive: {c.breaks}. Instead: {c.how}; "
            "or set k8s_allow_disruptive: true to apply it anyway" for c in changes if c.kind == DISRUPTIVE]
