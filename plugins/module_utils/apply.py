"""api mode: applying one add-on's objects to a live cluster, the decisions only (no client here).

The module onprem.k8snet.k8s_apply does the requests; this module says what they mean:

- phases: every object but the custom resources first (CRDs, namespaces, RBAC, controllers), then,
  once the CRDs are Established and the controllers rolled out, the custom resources (their
  admission webhooks answer only when the controller runs);
- awaited Secrets: a workload whose pods mount a Secret that the add-on does not render (its own
  controller or Job creates it, as MetalLB's controller does the speakers' memberlist) is applied only
  once that Secret exists: kubelet would otherwise fail the mount and retry with a growing backoff
  (15-30 s on a first install) long after the Secret appeared;
- the pod network first: its objects are applied, and the others' only once it is up on every Node (their
  pods need it: started earlier, their sandboxes fail and kubelet backs off the same way). Up means the
  Node's NetworkUnavailable condition is False, which flannel sets once the node has its subnet, seconds
  before its readiness probe (every 10 s) makes its DaemonSet count as rolled out;
- rolled out: a Deployment, DaemonSet or StatefulSet counts only when its controller has seen the
  current generation (status.observedGeneration) and every replica is updated and available;
- changed: an object is changed when the apply created it or moved its resourceVersion (a
  server-side apply of identical fields is a no-op that keeps it);
- the record: what an add-on applied lives in the cluster (a ConfigMap per add-on, see RECORD_*),
  written as the union of the old and the new set BEFORE the apply and as the new set after it, so
  that a run that fails half-way, or the next run from another controller, still deletes what an
  earlier run stopped rendering;
- untouched objects: the record also keeps, per object, a digest of what the last run sent and the
  resourceVersion the object had when that run ended; an object whose digest and resourceVersion are
  both unchanged is not sent again (a server-side apply of it would be a no-op), so a re-run that
  changes nothing costs reads, not writes. Anyone else's write moves the resourceVersion, so a
  drifted object is always applied again;
- other owners: an object of the same kind and name that another manager installed (kubectl, Helm,
  another installer) is never silently taken over: refused with the migration steps unless the
  operator adopts it; a CRD this project installed is not deleted while it holds custom resources
  the project did not create, unless the operator allows the disruption (they go first, then).
"""

from __future__ import annotations

import hashlib
import json

from ansible_collections.onprem.k8snet.plugins.module_utils import kube

RECORD_NAMESPACE = "kube-system"
RECORD_PREFIX = "k8snet-applied-"
RECORD_KEY = "objects.json"
APPLIED_KEY = "applied.json"      # "group/kind/namespace/name" -> [digest of what was sent, resourceVersion]
ROLLOUT_KINDS = ("Deployment", "DaemonSet", "StatefulSet")
# What the API server fills in on its own: never a difference between what we apply and what is there.
SERVER_FIELDS = ("resourceVersion", "uid", "generation", "creationTimestamp", "managedFields", "selfLink")


def ref(obj: dict) -> dict:
    return kube.reference(obj)


def ref_key(r: dict) -> tuple[str, str, str, str]:
    """The object's identity whatever its version (kube.identity)."""
    return kube.identity(kube.as_object(r))


def describe(r: dict) -> str:
    return kube.describe(kube.as_object(r))


def record_name(component: str) -> str:
    """kube-system/k8snet-applied-<add-on> (a DNS subdomain: exposed_services -> exposed-services)."""
    return f"{RECORD_PREFIX}{component.replace('_', '-')}"


