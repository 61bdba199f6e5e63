"""F5 NGINX Ingress Controller v5.5.4 from ``deployments/`` and ``deploy/crds.yaml`` (Plus/App Protect skipped).

Exposure (``plan.ingress.exposure``):

- ``loadbalancer``: Service from ``service/loadbalancer.yaml``, ``externalTrafficPolicy`` from the
  plan and ``metallb.io/loadBalancerIPs`` when a fixed VIP is planned;
- ``nodeport``: Service from ``service/nodeport.yaml`` with the planned fixed nodePorts, and
  ConfigMap key ``external-status-address`` so Ingress objects show the node addresses;
- ``hostnetwork``: the DaemonSet on the host network (``ClusterFirstWithHostNet``), the readiness
  port moved from 8081 (flanneld's healthz on every node) to 8082, no Service at all (so no
  ``-external-service`` either) and ``external-status-address`` set.
"""

from __future__ import annotations

from ..kube import ManifestError, container, find
from .common import finish, load, patch_ingress_service

PREFIX = "deployments/"
NAMESPACE = "nginx-ingress"
NAME = "nginx-ingress"
CRDS = "deploy/crds.yaml"
READY_PORT_HOSTNETWORK = 8082
DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"


def _workload_file(ingress: dict) -> str:
    kind = "daemonset" if ingress["exposure"] == "hostnetwork" else ingress.get("kind", "deployment")
    return PREFIX + ("daemon-set" if kind == "daemonset" else "deployment") + "/nginx-ingress.yaml"


def _service_file(ingress: dict) -> str | None:
    return {"loadbalancer": PREFIX + "service/loadbalancer.yaml",
            "nodeport": PREFIX + "service/nodeport.yaml"}.get(ingress["exposure"])


def required_files(plan: dict) -> list[str]:
    ingress = plan["ingress"]
    if not ingress.get("enabled"):
        return []
    files = [PREFIX + "common/ns-and-sa.yaml", PREFIX + "rbac/rbac.yaml", PREFIX + "common/nginx-config.yaml",
             PREFIX + "common/ingress-class.yaml"]
    if ingress.get("custom_resources", True):
        files.append(CRDS)
    files.append(_workload_file(ingress))
    service = _service_file(ingress)
    return files + ([service] if service else [])


def _patch_ingress_class(ingress_class: dict, default: bool) -> None:
    meta = ingress_class["metadata"]
    annotations = dict(meta.get("annotations") or {})
    if default:
        annotations[DEFAULT_CLASS_ANNOTATION] = "true"
    else:
        annotations.pop(DEFAULT_CLASS_ANNOTATION, None)
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)


def _patch_workload(workload: dict, ingress: dict) -> None:
    main = container(workload, NAME)
    args = list(main.get("args") or [])
    if not ingress.get("custom_resources", True):
        args.append("-enable-custom-resources=false")
    if ingress["exposure"] == "hostnetwork":
        args = [a for a in args if not a.startswith("-external-service=")]
        args.append(f"-ready-status-port={READY_PORT_HOSTNETWORK}")
        ports = [p for p in main.get("ports") or [] if p.get("name") == "readiness-port"]
        if not ports:
            raise ManifestError(f"{workload['kind']} {NAMESPACE}/{NAME}: no container port readiness-port")
        ports[0]["containerPort"] = READY_PORT_HOSTNETWORK  # the probe names the port, so it follows
        pod = workload["spec"]["template"]["spec"]
        pod["hostNetwork"] = True
        pod["dnsPolicy"] = "ClusterFirstWithHostNet"
    main["args"] = args


def build(plan: dict, files: dict[str, str]) -> list[dict]:
    ingress = plan["ingress"]
    if not ingress.get("enabled"):
        return []
    objects = [obj for path in required_files(plan) for obj in load(files, path)]
    _patch_ingress_class(find(objects, "IngressClass", "nginx"), bool(ingress.get("default_class")))
    kind = "DaemonSet" if "daemon-set" in _workload_file(ingress) else "Deployment"
    _patch_workload(find(objects, kind, NAME, NAMESPACE), ingress)
    if ingress["exposure"] in ("nodeport", "hostnetwork") and ingress.get("status_address"):
        configmap = find(objects, "ConfigMap", "nginx-config", NAMESPACE)
        configmap["data"] = {**(configmap.get("data") or {}),
                             "external-status-address": ingress["status_address"]}
    if _service_file(ingress):
        patch_ingress_service(find(objects, "Service", NAME, NAMESPACE), plan)
    return finish(objects, plan)
