"""Kubernetes objects as plain dicts: loading, identity, the project label, image mirroring, schemas.

Schema validation has two sources:

- built-in kinds (and CustomResourceDefinitions themselves) are checked against the strict
  OpenAPI-derived JSON schemas that ``kubernetes-validate`` ships for each Kubernetes minor
  version (unknown fields are errors, like ``kubectl apply --validate=strict``);
- custom resources are checked against the ``openAPIV3Schema`` of the served version of their
  CustomResourceDefinition, taken from the same upstream bundle. The Kubernetes extensions are
  mapped to JSON Schema (``nullable``, ``x-kubernetes-int-or-string``,
  ``x-kubernetes-preserve-unknown-fields``; fields a structural schema does not declare are
  errors, as with strict field validation); the other ``x-kubernetes-*`` keys only matter to the
  API server and are ignored. CEL rules (``x-kubernetes-validations``) are NOT evaluated.
  ``metadata`` is checked against the Kubernetes ObjectMeta schema.

Validators are cached per Kubernetes version, so checking a hundred objects costs milliseconds.
"""

from __future__ import annotations

import functools
import glob
import json
import os
import re
from dataclasses import dataclass

import yaml

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "k8snet"
# Which add-on an object belongs to: api-mode pruning deletes only this component's own objects.
# A key of our own: upstream objects already use app.kubernetes.io/component for their parts.
COMPONENT_LABEL = "onprem.k8snet/component"
# MetalLB's annotation for the address(es) a LoadBalancer Service asks for (not the deprecated spec.loadBalancerIP).
LB_IPS_ANNOTATION = "metallb.io/loadBalancerIPs"

# Names the API server accepts: most object names and namespaces are DNS-1123 labels, Service
# names DNS-1035 labels, label keys [DNS-1123 subdomain/]name, container port names IANA service names.
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
IANA_SVC_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$")

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# ------------------------------------------------------------------ loading and identity


class ManifestError(Exception):
    """An upstream manifest does not look the way the patch code expects."""


def load_documents(text: str, source: str = "<string>") -> list[dict]:
    """All non-empty documents of a multi-document YAML text, each a Kubernetes object."""
    try:
        docs = list(yaml.load_all(text, Loader=_Loader))
    except yaml.YAMLError as exc:
        raise ManifestError(f"{source}: not valid YAML: {exc}") from exc
    objects = []
    for index, doc in enumerate(docs):
        if doc is None:
            continue
        if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
            raise ManifestError(f"{source}: document {index} is not a Kubernetes object")
        objects.append(doc)
    return objects


def load_file(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return load_documents(handle.read(), path)


def load_directory(directory: str) -> list[dict]:
    """The objects of every ``*.yaml`` file below ``directory`` (a render directory), in path order;
    ManifestError naming the directory when it is not there, or the file that holds no Kubernetes object."""
    if not os.path.isdir(directory):
        raise ManifestError(f"{directory} is not a directory (nothing rendered yet?)")
    return [obj for path in sorted(glob.glob(os.path.join(directory, "**", "*.yaml"), recursive=True))
            for obj in load_file(path) if isinstance(obj, dict) and obj.get("kind")]


def group_version(api_version: str) -> tuple[str, str]:
    """``apps/v1`` -> ("apps", "v1"); ``v1`` -> ("", "v1")."""
    group, _, version = api_version.rpartition("/")
    return group, version


def identity(obj: dict) -> tuple[str, str, str, str]:
    """(API group, kind, namespace, name): what names one object in a cluster, whatever its version."""
    meta = obj.get("metadata") or {}
    return group_version(obj["apiVersion"])[0], obj["kind"], meta.get("namespace") or "", meta.get("name") or ""


def reference(obj: dict) -> dict:
    """``{apiVersion, kind, namespace, name}``: how an object is named in a list or a record (no body)."""
    _, kind, namespace, name = identity(obj)
    return {"apiVersion": obj["apiVersion"], "kind": kind, "namespace": namespace, "name": name}


def as_object(ref: dict) -> dict:
    """The object a reference names, with nothing but its identity (for identity() and describe())."""
    return {"apiVersion": ref["apiVersion"], "kind": ref["kind"],
            "metadata": {"namespace": ref.get("namespace") or "", "name": ref["name"]}}


def describe(obj: dict) -> str:
    """``Kind namespace/name`` or ``Kind name`` for messages."""
    _, kind, namespace, name = identity(obj)
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def find(objects: list[dict], kind: str, name: str, namespace: str | None = None) -> dict:
    """The one object of that kind and name; ManifestError when the upstream file lacks it."""
    for obj in objects:
        meta = obj.get("metadata") or {}
        if obj["kind"] == kind and meta.get("name") == name and (namespace is None
                                                                  or meta.get("namespace") == namespace):
            return obj
    where = f"{namespace}/{name}" if namespace else name
    raise ManifestError(f"the upstream manifest has no {kind} {where}; is the pinned version the one "
                        "this project was written for?")


def add_managed_label(obj: dict, component: str | None = None) -> dict:
    """Label the object itself (metadata.labels only: selectors and pod templates stay as they are)."""
    meta = obj.setdefault("metadata", {})
    labels = meta.get("labels") or {}
    labels[MANAGED_BY] = MANAGED_BY_VALUE
    if component:
        labels[COMPONENT_LABEL] = component
    meta["labels"] = labels
    return obj


def pod_spec(obj: dict) -> dict | None:
    """The pod spec inside a workload object (or the Pod's own spec), else None."""
    kind, spec = obj.get("kind"), obj.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    template = spec.get("template")
    return (template or {}).get("spec") if isinstance(template, dict) else None


def containers(obj: dict) -> list[dict]:
    """Init and regular containers of a workload, in that order."""
    spec = pod_spec(obj) or {}
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]