def _compact(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def record_configmap(component: str, refs: list[dict], applied: dict | None = None) -> dict:
    """The ConfigMap that records what an add-on has applied (sorted, so an unchanged set is a no-op),
    with the digests and resourceVersions of read_applied() for the objects among ``refs``."""
    unique = {ref_key(r): r for r in refs}
    data = {RECORD_KEY: _compact([unique[k] for k in sorted(unique)])}
    kept = {k: v for k, v in (applied or {}).items() if tuple(k.split("/", 3)) in unique}
    if kept:
        data[APPLIED_KEY] = _compact(kept)
    obj = {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": record_name(component), "namespace": RECORD_NAMESPACE}, "data": data}
    return kube.add_managed_label(obj, component)


def applied_key(r: dict) -> str:
    """An object's key in the record's applied map (its identity, whatever its version)."""
    return "/".join(ref_key(r))


def digest(obj: dict) -> str:
    """What a run sends for an object, as 16 hex digits of sha256 over its canonical JSON."""
    return hashlib.sha256(_compact(obj).encode()).hexdigest()[:16]


def read_applied(configmap: dict | None) -> dict[str, list]:
    """The record's applied map (empty for a record written before it existed, or unreadable)."""
    try:
        applied = json.loads(((configmap or {}).get("data") or {}).get(APPLIED_KEY) or "{}")
    except ValueError:
        return {}
    if not isinstance(applied, dict):
        return {}
    return {k: v for k, v in applied.items() if isinstance(v, list) and len(v) == 2}


def resource_version(live: dict | None) -> str | None:
    return ((live or {}).get("metadata") or {}).get("resourceVersion")


def untouched(entry: list | None, sent: str, live: dict | None) -> bool:
    """The object is exactly as the last recorded run left it and this run sends the same: applying it again
    would change nothing (``entry`` is its [digest, resourceVersion] in the applied map)."""
    return bool(entry) and live is not None and entry == [sent, resource_version(live)]


def record_holds(live: dict | None, wanted: dict) -> bool:
    """The live record ConfigMap already says what ``wanted`` says (its data and labels): nothing to write."""
    if not live:
        return False
    labels = (live.get("metadata") or {}).get("labels") or {}
    wanted_labels = wanted["metadata"]["labels"]
    return live.get("data") == wanted["data"] and all(labels.get(k) == v for k, v in wanted_labels.items())


def read_record(configmap: dict | None) -> list[dict]:
    if not configmap:
        return []
    try:
        items = json.loads((configmap.get("data") or {}).get(RECORD_KEY) or "[]")
    except ValueError:
        return []
    return [i for i in items if isinstance(i, dict) and {"apiVersion", "kind", "name"} <= set(i)]


def to_prune(recorded: list[dict], current: list[dict]) -> list[dict]:
    """What an earlier run applied and this one no longer renders, deepest-first (custom resources first)."""
    keep = {ref_key(r) for r in current}
    gone = [r for r in recorded if ref_key(r) not in keep]
    # Delete in the reverse of apply order: custom resources before their CRDs, namespaces last.
    return sorted(gone, key=lambda r: (r["kind"] == "Namespace", r["kind"] == "CustomResourceDefinition"))


def owned_by_us(live: dict | None, component: str) -> bool:
    """Deletion is for objects that carry this add-on's label only (a foreign one is never touched)."""
    labels = ((live or {}).get("metadata") or {}).get("labels") or {}
    return labels.get(kube.COMPONENT_LABEL) == component and labels.get(kube.MANAGED_BY) == kube.MANAGED_BY_VALUE


# Custom resources the add-ons' own controllers write about themselves (MetalLB's status reports): they
# go with the add-on, and are never a user's resources that a CRD deletion would take away.
CONTROLLER_KINDS = frozenset({"ConfigurationState", "ServiceL2Status", "ServiceBGPStatus"})


def ours(live: dict | None) -> bool:
    """The object carries this project's label (any add-on's): it was applied or adopted by k8snet."""
    labels = ((live or {}).get("metadata") or {}).get("labels") or {}
    return labels.get(kube.MANAGED_BY) == kube.MANAGED_BY_VALUE


def managers(live: dict) -> str:
    """Who installed an object, as its metadata says (Helm's release, then the field managers)."""
    meta = live.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    names = []
    if annotations.get("meta.helm.sh/release-name"):
        names.append(f"Helm release {annotations.get('meta.helm.sh/release-namespace', '?')}/"
                     f"{annotations['meta.helm.sh/release-name']}")
    # Controllers writing the status subresource (kube-controller-manager) did not install it.
    names += sorted({f["manager"] for f in meta.get("managedFields") or []
                     if f.get("manager") and f.get("subresource") != "status"})
    return ", ".join(names) or "no field manager recorded"


def foreign_refusal(component: str, foreign: list[tuple[dict, dict]]) -> str:
    """Why the apply stops before any change when objects of another owner are in the way, and the fix."""
    listed = "; ".join(f"{describe(r)} (installed by {managers(live)})" for r, live in foreign)
    return (f"{component}: {len(foreign)} object(s) of the same kind and name already exist and were not installed "
            f"by this project: {listed}. Nothing was changed. Migrate: remove them the way they were installed "
            "(kubectl delete -f <that manifest>, helm uninstall <release>) and run again; or set "
            "k8s_adopt_existing: true to let this project take them over (their fields become its own, and it "
            "deletes them when it no longer renders them)")


def crd_kind(crd: dict) -> tuple[str, str]:
    """(apiVersion, kind) of the custom resources a CRD serves (its storage version)."""
    spec = crd.get("spec") or {}
    versions = spec.get("versions") or [{}]
    version = next((v for v in versions if v.get("storage")), versions[0]).get("name")
    return f"{spec.get('group')}/{version}", (spec.get("names") or {}).get("kind")


def crd_refusal(component: str, held: dict[str, list[dict]]) -> str:
    """Why deleting CRDs that hold others' custom resources is refused, and the fix."""
    listed = "; ".join(f"CRD {name} holds {', '.join(describe(ref(o)) for o in objs[:5])}"
                       + (f" and {len(objs) - 5} more" if len(objs) > 5 else "") for name, objs in held.items())
    return (f"{component}: switching it off deletes its CRDs, and with them custom resources this project did not "
            f"create: {listed}. Nothing was changed. Keep the add-on enabled, move those resources away first, or "
            "set k8s_allow_disruptive: true to delete them (custom resources first, then the CRDs)")


def phases(objects: list[dict], is_custom) -> tuple[list[dict], list[dict]]:
    """(everything but the custom resources, the custom resources), each in apply order."""
    return [o for o in objects if not is_custom(o)], [o for o in objects if is_custom(o)]


NETWORK_UP = "network up"             # the step between the pod network's objects and everyone else's


def steps(components: list[str], passes: list[str], pod_network: frozenset[str]) -> list[tuple[str, str]]:
    """(pass, add-on) in the order one call does them: each pass for every add-on in turn. With base then finish,
    the pod network's base first, then (NETWORK_UP, the pod network) when other add-ons follow, then their base,
    then every add-on's finish in order."""
    if passes != ["base", "finish"]:
        return [(name, c) for name in passes for c in components]
    first, rest = [c for c in components if c in pod_network], [c for c in components if c not in pod_network]
    return [*(("base", c) for c in first), *([(NETWORK_UP, first[-1])] if first and rest else []),
            *(("base", c) for c in rest), *(("finish", c) for c in components)]


def condition_is(live: dict | None, kind: str, status: str) -> bool:
    """Whether the object's status has condition ``kind`` (its type) with ``status`` ("True" or "False")."""
    conditions = ((live or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == kind and c.get("status") == status for c in conditions)


def network_problem(node: dict | None) -> str | None:
    """Why the pod network is not up on a Node yet (None: its NetworkUnavailable condition is False)."""
    if not node:
        return "the Node is gone"
    if condition_is(node, "NetworkUnavailable", "False"):
        return None
    return "its NetworkUnavailable condition is not False yet (the pod network sets it once the node has its subnet)"


def awaited_secrets(obj: dict, rendered: set) -> list[dict]:
    """The Secrets a workload's pods mount (not optional) that are not among ``rendered`` (ref keys of the
    add-on's objects): something in the cluster creates them, and the workload is applied once they exist."""
    if obj.get("kind") not in ROLLOUT_KINDS:
        return []
    namespace = (obj.get("metadata") or {}).get("namespace") or ""
    volumes = (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("volumes") or []
    refs = [{"apiVersion": "v1", "kind": "Secret", "namespace": namespace, "name": v["secret"]["secretName"]}
            for v in volumes if (v.get("secret") or {}).get("secretName") and not v["secret"].get("optional")]
    return [r for r in refs if ref_key(r) not in rendered]


# Kinds every other object of an add-on may need to exist first (its namespace, the kinds it serves).
FIRST_KINDS = ("Namespace", "CustomResourceDefinition")


def waves(objects: list[dict]) -> list[list[dict]]:
    """The objects of one phase in the waves they can be applied in, each wave's objects independent of
    each other: namespaces and CRDs, then everything else (each in the given order; empty waves left out)."""
    first = [o for o in objects if o.get("kind") in FIRST_KINDS]
    rest = [o for o in objects if o.get("kind") not in FIRST_KINDS]
    return [w for w in (first, rest) if w]


def crd_problem(live: dict | None) -> str | None:
    """Why a CRD cannot serve its kind yet (None: it is Established)."""
    return None if condition_is(live, "Established", "True") else "not Established"


def rollout_problem(live: dict | None) -> str | None:
    """Why a workload is not rolled out yet (None: it is). Missing objects are not rolled out."""
    if not live:
        return "not found"
    meta, spec, status = live.get("metadata") or {}, live.get("spec") or {}, live.get("status") or {}
    generation, observed = meta.get("generation") or 0, status.get("observedGeneration") or 0
    if observed < generation:
        return f"controller has not seen generation {generation} yet (observed {observed})"
    kind = live.get("kind")
    if kind == "DaemonSet":
        desired = status.get("desiredNumberScheduled", 0)
        updated, available = status.get("updatedNumberScheduled", 0), status.get("numberAvailable", 0)
        if desired == 0:
            return "no node to schedule on yet (0 desired)"
        if updated < desired or available < desired:
            return f"{updated}/{desired} pods updated, {available}/{desired} available"
        return None
    wanted = spec.get("replicas", 1)
    updated, available = status.get("updatedReplicas", 0), status.get("availableReplicas", 0)
    ready = status.get("readyReplicas", 0)
    if kind == "StatefulSet":
        if ready < wanted or status.get("updatedReplicas", wanted) < wanted:
            return f"{ready}/{wanted} ready, {status.get('updatedReplicas', 0)}/{wanted} updated"
        return None
    if updated < wanted or available < wanted:
        return f"{updated}/{wanted} replicas updated, {available}/{wanted} available"
    return None


def strip_server_fields(obj: dict) -> dict:
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in SERVER_FIELDS}
    return {**{k: v for k, v in obj.items() if k != "status"}, "metadata": meta}


def applied_change(before: dict | None, after: dict) -> str:
    """created | updated | unchanged, from the object before and after a (non dry-run) apply."""
    if before is None:
        return "created"
    before_rv = (before.get("metadata") or {}).get("resourceVersion")
    after_rv = (after.get("metadata") or {}).get("resourceVersion")
    return "unchanged" if before_rv == after_rv else "updated"


def dry_run_change(before: dict | None, dry: dict) -> str:
    """created | updated | unchanged, from a dry-run apply's answer (nothing was stored)."""
    if before is None:
        return "created"
    return "unchanged" if strip_server_fields(before) == strip_server_fields(dry) else "updated"


def is_webhook_not_ready(message: str) -> bool:
    """An admission webhook whose controller is not answering yet: worth a retry, not a failure."""
    text = message.lower()
    return "failed calling webhook" in text or ("webhook" in text and "connection refused" in text)
