"""Add-on builders: (network plan, pinned upstream files) -> the final Kubernetes objects.

Which add-ons there are, in which order, with which role, upstream projects and builder: the
registry (``registry.ADDONS``). Every builder module offers ``required_files(plan) -> list[str]``
(pin paths it reads), ``build(plan, files) -> list[dict]`` (final objects, ordered for apply) and,
where it has them, ``artifacts(plan, files) -> list[Artifact]`` (files that are not objects to apply
as a whole: patches of objects the project does not own, configuration fragments). What the
builders share is in ``common``.

``files`` maps a pin path (``Documentation/kube-flannel.yml``) to the local file that
``onprem.k8snet.upstream_fetch`` verified.

A new builder module is imported here by name (statically: Ansible ships to a module only the
module_utils it can see imported) and named in its registry entry.
"""

from __future__ import annotations

from ..kube import ManifestError, add_managed_label
from . import exposed_services, flannel, gateway, ingress_nginx, metallb, nginx_ingress
from .common import (
    CUSTOM_ORDER,
    KIND_ORDER,
    Artifact,
    Build,
    file_name,
    finish,
    is_custom,
    load,
    order_of,
    patch_ingress_service,
    set_ip_families,
)
from .registry import ADDONS, COMPONENT_PROJECTS, COMPONENTS

BUILDERS = {"flannel": flannel, "metallb": metallb, "nginx_ingress": nginx_ingress, "ingress_nginx": ingress_nginx,
            "gateway": gateway, "exposed_services": exposed_services}

__all__ = ["ADDONS", "BUILDERS", "COMPONENTS", "COMPONENT_PROJECTS", "CUSTOM_ORDER", "KIND_ORDER", "Artifact",
           "Build", "build", "file_name", "finish", "is_custom", "load", "module_for", "order_of",
           "patch_ingress_service", "required_files", "set_ip_families"]


def module_for(component: str, plan: dict):
    """The builder module of a component (the ingress component has one per controller)."""
    if component not in COMPONENTS:
        raise ManifestError(f"unknown component {component!r}; use one of {', '.join(COMPONENTS)}")
    module = BUILDERS.get(ADDONS[component].builder(plan))
    if module is None:
        raise ManifestError(f"component {component!r} has no builder in this version of the collection")
    return module


def required_files(component: str, plan: dict) -> list[str]:
    return list(module_for(component, plan).required_files(plan))


def build(component: str, plan: dict, files: dict[str, str]) -> Build:
    module = module_for(component, plan)
    missing = [p for p in module.required_files(plan) if not files.get(p)]
    if missing:
        raise ManifestError(f"{component}: upstream files not provided: {', '.join(missing)}; fetch them with "
                            "onprem.k8snet.upstream_fetch from the role's pin list")
    objects = [add_managed_label(obj, component) for obj in module.build(plan, files)]
    artifacts = module.artifacts(plan, files) if hasattr(module, "artifacts") else []
    return Build(objects=objects, artifacts=artifacts)
