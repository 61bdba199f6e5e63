"""Gateway API v1.5.1 standard CRDs (with their ValidatingAdmissionPolicy), then NGINX Gateway Fabric v2.6.7.

NGF provisions one nginx Deployment and Service per Gateway from NginxProxy
``nginx-gateway-proxy-config``; its ``spec.kubernetes.service`` follows the ingress exposure:
``loadbalancer`` -> LoadBalancer, ``nodeport`` -> NodePort, and ``hostnetwork`` -> NodePort too
(NGF has no host-network data plane, and ports 80/443 of the nodes belong to the ingress
controller then). ``externalTrafficPolicy`` follows the plan. The ingress VIP and fixed NodePorts
are not reused: they belong to the ingress controller's Service. With a registry mirror the data
plane image (repository inside NginxProxy) is rewritten as well as the controller's.
"""

from __future__ import annotations

from ..kube import find, mirror_repository
from .common import finish, load

GATEWAY_API_FILES = [f"config/crd/standard/gateway.networking.k8s.io_{name}.yaml" for name in (
    "gatewayclasses", "gateways", "grpcroutes", "httproutes", "referencegrants", "backendtlspolicies",
    "listenersets", "tlsroutes", "vap_safeupgrades")]  # the order of config/crd/kustomization.yaml
NGF_FILES = ["deploy/crds.yaml", "deploy/default/deploy.yaml"]
NAMESPACE = "nginx-gateway"
PROXY_CONFIG = "nginx-gateway-proxy-config"
SERVICE_TYPE = {"loadbalancer": "LoadBalancer", "nodeport": "NodePort", "hostnetwork": "NodePort"}


def required_files(plan: dict) -> list[str]:
    return GATEWAY_API_FILES + NGF_FILES if (plan.get("gateway_api") or {}).get("enabled") else []


def _patch_proxy(proxy: dict, plan: dict) -> None:
    ingress = plan.get("ingress") or {}
    kubernetes = proxy.setdefault("spec", {}).setdefault("kubernetes", {})
    service = kubernetes.setdefault("service", {})
    service["type"] = SERVICE_TYPE.get(ingress.get("exposure"), "LoadBalancer")
    service["externalTrafficPolicy"] = ingress.get("external_traffic_policy") or "Local"
    mirror = plan["cluster"].get("registry_mirror")
    image = ((kubernetes.get("deployment") or {}).get("container") or {}).get("image")
    if mirror and image and image.get("repository"):
        image["repository"] = mirror_repository(image["repository"], mirror)


def build(plan: dict, files: dict[str, str]) -> list[dict]:
    if not (plan.get("gateway_api") or {}).get("enabled"):
        return []
    objects = [obj for path in required_files(plan) for obj in load(files, path)]
    _patch_proxy(find(objects, "NginxProxy", PROXY_CONFIG, NAMESPACE), plan)
    return finish(objects, plan)
