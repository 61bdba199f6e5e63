"""Community ingress-nginx controller-v1.15.1 (retired March 2026), from ``deploy/static/provider/``.

``loadbalancer`` uses ``cloud/deploy.yaml`` (LoadBalancer Service, ``--publish-service``) with
``externalTrafficPolicy`` from the plan and ``metallb.io/loadBalancerIPs`` for a fixed VIP;
``nodeport`` uses ``baremetal/deploy.yaml`` with the planned fixed nodePorts and
``--publish-status-address``; ``hostnetwork`` (baremetal.md) turns the Deployment into a
DaemonSet on the host network with ``ClusterFirstWithHostNet``, deletes the controller Service
and reports each node's InternalIP (``--report-node-internal-ip-address``). ``ingress.kind:
daemonset`` alone also turns the Deployment into a DaemonSet.
"""

from __future__ import annotations

from ..kube import container, find
from .common import finish, load, patch_ingress_service

NAMESPACE = "ingress-nginx"
CONTROLLER = "ingress-nginx-controller"
PROVIDER = "deploy/static/provider/{}/deploy.yaml"
DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"


def required_files(plan: dict) -> list[str]:
    ingress = plan["ingress"]
    if not ingress.get("enabled"):
        return []
    return [PROVIDER.format("cloud" if ingress["exposure"] == "loadbalancer" else "baremetal")]


def to_daemonset(deployment: dict) -> dict:
    """The same pods as a DaemonSet (one per node); Deployment-only fields are dropped or mapped."""
    spec = dict(deployment["spec"])
    spec.pop("replicas", None)
    strategy = spec.pop("strategy", None) or {}
    if strategy.get("type") == "RollingUpdate":
        spec["updateStrategy"] = {"type": "RollingUpdate",
                                  "rollingUpdate": {"maxUnavailable": (strategy.get("rollingUpdate") or {})
                                                    .get("maxUnavailable", 1)}}
    return {**deployment, "kind": "DaemonSet", "spec": spec}


def build(plan: dict, files: dict[str, str]) -> list[dict]:
    ingress = plan["ingress"]
    if not ingress.get("enabled"):
        return []
    objects = load(files, required_files(plan)[0])
    ingress_class = find(objects, "IngressClass", "nginx")
    if ingress.get("default_class"):
        ingress_class["metadata"].setdefault("annotations", {})[DEFAULT_CLASS_ANNOTATION] = "true"
    deployment = find(objects, "Deployment", CONTROLLER, NAMESPACE)
    args = container(deployment, "controller")["args"]
    service = find(objects, "Service", CONTROLLER, NAMESPACE)
    hostnetwork = ingress["exposure"] == "hostnetwork"
    if hostnetwork:
        objects.remove(service)
        args.append("--report-node-internal-ip-address")
        pod = deployment["spec"]["template"]["spec"]
        pod["hostNetwork"] = True
        pod["dnsPolicy"] = "ClusterFirstWithHostNet"
    else:
        patch_ingress_service(service, plan)
        if ingress["exposure"] == "nodeport" and ingress.get("status_address"):
            args.append(f"--publish-status-address={ingress['status_address']}")
    if hostnetwork or ingress.get("kind") == "daemonset":
        objects[objects.index(deployment)] = to_daemonset(deployment)
    return finish(objects, plan)