def container(obj: dict, name: str) -> dict:
    for item in containers(obj):
        if item.get("name") == name:
            return item
    raise ManifestError(f"{describe(obj)} has no container {name!r}")


# ------------------------------------------------------------------ images


def _split_registry(reference: str) -> tuple[str, str]:
    """(registry, repository path[:tag][@digest]) with Docker's rules for short names."""
    first, sep, rest = reference.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    # docker.io short names: "nginx/nginx-ingress:5.5.4", or "busybox" (= library/busybox)
    return "docker.io", reference if sep else f"library/{reference}"


def mirror_image(reference: str, mirror: str | None) -> str:
    """Replace the registry of an image reference with ``mirror``; tags and digests are kept.

    ``ghcr.io/flannel-io/flannel:v0.28.9`` -> ``<mirror>/flannel-io/flannel:v0.28.9``;
    ``nginx/nginx-ingress:5.5.4`` -> ``<mirror>/nginx/nginx-ingress:5.5.4``.
    """
    if not mirror or not reference:
        return reference
    mirror = mirror.rstrip("/")
    if reference.startswith(mirror + "/"):
        return reference
    return f"{mirror}/{_split_registry(reference)[1]}"


_IMAGE_ENV = re.compile(r"(^|_)IMAGE(_NAME)?$")
_LOOKS_LIKE_IMAGE = re.compile(r"^[a-z0-9][a-z0-9._/-]*(:[\w.-]+)?(@sha256:[0-9a-f]{64})?$")


def mirror_images(obj: dict, mirror: str | None) -> dict:
    """Rewrite every image of a workload: containers, init containers and env values naming an image.

    An env variable is taken to hold an image when its name is ``IMAGE``, ``*_IMAGE`` or
    ``*IMAGE_NAME`` (NGINX Gateway Fabric's ``IMAGE_NAME``) and its value looks like a reference.
    """
    if not mirror:
        return obj
    for item in containers(obj):
        if item.get("image"):
            item["image"] = mirror_image(item["image"], mirror)
        for env in item.get("env") or []:
            value = env.get("value")
            if isinstance(value, str) and _IMAGE_ENV.search(env.get("name", "")) and _LOOKS_LIKE_IMAGE.match(value):
                env["value"] = mirror_image(value, mirror)
    return obj


def mirror_repository(repository: str, mirror: str | None) -> str:
    """A bare repository (no tag), as NginxProxy names its data-plane image."""
    return mirror_image(repository, mirror)


# ------------------------------------------------------------------ schemas


class SchemaUnavailable(Exception):
    """kubernetes-validate is missing or has no schemas for the requested version."""


