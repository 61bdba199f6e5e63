#!/usr/bin/python
"""Module onprem.k8snet.k8s_apply: add-ons' objects applied to the live cluster, in phases, waited for."""

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_apply
author: k8snet maintainers
version_added: 0.2.0
short_description: Apply add-ons' objects server-side, wait for them, delete what they no longer render
description:
  - api mode's one call for every add-on (instead of one C(kubernetes.core.k8s) task per object). Applies the
    objects that M(onprem.k8snet.k8s_manifests) rendered, server-side, in their file order, in two
    phases. Everything but the custom resources first, then it waits until every CustomResourceDefinition
    is Established and every Deployment, DaemonSet and StatefulSet is rolled out (its controller has
    seen the current generation and every replica is updated and available); then the custom
    resources, retrying while their admission webhook does not answer yet.
  - A Deployment, DaemonSet or StatefulSet whose pods mount a Secret (not optional) that the add-on does not
    render, because its controller or a Job creates it (MetalLB's speakers mount the memberlist Secret its
    controller writes), is applied in the second phase, once that Secret exists. Sent earlier, its pods fail
    the mount and kubelet retries with a growing backoff, long after the Secret appeared.
  - What an add-on has applied is recorded in the cluster (ConfigMap C(kube-system/k8snet-applied-<component>)),
    as the union of the old and the new set before applying and as the new set afterwards. Objects in
    that record that this run no longer renders are deleted, custom resources first, and only when they
    carry this add-on's labels (C(onprem.k8snet/component), C(app.kubernetes.io/managed-by=k8snet)).
    So a run that failed half-way, or a run from another controller, still deletes what it owes.
  - The record also keeps, per object, a digest of what the last run sent and the resourceVersion the
    object had when that run ended. An object whose digest and resourceVersion are both unchanged is not
    sent again (its apply would be a no-op), so a re-run that changes nothing only reads; any other
    writer moves the resourceVersion, so a drifted object is always applied again.
  - An object counts as changed when the apply created it or moved its resourceVersion. In check mode
    every apply is a server dry run (C(dryRun=All)) and nothing is deleted or recorded; objects whose
    CRD or namespace does not exist yet (this run would create it) are reported as to be created.
  - With O(components), one call does every add-on in order, as a play would with one call per add-on and
    O(phase=base) then O(phase=finish) (the first phase for every add-on, then the second for every add-on),
    except that the pod network (C(flannel)) goes first. When it sent anything, the other add-ons are applied
    once every Node's C(NetworkUnavailable) condition is False (flannel sets it when the node has its subnet);
    started earlier, their pods fail to get a sandbox and kubelet backs off. It stops at the first add-on that
    fails. A re-run that changes nothing costs one task, not one per add-on.
  - Runs on the controller (in its process, through the action plugin of the same name).
