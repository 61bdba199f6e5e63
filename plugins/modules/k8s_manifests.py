#!/usr/bin/python
"""Module onprem.k8snet.k8s_manifests: build, validate and render the objects of one add-on."""

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_manifests
author: k8snet maintainers
version_added: 0.1.0
short_description: Build, validate and render the final Kubernetes objects of one add-on
description:
  - Builds the final objects of one component from the network plan and the pinned upstream manifests
    (as fetched by M(onprem.k8snet.upstream_fetch)), that is the upstream objects patched as the plan says
    (interface, net-conf, images, Service type...) plus the objects the project generates (MetalLB pools
    and advertisements...). Every object carries the label C(app.kubernetes.io/managed-by=k8snet).
  - Validates every object against the strict OpenAPI schema of the target Kubernetes version
    (kubernetes-validate), and every custom resource against the C(openAPIV3Schema) of its CRD in the same
    upstream bundle. CEL rules (C(x-kubernetes-validations)) are not evaluated. When anything is invalid
    the module fails listing every error (object and JSON path) and writes nothing.
  - Writes one file per object into C(<dest>/<component>/), named C(NN-<kind>-<namespace>-<name>.yaml)
    where C(NN) is the apply phase of the kind (sorting the names gives the apply order). Unchanged files
    are not touched; files this module wrote earlier that are no longer wanted are deleted (only C(*.yaml)
    files starting with the module's header line, so other files are left alone).
  - Extra artifacts go to sub-directories; C(flannel) with per-node annotation writes Node patches to
    C(node-annotations/) and C(metallb) writes the kube-proxy strictARP fragment to C(patches/).
  - In C(api) mode roles render into a staging directory and M(onprem.k8snet.k8s_apply) applies RV(objects)
    in order; RV(objects[].custom) marks the custom resources to apply once the controllers run.
  - Runs on the controller.
requirements:
  - PyYAML
  - kubernetes-validate, jsonschema and referencing (when O(validate=true))
options:
  component:
    description:
      - Which add-on to build. C(ingress) builds the controller that C(plan.ingress.controller) names.
      - Its results are returned at the top level. Exactly one of O(component) and O(components) is given.
    type: str
    choices: [flannel, metallb, ingress, gateway, exposed_services]
  components:
    description:
      - Several add-ons at once, in apply order. All are built and validated before any is written, so one
        invalid object writes nothing at all. Results are in RV(components).
    type: list
    elements: str
    choices: [flannel, metallb, ingress, gateway, exposed_services]
  plan:
    description: The network plan (C(network_plan_result.plan)).
    type: dict
    required: true
  files:
    description:
      - Pin path -> local file (RV(onprem.k8snet.upstream_fetch#module:paths)), or project -> pin path -> local
        file (RV(onprem.k8snet.upstream_fetch#module:by_project)); the latter tells apart two projects that pin
        the same path, which matters when several components are built at once.
      - A disabled component (e.g. C(plan.gateway_api.enabled=false)) needs none and renders nothing, which
        prunes what an earlier run rendered.
    type: dict
    default: {}
  dest:
    description: Directory under which C(<component>/) is written (the plan's render directory, or a staging one).
    type: path
    required: true
  validate:
    description: Validate the objects before writing.
    type: bool
    default: true
  kube_version:
    description:
      - Kubernetes minor version whose schemas are used, e.g. C(1.35).
      - Defaults to the plan's C(cluster.kube_version).
    type: str
attributes:
  check_mode:
    support: full
    details: Builds and validates, reports what would be created, updated and deleted, and writes nothing.
  diff_mode:
    support: full
    details: One before/after pair per changed file; files larger than 100000 characters are summarized.
"""

EXAMPLES = r"""
- name: Render flannel into the render directory
  onprem.k8snet.k8s_manifests:
    component: flannel
    plan: "{{ network_plan_result.plan }}"
    files: "{{ flannel_files.paths }}"
    dest: "{{ network_plan_result.plan.cluster.render_dir }}"
  delegate_to: localhost
  run_once: true

- name: Build MetalLB into a staging directory for api mode
  onprem.k8snet.k8s_manifests:
    component: metallb
    plan: "{{ network_plan_result.plan }}"
    files: "{{ metallb_files.paths }}"
    dest: "{{ k8snet_staging_dir }}"
  delegate_to: localhost
  run_once: true
  register: metallb_manifests

- name: Apply the controllers first, the custom resources later
  kubernetes.core.k8s:
    src: "{{ item.file }}"
    apply: true
    server_side_apply: {field_manager: k8snet}
  loop: "{{ metallb_manifests.objects | rejectattr('custom') }}"
"""

RETURN = r"""
directory:
  description: The component directory written to (C(<dest>/<component>)).
  returned: with O(component)
  type: str
kube_version:
  description: Kubernetes version the objects were validated for.
  returned: always
  type: str
objects:
  description: Every object in apply order.
  returned: success
  type: list
  elements: dict
  contains:
    file: {description: Absolute path of its file, type: str}
    apiVersion: {description: apiVersion, type: str}
    kind: {description: kind, type: str}
    namespace: {description: Namespace, empty for cluster-scoped objects, type: str}
    name: {description: Name, type: str}
    custom: {description: A custom resource (apply after its controller is running), type: bool}
artifacts:
  description: Files that are not whole objects to apply.
  returned: success
  type: list
  elements: dict
  contains:
    file: {description: Absolute path, type: str}
    type: {description: C(patch) (merge into an existing object, e.g. Node annotations) or C(fragment), type: str}
    apiVersion: {description: apiVersion of the content, type: str}
    kind: {description: kind of the content, type: str}
    name: {description: metadata.name of the content, empty for fragments, type: str}
created:
  description: Files (relative to RV(directory)) created, or that would be in check mode.
  returned: success
  type: list
  elements: str
updated:
  description: Files whose content changed.
  returned: success
  type: list
  elements: str
deleted:
  description: Files removed because their object is no longer wanted.
  returned: success
  type: list
  elements: str
unchanged:
  description: Files left as they were.
  returned: success
  type: list
  elements: str
removed_objects:
  description:
    - Objects whose files were deleted, as C({apiVersion, kind, namespace, name}). In api mode this is
      only what this controller's staging directory had; M(onprem.k8snet.k8s_apply) deletes from the
      record kept in the cluster instead.
  returned: success
  type: list
  elements: dict
components:
  description: Per component, the fields above (C(directory), C(objects), C(artifacts), C(created), C(updated),
    C(deleted), C(unchanged), C(removed_objects)).
  returned: success
  type: dict
errors:
  description: Schema errors, each C(<Kind> <namespace>/<name>) then the JSON path and the message.
  returned: failure
  type: list
  elements: str
"""

import os

from ansible_collections.onprem.k8snet.plugins.module_utils import addons, kube, render
from ansible_collections.onprem.k8snet.plugins.module_utils.in_process import run_module


def _summaries(directory: str, bundle) -> tuple[list[dict], list[dict]]:
    objects = []
    for obj in bundle.objects:
        meta = obj.get("metadata") or {}
        objects.append({"file": os.path.join(directory, render.file_name(obj)), "apiVersion": obj["apiVersion"],
                        "kind": obj["kind"], "namespace": meta.get("namespace") or "", "name": meta.get("name") or "",
                        "custom": addons.is_custom(obj)})
    artifacts = [{"file": os.path.join(directory, a.path), "type": a.kind, "apiVersion": a.content.get("apiVersion"),
                  "kind": a.content.get("kind"), "name": (a.content.get("metadata") or {}).get("name") or ""}
                 for a in bundle.artifacts]
    return objects, artifacts


def _removed_objects(changes) -> list[dict]:
    """Objects whose files this run deleted (patches and fragments in sub-folders are not objects to delete)."""
    removed = []
    for path in changes.deleted:
        if "/" in path:
            continue
        removed += [kube.reference(obj) for obj in kube.load_documents(changes.current[path], path)]
    return removed


def _files_for(component: str, files: dict) -> dict:
    """Pin path -> local file for one component, from flat paths or upstream_fetch's by_project."""
    if all(isinstance(v, str) for v in files.values()):
        return files
    merged: dict = {}
    for project in addons.COMPONENT_PROJECTS[component]:
        merged.update(files.get(project) or {})
    return merged


class _Refused(Exception):
    """Stops the module with this message (and fields); nothing is written."""

    def __init__(self, msg: str, **fields):
        super().__init__(msg)
        self.fields = {"msg": msg, **fields}


def _build(component: str, plan: dict, files: dict, *, kube_version: str, validate: bool):
    """The component's objects, built and validated; _Refused (nothing written) on any error."""
    try:
        bundle = addons.build(component, plan, _files_for(component, files))
    except kube.ManifestError as exc:
        raise _Refused(f"Cannot build {component}: {exc}") from exc
    except (KeyError, TypeError, AttributeError) as exc:
        raise _Refused(f"Cannot build {component}: the plan does not have the expected layout ({exc!r}); "
                       "pass network_plan_result.plan from onprem.k8snet.network_plan") from exc
    if validate:
        checked = bundle.objects + [a.content for a in bundle.artifacts if a.validate]
        try:
            problems = kube.validate_objects(checked, kube_version)
        except kube.SchemaUnavailable as exc:
            raise _Refused(f"Cannot validate {component}: {exc}") from exc
        if problems:
            errors = [str(x) for x in problems]
            raise _Refused(f"{component}: {len(errors)} schema error(s) for Kubernetes {kube_version}; "
                           "nothing was written:\n" + "\n".join(errors), errors=errors)
    return bundle


ARGUMENT_SPEC = {
    "component": {"type": "str", "choices": list(addons.COMPONENTS)},
    "components": {"type": "list", "elements": "str", "choices": list(addons.COMPONENTS)},
    "plan": {"type": "dict", "required": True},
    "files": {"type": "dict", "default": {}},
    "dest": {"type": "path", "required": True},
    "validate": {"type": "bool", "default": True},
    "kube_version": {"type": "str"},
}
ARGUMENT_RULES = {"required_one_of": [("component", "components")],
                  "mutually_exclusive": [("component", "components")]}


def run(params: dict, check_mode: bool = False, diff: bool = False) -> dict:
    """The module's result for these (validated) parameters; ``failed`` set when nothing could be written."""
    try:
        return _run(params, check_mode, diff)
    except _Refused as exc:
        return {"failed": True, **exc.fields}


def _run(p: dict, check_mode: bool, want_diff: bool) -> dict:
    plan = p["plan"]
    names = p["components"] or [p["component"]]
    kube_version = str(p["kube_version"] or (plan.get("cluster") or {}).get("kube_version") or "")
    # Every component builds and validates before any is written: one bad object writes nothing at all.
    bundles = {name: _build(name, plan, p["files"] or {}, kube_version=kube_version, validate=p["validate"])
               for name in names}
    results, diff, changed = {}, [], False
    for name, bundle in bundles.items():
        directory = os.path.join(p["dest"], name)
        try:
            changes = render.render(directory, bundle.objects, bundle.artifacts, check=check_mode)
        except (render.RenderError, OSError) as exc:
            raise _Refused(f"Cannot write {name} into {directory}: {exc}") from exc
        objects, artifacts = _summaries(directory, bundle)
        results[name] = {"directory": directory, "objects": objects, "artifacts": artifacts,
                         "created": changes.created, "updated": changes.updated, "deleted": changes.deleted,
                         "unchanged": changes.unchanged, "removed_objects": _removed_objects(changes)}
        changed = changed or changes.changed
        diff += changes.ansible_diff()
    result = {"changed": changed, "kube_version": kube_version, "components": results}
    if p["component"]:
        result.update(results[p["component"]])  # the single-component form returns its fields at the top
    if want_diff:
        result["diff"] = diff
    return result


def main():
    run_module(run, ARGUMENT_SPEC, **ARGUMENT_RULES)


if __name__ == "__main__":
    main()
