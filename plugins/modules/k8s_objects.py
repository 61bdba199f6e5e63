#!/usr/bin/python
"""Module onprem.k8snet.k8s_objects: a few objects applied, patched or deleted (and waited for) on the live cluster."""

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_objects
author: k8snet maintainers
version_added: 0.3.0
short_description: Apply, patch or delete a few objects on the live cluster
description:
  - The roles' small writes outside the add-ons (verify's test workloads, the state ConfigMap, the Nodes'
    address annotations, kube-proxy's strictARP), as C(kubernetes.core.k8s) would do them, in the
    controller's own process (through the action plugin of the same name), so a write costs a request, not a
    Python interpreter and the client's import each. The add-ons themselves go through
    M(onprem.k8snet.k8s_apply) (records, pruning, waits).
  - C(present) applies each object server-side (its fields owned by O(field_manager)). C(patched) sends each
    object's C(metadata) and the rest of its fields as a JSON merge patch (a null value removes a key, as
    C(kubectl patch --type merge)); C(absent) deletes each object (a missing one is already absent), with
    O(grace_period) when given, and with O(wait) returns only when none is left.
  - An object counts as changed when it was created, its resourceVersion moved, or it was deleted. In check
    mode C(present) and C(patched) are server dry runs (C(dryRun=All)) and C(absent) only reports what exists.
options:
  objects:
    description:
      - The objects, each with C(apiVersion), C(kind) and C(metadata.name) (and C(metadata.namespace) for a
        namespaced kind). For C(absent) nothing else is read.
    type: list
    elements: dict
    required: true
  state:
    description: What to do with each object.
    type: str
    choices: [present, patched, absent]
    default: present
  field_manager:
    description: Server-side apply field manager (C(present)).
    type: str
    default: k8snet
  force_conflicts:
    description: Take over fields another field manager owns (C(present)).
    type: bool
    default: true
  grace_period:
    description:
      - Seconds a deleted pod has to stop (C(absent)); the object's own default when empty. V(0) deletes pods
        at once, as C(kubectl delete --grace-period=0 --force); meant for short-lived test pods.
    type: int
  wait:
    description: With C(absent), return only when no object is left (a namespace's content is deleted first).
    type: bool
    default: false
  wait_timeout:
    description: Seconds O(wait) waits before failing, naming what is left.
    type: int
    default: 120
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
extends_documentation_fragment:
  - onprem.k8snet.cluster
"""

EXAMPLES = r"""
- name: Create the test namespace and its pods
  onprem.k8snet.k8s_objects:
    objects: "{{ lookup('ansible.builtin.template', 'workloads.yml.j2') | from_yaml_all | list }}"
  delegate_to: localhost
  run_once: true

- name: Annotate a Node
  onprem.k8snet.k8s_objects:
    state: patched
    objects:
      - apiVersion: v1
        kind: Node
        metadata:
          name: node1
          annotations:
            flannel.alpha.coreos.com/node-public-ip: 192.168.56.11

- name: Remove the test namespace, its pods at once, and wait until it is gone
  onprem.k8snet.k8s_objects:
    state: absent
    objects:
      - {apiVersion: v1, kind: Namespace, metadata: {name: k8snet-verify}}
    wait: true
"""

RETURN = r"""
objects:
  description: The objects as the API server answered (C(present), C(patched)); those that existed (C(absent)).
  returned: always
  type: list
  elements: dict
changed_objects:
  description: C(Kind namespace/name) of every object created, changed or deleted.
  returned: always
  type: list
  elements: str
  sample: [Namespace k8snet-verify]
"""

from ansible_collections.onprem.k8snet.plugins.module_utils import kube
from ansible_collections.onprem.k8snet.plugins.module_utils.apply import resource_version
from ansible_collections.onprem.k8snet.plugins.module_utils.in_process import run_module
from ansible_collections.onprem.k8snet.plugins.module_utils.k8s_client import (
    CONNECTION_SPEC,
    Cluster,
    ClusterError,
    failure,
)

ARGUMENT_SPEC = {
    "objects": {"type": "list", "elements": "dict", "required": True},
    "state": {"type": "str", "choices": ["present", "patched", "absent"], "default": "present"},
    "field_manager": {"type": "str", "default": "k8snet"},
    "force_conflicts": {"type": "bool", "default": True},
    "grace_period": {"type": "int"},
    "wait": {"type": "bool", "default": False},
    "wait_timeout": {"type": "int", "default": 120},
    **CONNECTION_SPEC,
}


def reference(obj: dict, index: int) -> dict:
    """{apiVersion, kind, namespace, name} of objects[index]; an incomplete one is refused, naming its place."""
    meta = obj.get("metadata") or {}
    missing = [f for f, v in (("apiVersion", obj.get("apiVersion")), ("kind", obj.get("kind")),
                              ("metadata.name", meta.get("name"))) if not v]
    if missing:
        raise ClusterError(f"objects[{index}]: {', '.join(missing)} missing")
    return kube.reference(obj)


def label(r: dict) -> str:
    return kube.describe(kube.as_object(r))


def _write(cluster: Cluster, params: dict, obj: dict, ref: dict, check_mode: bool) -> tuple[dict, bool]:
    """One object applied or patched: the server's answer and whether it was created or changed."""
    before = cluster.get(ref)
    if params["state"] == "present":
        answer = cluster.apply(obj, params["field_manager"], params["force_conflicts"], check_mode)
    else:
        if before is None:
            raise ClusterError(f"{label(ref)}: not found (state patched changes an existing object)")
        body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
        answer = cluster.patch(ref, body, check_mode)
    return answer, before is None or resource_version(answer) != resource_version(before)


def run(params: dict, check_mode: bool = False, diff: bool = False, cluster: Cluster | None = None) -> dict:
    """Every object written or deleted; the first failure comes back as {failed, msg} naming the object."""
    del diff
    try:
        refs = [reference(obj, i) for i, obj in enumerate(params["objects"])]
    except ClusterError as e:
        return {"failed": True, "changed": False, "msg": str(e)}
    done, changed = [], []
    ref = None
    try:
        cluster = cluster or Cluster(params.get("kubeconfig"), params.get("context"))
        if params["state"] == "absent":
            for ref in refs:
                found = cluster.get(ref)
                if found is None:
                    continue
                done.append(found)
                changed.append(label(ref))
                if not check_mode:
                    cluster.delete(ref, params.get("grace_period"))
            ref = None
            if params["wait"] and not check_mode:
                left = cluster.wait_gone(refs, params["wait_timeout"])
                if left:
                    raise ClusterError(f"still there after {params['wait_timeout']} s: "
                                       + ", ".join(label(r) for r in left))
        else:
            for obj, ref in zip(params["objects"], refs, strict=True):
                answer, moved = _write(cluster, params, obj, ref, check_mode)
                done.append(answer)
                if moved:
                    changed.append(label(ref))
    except Exception as e:
        what = f"{params['state']} {label(ref)}" if ref else f"state {params['state']}"
        return {**failure(what, params.get("kubeconfig"), e), "changed_objects": changed}
    return {"changed": bool(changed), "objects": done, "changed_objects": changed}


def main() -> None:
    run_module(run, ARGUMENT_SPEC)


if __name__ == "__main__":
    main()