options:
  component:
    description:
      - The add-on (C(flannel), C(metallb), C(ingress), ...); names the record and the label to prune by.
      - Exactly one of O(component) (with O(objects)) and O(components) (with O(manifests)) is given.
    type: str
  objects:
    description:
      - The objects of O(component) in apply order, as M(onprem.k8snet.k8s_manifests) returns them in its
        C(objects) (C(file) is read; C(custom) marks the custom resources).
    type: list
    elements: dict
  components:
    description: The add-ons in apply order, each as O(component) would name it.
    type: list
    elements: str
  manifests:
    description:
      - What M(onprem.k8snet.k8s_manifests) returned in its C(components) (add-on name to its C(objects));
        every add-on of O(components) must be there.
    type: dict
  wait_timeout:
    description: Seconds to wait for CRDs, rollouts and webhooks, each phase.
    type: int
    default: 300
  prune:
    description: Delete what the record lists and this run no longer renders.
    type: bool
    default: true
  field_manager:
    description: Server-side apply field manager.
    type: str
    default: k8snet
  force_conflicts:
    description:
      - Take over fields another field manager owns (server-side apply C(force)) on this project's own objects
        (someone's C(kubectl edit) of a field the project sets is undone).
    type: bool
    default: true
  adopt:
    description:
      - Take over objects of the same kind and name that another manager installed (kubectl, Helm, another
        installer). When false (the default) their presence stops the call before anything is changed, naming
        each object and who installed it, with the migration steps (the inventory's C(k8s_adopt_existing)).
    type: bool
    default: false
  allow_disruptive:
    description:
      - Delete CRDs this add-on no longer renders even when they hold custom resources the project did not
        create (those are deleted first, then the CRDs). When false such a CRD stops the call before anything
        is changed, naming the resources (the inventory's C(k8s_allow_disruptive)).
    type: bool
    default: false
  phase:
    description:
      - C(all) does the whole of it. C(base) only the checks, the record of what the run may leave behind and
        the apply of everything but the custom resources, without waiting; C(finish) the rest (the waits, the
        custom resources, the deletions, the final record). Calling C(base) for every add-on, then C(finish)
        for every add-on (what O(components) with C(all) does, the pod network first) lets the add-ons' images
        be pulled and their pods start together while the first add-on is waited for.
      - In check mode C(base) dry-runs every object (there is nothing to wait for) and C(finish) does nothing.
    type: str
    choices: [all, base, finish]
    default: all
  preflight:
    description:
      - Only the read-only checks (other owners' objects among those the record does not list yet, CRDs that
        hold others' custom resources), from the objects' identities (C(file) is not read), changing nothing.
        The validation phase runs this before any host is changed.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
extends_documentation_fragment:
  - onprem.k8snet.cluster
"""

EXAMPLES = r"""
- name: Render every add-on, then apply them all in order (one task)
  onprem.k8snet.k8s_manifests:
    components: [flannel, metallb, ingress]
    plan: "{{ plan }}"
    dest: /var/cache/k8snet/staging
  register: manifests
  delegate_to: localhost
  run_once: true

- name: Apply them
  onprem.k8snet.k8s_apply:
    components: [flannel, metallb, ingress]
    manifests: "{{ manifests.components }}"
    kubeconfig: "{{ plan.cluster.kubeconfig }}"
  delegate_to: localhost
  run_once: true

- name: Apply MetalLB alone
  onprem.k8snet.k8s_apply:
    component: metallb
    objects: "{{ manifests.components.metallb.objects }}"
    kubeconfig: "{{ plan.cluster.kubeconfig }}"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
created:
  description: Objects this run created (C(Kind namespace/name)).
  returned: always
  type: list
  elements: str
updated:
  description: Objects whose resourceVersion this run moved.
  returned: always
  type: list
  elements: str
unchanged:
  description: How many objects the apply left as they were.
  returned: always
  type: int
deleted:
  description: Objects deleted because this run no longer renders them.
  returned: always
  type: list
  elements: str
kept:
  description:
    - Objects the record lists and this run no longer renders, left alone because they do not carry
      this add-on's labels.
  returned: always
  type: list
  elements: str
waited:
  description: What was waited for, with the seconds it took (C({what, seconds})).
  returned: always
  type: list
  elements: dict
checked:
  description: With O(preflight), how many objects were looked at (those the record does not list yet).
  returned: with preflight
  type: int
results:
  description:
    - With O(components), the add-ons done (the one that failed last), in order, each with C(component) and the
      keys above for that add-on alone (both phases together); the keys above then sum them up.
  returned: with components
  type: list
  elements: dict
"""

import time

from ansible_collections.onprem.k8snet.plugins.module_utils import apply as plan_apply
from ansible_collections.onprem.k8snet.plugins.module_utils import kube
from ansible_collections.onprem.k8snet.plugins.module_utils.addons.registry import POD_NETWORK
from ansible_collections.onprem.k8snet.plugins.module_utils.in_process import run_module
from ansible_collections.onprem.k8snet.plugins.module_utils.k8s_client import (
    CONNECTION_SPEC,
    Cluster,
    ClusterError,
    failure,
    message,
    wait_each,
)

ARGUMENT_SPEC = {
    "component": {"type": "str"},
    "objects": {"type": "list", "elements": "dict"},
    "components": {"type": "list", "elements": "str"},
    "manifests": {"type": "dict"},
    **CONNECTION_SPEC,
    "wait_timeout": {"type": "int", "default": 300},
    "prune": {"type": "bool", "default": True},
    "field_manager": {"type": "str", "default": "k8snet"},
    "force_conflicts": {"type": "bool", "default": True},
    "adopt": {"type": "bool", "default": False},
    "allow_disruptive": {"type": "bool", "default": False},
    "phase": {"type": "str", "choices": ["all", "base", "finish"], "default": "all"},
    "preflight": {"type": "bool", "default": False},
}
ARGUMENT_RULES = {"required_one_of": [("component", "components")],
                  "mutually_exclusive": [("component", "components")],
                  "required_together": [("component", "objects"), ("components", "manifests")]}
POLL = 1.0
WAITED_KINDS = ("CustomResourceDefinition", *plan_apply.ROLLOUT_KINDS)
LISTS = ("created", "updated", "deleted", "kept", "waited")


class ApplyError(ClusterError):
    pass


def load(item: dict, loaded: dict | None = None) -> dict:
    """The one object of an item's file (read once per call: both phases of an add-on apply it)."""
    if loaded is not None and item["file"] in loaded:
        return loaded[item["file"]]
    try:
        with open(item["file"]) as f:
            objects = kube.load_documents(f.read(), item["file"])
    except (OSError, kube.ManifestError) as e:
        raise ApplyError(str(e)) from e
    if len(objects) != 1:
        raise ApplyError(f"{item['file']} does not hold one Kubernetes object")
    if loaded is not None:
        loaded[item["file"]] = objects[0]
    return objects[0]


def wait_all(cluster: Cluster, refs: list[dict], lives: list | None, *, problem, what, timeout: float,
             waited: list) -> None:
    """k8s_client.wait_each (``lives``: the first look, or None to read it), each object listed in ``waited``
    (``what(ref)`` and the seconds it took) as it gets done; the first still not done after ``timeout`` fails the
    call, naming its last reason."""
    done, still = wait_each(cluster, refs, problem, timeout, POLL, first=lives)
    waited += [{"what": what(r), "seconds": round(seconds, 1)} for r, seconds in done]
    if still:
        raise ApplyError(f"timed out after {timeout:g} s waiting for {what(still[0][0])}: {still[0][1]}")


def run(params: dict, check_mode: bool = False, diff: bool = False, cluster: Cluster | None = None, *,
        loaded: dict | None = None, known: dict | None = None) -> dict:
    """The module's work; a failure comes back as {failed, msg} (it also runs in the controller's process).
    ``loaded``: the objects of the files read so far (by file); ``known``: live objects already read (by ref key)."""
    del diff
    if params.get("components") is not None:
        return run_components(params, check_mode, cluster)
    try:
        cluster = cluster or Cluster(params.get("kubeconfig"), params.get("context"))
        known = {} if known is None else known
        return preflight(params, cluster, known) if params.get("preflight") else \
            apply_component(params, check_mode, cluster, loaded, known)
    except Exception as e:
        return failure(params["component"], params.get("kubeconfig"), e)


def run_components(params: dict, check_mode: bool, cluster: Cluster | None) -> dict:
    """Every add-on of ``components`` in order: preflight each, or the first phase for each, then the second for
    each (``all``: base, then finish); the first failure stops the call, with what was done so far."""
    missing = [c for c in params["components"] if c not in params["manifests"]]
    if missing:
        return {"failed": True, "changed": False, "msg": f"manifests has no objects for {', '.join(missing)}"}
    loaded = {}
    try:
        cluster = cluster or Cluster(params.get("kubeconfig"), params.get("context"))
        known = prefetch(params, cluster, loaded)
    except Exception as e:
        return failure("k8s_apply", params.get("kubeconfig"), e)
    phase = params.get("phase") or "all"
    passes = ["preflight"] if params.get("preflight") else (["base", "finish"] if phase == "all" else [phase])
    results = {}
    for name, component in plan_apply.steps(params["components"], passes, POD_NETWORK):
        if name == plan_apply.NETWORK_UP:
            outcome = {"waited": []} if check_mode else network_up(cluster, results, params)
        else:
            one = {**params, "component": component, "objects": params["manifests"][component]["objects"],
                   "components": None, "phase": name if name != "preflight" else "all",
                   "preflight": name == "preflight"}
            outcome = run(one, check_mode, cluster=cluster, loaded=loaded, known=known)
        results[component] = merged(results.get(component), outcome)
        if outcome.get("failed"):
            return {**totals(results), "failed": True, "msg": outcome["msg"]}
    return totals(results)


def network_up(cluster: Cluster, results: dict, params: dict) -> dict:
    """When the pod network's base phase (``results`` so far) sent something: until it is up on every Node."""
    outcome = {"waited": []}
    if not any(r.get("created") or r.get("updated") for r in results.values()):
        return outcome                                   # as it was: up, or its rollout wait will say why not
    try:
        nodes = [plan_apply.ref(n) for n in cluster.find("v1", "Node")]
        wait_all(cluster, nodes, None, problem=plan_apply.network_problem,
                 what=lambda r: f"the pod network to be up on Node {r['name']}", timeout=params["wait_timeout"],
                 waited=outcome["waited"])
    except Exception as e:
        return {**outcome, **failure("the pod network", params.get("kubeconfig"), e)}
    return outcome


def prefetch(params: dict, cluster: Cluster, loaded: dict) -> dict:
    """Every add-on's record, and (unless preflight) every object it applies, read at once: one round of
    requests instead of several per add-on. Ref key -> the live object or None. Custom resources read here are
    not read again before they are applied (the base phase does not touch them; each apply answers anew)."""
    refs = [record_ref(component) for component in params["components"]]
    if not params.get("preflight"):
        refs += [plan_apply.ref(load(item, loaded)) for component in params["components"]
                 for item in params["manifests"][component]["objects"]]
    return dict(zip(map(plan_apply.ref_key, refs), cluster.each(cluster.get, refs), strict=True))


def read_known(cluster: Cluster, refs: list[dict], known: dict) -> list[dict | None]:
    """The live objects of ``refs``: those in ``known`` from there, the others read now (at once)."""
    missing = [r for r in refs if plan_apply.ref_key(r) not in known]
    known.update(zip(map(plan_apply.ref_key, missing), cluster.each(cluster.get, missing), strict=True))
    return [known[plan_apply.ref_key(r)] for r in refs]


def merged(earlier: dict | None, outcome: dict) -> dict:
    """One add-on's results of both phases as one."""
    if earlier is None:
        return dict(outcome)
    both = {**earlier, **{k: v for k, v in outcome.items() if k not in LISTS}}
    for key in LISTS:
        both[key] = earlier.get(key, []) + outcome.get(key, [])
    both["unchanged"] = earlier.get("unchanged", 0) + outcome.get("unchanged", 0)
    both["changed"] = bool(earlier.get("changed") or outcome.get("changed"))
    return both


def totals(results: dict) -> dict:
    """The per-add-on results in order (``results``) and their sums."""
    listed = [{"component": c, **{k: v for k, v in r.items() if k not in ("failed", "msg")}}
              for c, r in results.items()]
    out = {key: [x for r in listed for x in r.get(key, [])] for key in LISTS}
    out["unchanged"] = sum(r.get("unchanged", 0) for r in listed)
    out["changed"] = any(r.get("changed") for r in listed)
    if any("checked" in r for r in listed):
        out["checked"] = sum(r.get("checked", 0) for r in listed)
    out["results"] = listed
    return out


def check_owners(params: dict, cluster: Cluster, current: list[dict], looked_at: list[dict], recorded: list[dict], *,
                 known: dict):
    """Refuse others' objects among ``looked_at`` (unless adopt) and CRDs this run would delete while they hold
    others' custom resources (unless allow_disruptive). Returns (the objects read, by key; the objects to
    prune with their live state; CRD name -> others' custom resources it holds)."""
    component = params["component"]
    befores = dict(zip([plan_apply.ref_key(r) for r in looked_at], read_known(cluster, looked_at, known),
                       strict=True))
    foreign = [(r, befores[plan_apply.ref_key(r)]) for r in looked_at
               if befores[plan_apply.ref_key(r)] is not None and not plan_apply.ours(befores[plan_apply.ref_key(r)])]
    if foreign and not params["adopt"]:
        raise ApplyError(plan_apply.foreign_refusal(component, foreign))
    gone = plan_apply.to_prune(recorded, current) if params["prune"] else []
    pruned = list(zip(gone, cluster.each(cluster.get, gone), strict=True))
    held = {}
    for r, live in pruned:
        if r["kind"] == "CustomResourceDefinition" and plan_apply.owned_by_us(live, component):
            api_version, kind = plan_apply.crd_kind(live)
            if kind in plan_apply.CONTROLLER_KINDS:
                continue
            others = [o for o in cluster.find(api_version, kind) if not plan_apply.ours(o)]
            if others:
                held[r["name"]] = others
    if held and not params["allow_disruptive"]:
        raise ApplyError(plan_apply.crd_refusal(component, held))
    return befores, pruned, held


def preflight(params: dict, cluster: Cluster, known: dict) -> dict:
    """check_owners from the objects' identities alone; only objects the record does not list are looked at
    (what the record lists this project applied, so a no-op re-run reads nothing but the record)."""
    current = [plan_apply.ref(kube.as_object(item)) for item in params["objects"]]
    (record_live,) = read_known(cluster, [record_ref(params["component"])], known)
    recorded = plan_apply.read_record(record_live)
    listed = {plan_apply.ref_key(r) for r in recorded}
    new = [r for r in current if plan_apply.ref_key(r) not in listed]
    check_owners(params, cluster, current, new, recorded, known=known)
    return {"changed": False, "created": [], "updated": [], "unchanged": 0, "deleted": [], "kept": [],
            "waited": [], "checked": len(new)}


def record_ref(component: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "namespace": plan_apply.RECORD_NAMESPACE,
            "name": plan_apply.record_name(component)}


def apply_component(params: dict, check_mode: bool, cluster: Cluster, loaded: dict | None, known: dict) -> dict:
    component, phase = params["component"], params.get("phase") or "all"
    result = {"created": [], "updated": [], "unchanged": 0, "deleted": [], "kept": [], "waited": []}
    if check_mode and phase == "finish":                 # base dry-ran everything: nothing is waited for
        return {**result, "changed": False}
    objects = [(item, load(item, loaded)) for item in params["objects"]]
    base, custom = plan_apply.phases(objects, lambda pair: bool(pair[0].get("custom")))
    current = [plan_apply.ref(obj) for _, obj in objects]
    rendered = set(map(plan_apply.ref_key, current))
    awaited = {plan_apply.ref_key(plan_apply.ref(obj)): plan_apply.awaited_secrets(obj, rendered) for _, obj in base}
    gated = [pair for pair in base if awaited[plan_apply.ref_key(plan_apply.ref(pair[1]))]]
    (record_live,) = read_known(cluster, [record_ref(component)], known)
    recorded = plan_apply.read_record(record_live)
    applied = plan_apply.read_applied(record_live)
    sent = {plan_apply.applied_key(plan_apply.ref(obj)): plan_apply.digest(obj) for _, obj in objects}
    manager, force, timeout = params["field_manager"], params["force_conflicts"], params["wait_timeout"]

    # Read-only checks first: nothing is changed when one of them refuses. finish looks again only at the
    # custom resources it applies (base checked and applied the rest) and at what it deletes.
    looked_at = current if phase != "finish" else [plan_apply.ref(obj) for _, obj in gated + custom]
    befores, pruned, held = check_owners(params, cluster, current, looked_at, recorded, known=known)

    def write_record(refs, applied_map) -> None:
        nonlocal record_live
        if not refs and record_live is None:             # nothing applied, nothing to remember (an add-on off)
            return
        wanted = plan_apply.record_configmap(component, refs, applied_map)
        if not plan_apply.record_holds(record_live, wanted):
            record_live = known[plan_apply.ref_key(record_ref(component))] = cluster.apply(wanted, manager, force,
                                                                                           False)

    def untouched(obj: dict) -> bool:
        r = plan_apply.ref(obj)                          # check_owners read every object this call applies
        return plan_apply.untouched(applied.get(plan_apply.applied_key(r)), sent[plan_apply.applied_key(r)],
                                    befores[plan_apply.ref_key(r)])

    def apply_one(obj: dict, retry_webhooks: bool) -> tuple[dict, str]:
        r = plan_apply.ref(obj)
        key = plan_apply.ref_key(r)
        before = befores[key]
        if untouched(obj):                               # as the last run left it: nothing to send
            return r, "unchanged"
        started = time.monotonic()
        while True:
            try:
                after = cluster.apply(obj, manager, force, check_mode)
                break
            except (cluster.exceptions.ResourceNotFoundError, cluster.exceptions.NotFoundError):
                if check_mode:                           # its CRD or namespace comes with this same (dry) run
                    return r, "created"
                raise
            except cluster.exceptions.DynamicApiError as e:
                text = message(e)
                if retry_webhooks and plan_apply.is_webhook_not_ready(text) and time.monotonic() - started < timeout:
                    time.sleep(2 * POLL)
                    continue
                raise ApplyError(f"{component}: applying {plan_apply.describe(r)} failed: {text}") from e
        if not check_mode:
            known.pop(key, None)                         # its status moves from now on: the waits read it anew
        return r, plan_apply.dry_run_change(before, after) if check_mode else plan_apply.applied_change(before, after)

    def apply_all(pairs, retry_webhooks: bool) -> None:
        """Namespaces and CRDs first, then the rest; the objects of one wave go out together."""
        for wave in plan_apply.waves([obj for _, obj in pairs]):
            for r, change in cluster.each(lambda obj: apply_one(obj, retry_webhooks), wave):
                if change == "unchanged":
                    result["unchanged"] += 1
                else:
                    result[change].append(plan_apply.describe(r))

    if phase != "finish":
        if not check_mode:                               # what this run may leave behind, before it touches anything
            write_record(recorded + current, applied)
        apply_all([p for p in base if check_mode or p not in gated], retry_webhooks=False)
        if phase == "base" and not check_mode:
            result["changed"] = bool(result["created"] or result["updated"])
            return result
    if not check_mode:
        # Workloads mounting a Secret the add-on's controller or Job creates: once it exists (none to wait
        # for when the object is as the last run left it).
        mounted = {plan_apply.ref_key(s): (s, plan_apply.ref(obj)) for _, obj in gated if not untouched(obj)
                   for s in awaited[plan_apply.ref_key(plan_apply.ref(obj))]}
        secrets = [s for s, _ in mounted.values()]
        wait_all(cluster, secrets, None,
                 problem=lambda live: None if live else "not created yet",
                 what=lambda s: f"{plan_apply.describe(s)} to exist (the add-on creates it; "
                                f"{plan_apply.describe(mounted[plan_apply.ref_key(s)][1])} mounts it)",
                 timeout=timeout, waited=result["waited"])
        apply_all(gated, retry_webhooks=False)
        # The first look at every CRD and controller: as read before anything was sent when nothing was sent
        # for it (a re-run that changes nothing reads nothing more), the others read now, at once.
        watched = [r for r in (plan_apply.ref(obj) for _, obj in base) if r["kind"] in WAITED_KINDS]
        wait_settled(cluster, watched, read_known(cluster, watched, known), timeout, result["waited"])
    apply_all(custom, retry_webhooks=True)
    if params["prune"] and not check_mode:
        prune(pruned, held, component, cluster, result)
    if not check_mode:
        write_record(current, settled_versions(cluster, current, sent, applied, result))
    result["changed"] = bool(result["created"] or result["updated"] or result["deleted"])
    return result


def settled_versions(cluster: Cluster, current: list, sent: dict, applied: dict, result: dict) -> dict:
    """The applied map to record at the end of a run: when this run sent something new (or the record has no map
    yet), every object's digest with the resourceVersion it has now, after the waits; otherwise the recorded
    map as it is, so that a re-run that changed nothing does not write the record (objects whose status moved
    since are applied again next time, as no-ops)."""
    if not (result["created"] or result["updated"]) and all(applied.get(k, [None])[0] == v for k, v in sent.items()):
        return applied
    lives = cluster.each(cluster.get, current)
    return {plan_apply.applied_key(r): [sent[plan_apply.applied_key(r)], plan_apply.resource_version(live)]
            for r, live in zip(current, lives, strict=True) if live is not None}


def wait_settled(cluster: Cluster, watched: list[dict], lives: list, timeout: float, waited: list) -> None:
    """Every CRD of ``watched`` Established, then every controller rolled out; ``lives``: the first look at each."""
    first = dict(zip(map(plan_apply.ref_key, watched), lives, strict=True))
    for kinds, problem, what in (
            (("CustomResourceDefinition",), plan_apply.crd_problem, lambda r: f"CRD {r['name']} to be Established"),
            (plan_apply.ROLLOUT_KINDS, plan_apply.rollout_problem, lambda r: f"{plan_apply.describe(r)} to roll out")):
        refs = [r for r in watched if r["kind"] in kinds]
        wait_all(cluster, refs, [first[plan_apply.ref_key(r)] for r in refs], problem=problem, what=what,
                 timeout=timeout, waited=waited)


def prune(pruned: list, held: dict, component: str, cluster: Cluster, result: dict) -> None:
    """Delete what the record lists and this run no longer renders: only objects with this add-on's labels;
    a CRD allowed to go (allow_disruptive) takes others' custom resources with it, those first."""
    for r, live in pruned:
        if live is None:
            continue
        if r["kind"] == "CustomResourceDefinition" and r["name"] in held:
            for other in held[r["name"]]:
                cluster.delete(plan_apply.ref(other))
                result["deleted"].append(plan_apply.describe(plan_apply.ref(other)))
        if plan_apply.owned_by_us(live, component):
            cluster.delete(r)
            result["deleted"].append(plan_apply.describe(r))
        else:
            result["kept"].append(plan_apply.describe(r))


def main() -> None:
    run_module(run, ARGUMENT_SPEC, **ARGUMENT_RULES)


if __name__ == "__main__":
    main()
