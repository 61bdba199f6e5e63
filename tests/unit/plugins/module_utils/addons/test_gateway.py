"""Gateway API v1.5.1 standard CRDs and NGINX Gateway Fabric v2.6.7."""

from __future__ import annotations

import pytest
from ansible_collections.onprem.k8snet.plugins.module_utils import addons, kube
from ansible_collections.onprem.k8snet.plugins.module_utils.plan import SUPPORTED_K8S_VERSIONS

from tests.unit.planfixtures import build_component, by_kind, make_plan, one, schema_errors

MIRROR = "registry.example.com/mirror"


def built(cluster=None, **ingress):
    return build_component("gateway", make_plan(gateway_api={"enabled": True}, ingress=ingress, cluster=cluster or {}))


def proxy_spec(bundle) -> dict:
    return one(bundle.objects, "NginxProxy")["spec"]["kubernetes"]


@pytest.mark.parametrize("version", SUPPORTED_K8S_VERSIONS)
@pytest.mark.parametrize("exposure", ["loadbalancer", "nodeport", "hostnetwork"])
def test_output_validates_strictly(exposure, version):
    assert schema_errors(built({"registry_mirror": MIRROR}, exposure=exposure), version) == []


def test_every_object_carries_the_project_label():
    for obj in built().objects:
        assert obj["metadata"]["labels"][kube.MANAGED_BY] == "k8snet", kube.describe(obj)


def test_disabled_gateway_renders_nothing():
    plan = make_plan()
    assert addons.required_files("gateway", plan) == [] and addons.build("gateway", plan, {}).objects == []


def test_crds_policy_and_ngf_objects_in_apply_order():
    objects = built().objects
    crds = {o["metadata"]["name"] for o in by_kind(objects, "CustomResourceDefinition")}
    assert {"gateways.gateway.networking.k8s.io", "httproutes.gateway.networking.k8s.io",
            "nginxproxies.gateway.nginx.org"} <= crds and len(crds) == 8 + 11
    assert one(objects, "ValidatingAdmissionPolicy")["metadata"]["name"] == "safe-upgrades.gateway.networking.k8s.io"
    kinds = [o["kind"] for o in objects]
    assert kinds.index("CustomResourceDefinition") < kinds.index("Deployment") < kinds.index("GatewayClass")
    last_crd = max(i for i, k in enumerate(kinds) if k == "CustomResourceDefinition")
    assert last_crd < kinds.index("ValidatingAdmissionPolicy")


@pytest.mark.parametrize("exposure, service_type", [("loadbalancer", "LoadBalancer"), ("nodeport", "NodePort"),
                                                     ("hostnetwork", "NodePort")])
def test_nginx_proxy_service_follows_exposure(exposure, service_type):
    service = proxy_spec(built(exposure=exposure, external_traffic_policy="Cluster"))["service"]
    assert service == {"externalTrafficPolicy": "Cluster", "type": service_type}


def test_registry_mirror_rewrites_control_and_data_plane():
    bundle = built({"registry_mirror": MIRROR})
    image = proxy_spec(bundle)["deployment"]["container"]["image"]
    assert image["repository"] == f"{MIRROR}/nginx/nginx-gateway-fabric/nginx" and image["tag"] == "2.6.7"
    controller = kube.container(one(bundle.objects, "Deployment"), "nginx-gateway")
    assert controller["image"] == f"{MIRROR}/nginx/nginx-gateway-fabric:2.6.7"
    assert {e["name"]: e.get("value") for e in controller["env"]}["IMAGE_NAME"] == \
        f"{MIRROR}/nginx/nginx-gateway-fabric:2.6.7"
    assert kube.container(one(bundle.objects, "Job"), "cert-generator")["image"].startswith(MIRROR + "/")


def test_without_mirror_the_upstream_images_stay():
    image = proxy_spec(built())["deployment"]["container"]["image"]
    assert image["repository"] == "ghcr.io/nginx/nginx-gateway-fabric/nginx"
