"""What every add-on builder shares: apply order and file names, the project label, loading pinned files,
and the Service patches both ingress controllers need.

The builders import only this module (and ..kube); the package's __init__ imports the builders.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..kube import LB_IPS_ANNOTATION, ManifestError, add_managed_label, load_file, mirror_images

# Apply phase of each kind (Helm's install order, CRDs moved first): the two-digit prefix of
# rendered file names. Names therefore do not move when another object is added or removed.
KIND_ORDER = {
    "Namespace": 10,
    "CustomResourceDefinition": 15,
    "ServiceAccount": 20,
    "Secret": 25,
    "ConfigMap": 26,
    "ClusterRole": 30,
    "ClusterRoleBinding": 31,
    "Role": 32,
    "RoleBinding": 33,
    "IngressClass": 40,
    "Service": 50,
    "DaemonSet": 60,
    "Deployment": 61,
    "StatefulSet": 62,
    "Job": 65,
    "ValidatingAdmissionPolicy": 70,
    "ValidatingAdmissionPolicyBinding": 71,
    "MutatingWebhookConfiguration": 75,
    "ValidatingWebhookConfiguration": 76,
}
CUSTOM_ORDER = 90  # custom resources: after their CRDs and the controllers that watch them


@dataclass
class Artifact:
    """A rendered file that is not one object to apply: a patch, or a configuration fragment."""

    path: str  # relative to the component directory, e.g. node-annotations/node1.yaml
    content: dict
    kind: str  # "patch" (merge into an existing API object) or "fragment" (not an API object)
    comment: str = ""  # header lines saying what it is and how it is used
    validate: bool = False  # also check it against the OpenAPI schema (patches that are valid objects)


@dataclass
class Build:
    objects: list[dict]
    artifacts: list[Artifact] = field(default_factory=list)


def order_of(obj: dict) -> int:
    return KIND_ORDER.get(obj["kind"], CUSTOM_ORDER)


_UNSAFE = re.compile(r"[^a-z0-9.-]+")


def _safe(text: str) -> str:
    return _UNSAFE.sub("_", text.lower()).strip("_") or "_"


def file_name(obj: dict) -> str:
    """``NN-<kind>-<namespace>-<name>.yaml`` (no namespace part for cluster-scoped objects).

    Objects are applied in the order of these names, so the apply order and the rendered
    directory listing are the same thing.
    """
    meta = obj.get("metadata") or {}
    parts = [f"{order_of(obj):02d}", _safe(obj["kind"])]
    if meta.get("namespace"):
        parts.append(_safe(meta["namespace"]))
    parts.append(_safe(meta.get("name") or ""))
    return "-".join(parts) + ".yaml"


def finish(objects: list[dict], plan: dict) -> list[dict]:
    """What every builder does last: the project label, the registry mirror, apply order."""
    mirror = (plan.get("cluster") or {}).get("registry_mirror")
    for obj in objects:
        add_managed_label(obj)
        mirror_images(obj, mirror)
    return sorted(objects, key=file_name)


def load(files: dict[str, str], path: str) -> list[dict]:
    """The objects of one pinned file; a clear error when the caller did not fetch it."""
    local = files.get(path)
    if not local:
        raise ManifestError(f"upstream file {path} was not provided; fetch it with onprem.k8snet.upstream_fetch "
                            "(is it in the role's *_manifests pin list?)")
    return load_file(local)


def is_custom(obj: dict) -> bool:
    """A custom resource (last apply phase): api mode applies these once the controllers run."""
    return order_of(obj) == CUSTOM_ORDER


def set_ip_families(service: dict, plan: dict) -> None:
    """Make a Service fit the cluster's address families (upstream files assume IPv4 only)."""
    families = plan["cluster"].get("service_cidr") or {}
    spec = service.setdefault("spec", {})
    if families.get("ipv4") and not families.get("ipv6"):
        return
    spec.pop("ipFamilies", None)  # the API server fills them in its own (primary first) order
    spec["ipFamilyPolicy"] = "PreferDualStack" if families.get("ipv4") else "SingleStack"


def patch_ingress_service(service: dict, plan: dict) -> None:
    """The ingress controller's Service as the plan exposes it (both controllers' Services have http/https)."""
    ingress, spec = plan["ingress"], service["spec"]
    spec["externalTrafficPolicy"] = ingress.get("external_traffic_policy") or "Local"
    if ingress["exposure"] == "loadbalancer" and ingress.get("lb_ip"):
        service["metadata"].setdefault("annotations", {})[LB_IPS_ANNOTATION] = ingress["lb_ip"]
    if ingress["exposure"] == "nodeport":
        fixed = {"http": ingress.get("http_nodeport"), "https": ingress.get("https_nodeport")}
        for port in spec.get("ports") or []:
            if fixed.get(port.get("name")):
                port["nodePort"] = fixed[port["name"]]
    set_ip_families(service, plan)