def _schema_root() -> str:
    try:
        import jsonschema  # noqa: F401  (checked here so that a missing one is reported clearly)
        import kubernetes_validate
        import referencing  # noqa: F401
    except ImportError as exc:
        raise SchemaUnavailable(f"the Python package {exc.name} is needed on the controller to validate "
                                "objects (pip install kubernetes-validate, which brings jsonschema and "
                                "referencing)") from exc
    return os.path.join(os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema")


def major_minor(version: str) -> str:
    match = re.match(r"^v?(\d+)\.(\d+)", str(version))
    if not match:
        raise SchemaUnavailable(f"kube_version {version!r} is not a Kubernetes version like 1.35")
    return f"{match.group(1)}.{match.group(2)}"


def available_versions() -> list[str]:
    """Kubernetes minor versions kubernetes-validate has strict schemas for, oldest first."""
    found = []
    for entry in os.listdir(_schema_root()):
        match = re.match(r"^v(\d+)\.(\d+)\.\d+-local-strict$", entry)
        if match:
            found.append((int(match.group(1)), int(match.group(2))))
    return [f"{a}.{b}" for a, b in sorted(found)]


_DEFS_URI = "https://kubernetes.io/api/_definitions.json"
OBJECT_META_REF = f"{_DEFS_URI}#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


class _KubeSchemas:
    """The strict schemas of one Kubernetes version, with one compiled validator per kind."""

    def __init__(self, version: str):
        from referencing import Registry, Resource

        directory = None
        root = _schema_root()
        for entry in os.listdir(root):
            if re.match(rf"^v{re.escape(version)}\.\d+-local-strict$", entry):
                directory = os.path.join(root, entry)
        if directory is None:
            raise SchemaUnavailable(f"kubernetes-validate has no schemas for Kubernetes {version} "
                                    f"(it has {', '.join(available_versions())})")
        self.version = version
        self.directory = directory
        with open(os.path.join(directory, "_definitions.json"), encoding="utf-8") as handle:
            definitions = json.load(handle)
        self.registry = Resource.from_contents(definitions) @ Registry()
        self._validators: dict[tuple[str, str], object | None] = {}

    def validator(self, api_version: str, kind: str):
        key = (api_version, kind)
        if key not in self._validators:
            self._validators[key] = self._load(api_version, kind)
        return self._validators[key]

    def _load(self, api_version: str, kind: str):
        import jsonschema
        from referencing import Resource

        group, version = group_version(api_version)
        # kubernetes-validate's file names: <kind>-<first group label>-<version>.json
        prefix = f"{group.split('.')[0]}-" if group else ""
        path = os.path.join(self.directory, f"{kind.lower()}-{prefix}{version}.json")
        if not os.path.exists(path):
            return None
        with open(path, encoding="utf-8") as handle:
            schema = json.load(handle)
        # The file name drops all but the first label of the group; make sure it is really this group.
        gvks = schema.get("x-kubernetes-group-version-kind") or []
        if gvks and not any(g.get("group", "") == group and g.get("kind") == kind for g in gvks):
            return None
        return jsonschema.Draft202012Validator(schema, registry=Resource.from_contents(schema) @ self.registry)


@functools.lru_cache(maxsize=8)
def kube_schemas(version: str) -> _KubeSchemas:
    return _KubeSchemas(major_minor(version))


def crd_schema_to_jsonschema(schema: dict, root: bool = True) -> dict:
    """Translate a CRD ``openAPIV3Schema`` (structural, OpenAPI v3 flavoured) to JSON Schema 2020-12."""
    out = {k: v for k, v in schema.items()
           if not k.startswith("x-kubernetes-") and k not in ("nullable", "default", "example")}
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if "properties" in out:
        out["properties"] = {k: crd_schema_to_jsonschema(v, False) for k, v in out["properties"].items()}
    if isinstance(out.get("items"), dict):
        out["items"] = crd_schema_to_jsonschema(out["items"], False)
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = crd_schema_to_jsonschema(out["additionalProperties"], False)
    for key in ("allOf", "anyOf", "oneOf"):
        if isinstance(out.get(key), list):
            out[key] = [crd_schema_to_jsonschema(s, False) if isinstance(s, dict) else s for s in out[key]]
    if isinstance(out.get("not"), dict):
        out["not"] = crd_schema_to_jsonschema(out["not"], False)
    if root:
        props = out.setdefault("properties", {})
        props["apiVersion"] = {"type": "string"}
        props["kind"] = {"type": "string"}
        props["metadata"] = {"$ref": OBJECT_META_REF}
    # A structural schema prunes (and strict field validation rejects) every undeclared field.
    if out.get("type") == "object" and "additionalProperties" not in out and not preserve:
        out["additionalProperties"] = False
    if schema.get("nullable"):
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    return out


@dataclass(frozen=True)
class SchemaProblem:
    object: str  # Kind namespace/name
    path: str  # JSON path inside the object
    message: str

    def __str__(self) -> str:
        return f"{self.object}: {self.path}: {self.message}"


def _json_path(parts) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(root)"


def _short(message: str, limit: int = 300) -> str:
    return message if len(message) <= limit else message[: limit - 3] + "..."


class Validator:
    """Validates objects for one Kubernetes version; CRDs of the bundle define the custom kinds."""

    def __init__(self, kube_version: str, crds: list[dict] = ()):
        self.kube = kube_schemas(kube_version)
        self._crds: dict[tuple[str, str], tuple[dict, dict]] = {}  # (group, kind) -> (crd, versions)
        for crd in crds:
            spec = crd.get("spec") or {}
            versions = {v["name"]: v for v in spec.get("versions") or []}
            self._crds[(spec.get("group", ""), (spec.get("names") or {}).get("kind", ""))] = (crd, versions)
        self._custom: dict[tuple[str, str], object] = {}

    def _custom_validator(self, obj: dict):
        import jsonschema

        group, version = group_version(obj["apiVersion"])
        known = self._crds.get((group, obj["kind"]))
        if known is None:
            return None, None
        crd, versions = known
        entry = versions.get(version)
        if entry is None or not entry.get("served", False):
            served = sorted(n for n, v in versions.items() if v.get("served"))
            return None, (f"{crd['metadata']['name']} does not serve {version} "
                          f"(served: {', '.join(served) or 'none'})")
        key = (f"{group}/{version}", obj["kind"])
        if key not in self._custom:
            raw = ((entry.get("schema") or {}).get("openAPIV3Schema")) or {"type": "object",
                                                                           "x-kubernetes-preserve-unknown-fields": True}
            schema = crd_schema_to_jsonschema(raw)
            self._custom[key] = jsonschema.Draft202012Validator(schema, registry=self.kube.registry)
        return self._custom[key], None

    def problems(self, obj: dict) -> list[SchemaProblem]:
        who = describe(obj)
        validator, why = self._custom_validator(obj)
        if validator is None and why is None:
            validator = self.kube.validator(obj["apiVersion"], obj["kind"])
        if validator is None:
            why = why or (f"apiVersion {obj['apiVersion']} kind {obj['kind']} is neither in the Kubernetes "
                          f"{self.kube.version} API nor defined by a CustomResourceDefinition of this bundle")
            return [SchemaProblem(who, "(root)", why)]
        errors = sorted(validator.iter_errors(obj), key=lambda e: [str(p) for p in e.absolute_path])
        return [SchemaProblem(who, _json_path(e.absolute_path), _short(e.message)) for e in errors]

    def validate(self, objects: list[dict]) -> list[SchemaProblem]:
        found = []
        for obj in objects:
            found.extend(self.problems(obj))
        return found


def crds_of(objects: list[dict]) -> list[dict]:
    return [o for o in objects if o.get("kind") == "CustomResourceDefinition"
            and group_version(o.get("apiVersion", ""))[0] == "apiextensions.k8s.io"]


def validate_objects(objects: list[dict], kube_version: str, extra_crds: list[dict] = ()) -> list[SchemaProblem]:
    """Every schema problem of ``objects`` (custom kinds from the CRDs among them plus ``extra_crds``)."""
    return Validator(kube_version, [*crds_of(objects), *extra_crds]).validate(objects)


# ------------------------------------------------------------------ Nodes


def node_addresses(node: dict) -> list[str]:
    """A live Node's InternalIP addresses (the node IPs kubelet registered)."""
    return [a["address"] for a in (node.get("status") or {}).get("addresses") or [] if a.get("type") == "InternalIP"]


def node_names(plan_nodes: dict, live_nodes: list[dict]) -> tuple[dict[str, str], list[str]]:
    """Inventory host -> Node name, matched by address: inventory names need not be Node names.

    A host matches the Node whose InternalIP is its inventory address or its chosen NIC's address.
    Returns (the matches, the problems: a host without a Node, or two hosts on one Node).
    """
    by_ip = {ip: n["metadata"]["name"] for n in live_nodes for ip in node_addresses(n)}
    found, problems = {}, []
    for host, node in plan_nodes.items():
        ips = [ip for ip in (node.get("address"), (node.get("iface") or {}).get("ipv4"),
                             (node.get("iface") or {}).get("ipv6")) if ip]
        name = next((by_ip[ip] for ip in ips if ip in by_ip), None)
        if name is None:
            known = ", ".join(f"{n['metadata']['name']} ({'/'.join(node_addresses(n)) or 'no InternalIP'})"
                              for n in live_nodes) or "none"
            problems.append(f"{host}: no Node of the cluster has the InternalIP {' or '.join(ips)} "
                            f"(the cluster's Nodes: {known}); is this the inventory of that cluster, and is "
                            f"kubelet's --node-ip the host's address?")
            continue
        found[host] = name
    for name in sorted(set(found.values())):
        hosts = sorted(h for h, n in found.items() if n == name)
        if len(hosts) > 1:
            problems.append(f"{', '.join(hosts)}: all match the Node {name}; each host must be a Node of its own")
    return found, problems
