"""Both ingress controllers patched for the three exposures (F5 NGINX Ingress Controller, community ingress-nginx)."""

from __future__ import annotations

import pytest
from ansible_collections.onprem.k8snet.plugins.module_utils import addons, kube
from ansible_collections.onprem.k8snet.plugins.module_utils.plan import SUPPORTED_K8S_VERSIONS

from tests.unit.planfixtures import build_component, by_kind, make_plan, one, schema_errors

STATUS = "192.168.56.11,192.168.56.12,192.168.56.13"
LB = {"exposure": "loadbalancer", "lb_ip": "192.168.56.200", "external_traffic_policy": "Cluster"}
NODEPORT = {"exposure": "nodeport", "http_nodeport": 30080, "https_nodeport": 30443, "status_address": STATUS}
HOSTNET = {"exposure": "hostnetwork", "kind": "daemonset", "status_address": STATUS}
DUAL = {"service_cidr": {"ipv4": "10.96.0.0/12", "ipv6": "fd00:10:96::/112"}}
V6_ONLY = {"service_cidr": {"ipv4": None, "ipv6": "fd00:10:96::/112"}}
VARIANTS = {
    "lb-default": ({}, {}),
    "lb-fixed-ip": (LB, {}),
    "nodeport": (NODEPORT, {}),
    "hostnetwork": (HOSTNET, {}),
    "daemonset": ({"kind": "daemonset"}, {}),
    "no-crds-not-default": ({"custom_resources": False, "default_class": False}, {}),
    "mirror": ({}, {"registry_mirror": "registry.example.com/mirror"}),
    "dual-stack": (NODEPORT, DUAL),
    "ipv6-only": ({}, V6_ONLY),
}
CONTROLLERS = ("nginx", "ingress-nginx")


def built(controller="nginx", cluster=None, **ingress):
    return build_component("ingress", make_plan(ingress={"controller": controller, **ingress}, cluster=cluster or {}))


def f5_container(objects, kind="Deployment"):
    return kube.container(one(objects, kind, "nginx-ingress"), "nginx-ingress")


def community_container(objects, kind="Deployment"):
    return kube.container(one(objects, kind, "ingress-nginx-controller"), "controller")


@pytest.mark.parametrize("version", SUPPORTED_K8S_VERSIONS)
@pytest.mark.parametrize("controller", CONTROLLERS)
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_output_validates_strictly(variant, controller, version):
    ingress, cluster = VARIANTS[variant]
    assert schema_errors(built(controller, cluster, **ingress), version) == []


@pytest.mark.parametrize("controller", CONTROLLERS)
def test_every_object_carries_the_project_label(controller):
    for variant in ("lb-fixed-ip", "hostnetwork"):
        ingress, cluster = VARIANTS[variant]
        for obj in built(controller, cluster, **ingress).objects:
            assert obj["metadata"]["labels"][kube.MANAGED_BY] == "k8snet", kube.describe(obj)


@pytest.mark.parametrize("controller", CONTROLLERS)
def test_disabled_ingress_renders_nothing(controller):
    plan = make_plan(ingress={"enabled": False, "controller": controller})
    assert addons.required_files("ingress", plan) == [] and addons.build("ingress", plan, {}).objects == []


# ------------------------------------------------------------------ F5 NGINX Ingress Controller


def test_f5_documented_files_and_order():
    plan = make_plan()
    assert addons.required_files("ingress", plan) == [
        "deployments/common/ns-and-sa.yaml", "deployments/rbac/rbac.yaml", "deployments/common/nginx-config.yaml",
        "deployments/common/ingress-class.yaml", "deploy/crds.yaml", "deployments/deployment/nginx-ingress.yaml",
        "deployments/service/loadbalancer.yaml"]
    kinds = [o["kind"] for o in built().objects]
    assert kinds.index("Namespace") < kinds.index("CustomResourceDefinition") < kinds.index("ClusterRole") \
        < kinds.index("IngressClass") < kinds.index("Deployment")


def test_f5_default_class_annotation():
    annotation = "ingressclass.kubernetes.io/is-default-class"
    assert one(built().objects, "IngressClass")["metadata"]["annotations"] == {annotation: "true"}
    assert "annotations" not in one(built(default_class=False).objects, "IngressClass")["metadata"]
    assert one(built().objects, "IngressClass")["spec"] == {"controller": "nginx.org/ingress-controller"}


def test_f5_loadbalancer_service():
    service = one(built(**LB).objects, "Service")
    assert service["spec"]["type"] == "LoadBalancer"
    assert service["spec"]["externalTrafficPolicy"] == "Cluster"
    assert service["metadata"]["annotations"] == {"metallb.io/loadBalancerIPs": "192.168.56.200"}
    assert "annotations" not in one(built().objects, "Service")["metadata"]
    assert "-external-service=nginx-ingress" in f5_container(built(**LB).objects)["args"]


def test_f5_nodeport_fixed_ports_and_status_address():
    objects = built(**NODEPORT).objects
    service = one(objects, "Service")
    assert service["spec"]["type"] == "NodePort"
    assert {p["name"]: p["nodePort"] for p in service["spec"]["ports"]} == {"http": 30080, "https": 30443}
    assert one(objects, "ConfigMap", "nginx-config")["data"] == {"external-status-address": STATUS}
    unfixed = one(built(exposure="nodeport").objects, "Service")
    assert all("nodePort" not in p for p in unfixed["spec"]["ports"])


def test_f5_hostnetwork_daemonset_moves_the_readiness_port_and_has_no_service():
    objects = built(**HOSTNET).objects
    assert by_kind(objects, "Service") == [] and by_kind(objects, "Deployment") == []
    pod = one(objects, "DaemonSet")["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True and pod["dnsPolicy"] == "ClusterFirstWithHostNet"
    main = f5_container(objects, "DaemonSet")
    assert "-ready-status-port=8082" in main["args"]
    assert not any(a.startswith("-external-service") for a in main["args"])
    ports = {p["name"]: p["containerPort"] for p in main["ports"]}
    assert ports["readiness-port"] == 8082
    assert main["readinessProbe"]["httpGet"]["port"] == "readiness-port"
    assert 8081 not in ports.values()
    assert one(objects, "ConfigMap", "nginx-config")["data"]["external-status-address"] == STATUS


def test_f5_without_custom_resources():
    objects = built(custom_resources=False).objects
    assert by_kind(objects, "CustomResourceDefinition") == []
    assert "-enable-custom-resources=false" in f5_container(objects)["args"]
    assert "deploy/crds.yaml" not in addons.required_files("ingress", make_plan(ingress={"custom_resources": False}))


def test_f5_image_mirrored():
    ingress, cluster = VARIANTS["mirror"]
    assert f5_container(built(cluster=cluster, **ingress).objects)["image"] == \
        "registry.example.com/mirror/nginx/nginx-ingress:5.5.4"


def test_f5_dual_stack_service_prefers_dual_stack():
    ingress, cluster = VARIANTS["dual-stack"]
    assert one(built(cluster=cluster, **ingress).objects, "Service")["spec"]["ipFamilyPolicy"] == "PreferDualStack"


# ------------------------------------------------------------------ community ingress-nginx


def test_community_provider_file_follows_exposure():
    for exposure, provider in (("loadbalancer", "cloud"), ("nodeport", "baremetal"), ("hostnetwork", "baremetal")):
        plan = make_plan(ingress={"controller": "ingress-nginx", "exposure": exposure})
        assert addons.required_files("ingress", plan) == [f"deploy/static/provider/{provider}/deploy.yaml"]


def test_community_loadbalancer():
    objects = built("ingress-nginx", **LB).objects
    service = one(objects, "Service", "ingress-nginx-controller")
    assert service["spec"]["type"] == "LoadBalancer" and service["spec"]["externalTrafficPolicy"] == "Cluster"
    assert service["metadata"]["annotations"] == {"metallb.io/loadBalancerIPs": "192.168.56.200"}
    assert "--publish-service=$(POD_NAMESPACE)/ingress-nginx-controller" in community_container(objects)["args"]
    assert one(objects, "IngressClass")["metadata"]["annotations"] == {
        "ingressclass.kubernetes.io/is-default-class": "true"}


def test_community_nodeport():
    objects = built("ingress-nginx", **NODEPORT).objects
    service = one(objects, "Service", "ingress-nginx-controller")
    assert service["spec"]["type"] == "NodePort"
    assert {p["name"]: p["nodePort"] for p in service["spec"]["ports"]} == {"http": 30080, "https": 30443}
    assert f"--publish-status-address={STATUS}" in community_container(objects)["args"]


def test_community_hostnetwork_is_a_daemonset_without_controller_service():
    objects = built("ingress-nginx", **HOSTNET).objects
    assert [o["metadata"]["name"] for o in by_kind(objects, "Service")] == ["ingress-nginx-controller-admission"]
    assert by_kind(objects, "Deployment") == []
    daemonset = one(objects, "DaemonSet")
    assert "strategy" not in daemonset["spec"] and "replicas" not in daemonset["spec"]
    assert daemonset["spec"]["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}
    pod = daemonset["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True and pod["dnsPolicy"] == "ClusterFirstWithHostNet"
    assert "--report-node-internal-ip-address" in community_container(objects, "DaemonSet")["args"]


def test_community_images_keep_digests_when_mirrored():
    ingress, cluster = VARIANTS["mirror"]
    images = sorted({c["image"] for o in built("ingress-nginx", cluster, **ingress).objects
                     for c in kube.containers(o)})
    assert [i.split("@")[0] for i in images] == [
        "registry.example.com/mirror/ingress-nginx/controller:v1.15.1",
        "registry.example.com/mirror/ingress-nginx/kube-webhook-certgen:v1.6.9"]
    assert all("@sha256:" in i for i in images)


def test_community_ipv6_only_service_drops_the_ipv4_family():
    ingress, cluster = VARIANTS["ipv6-only"]
    spec = one(built("ingress-nginx", cluster, **ingress).objects, "Service", "ingress-nginx-controller")["spec"]
    assert "ipFamilies" not in spec and spec["ipFamilyPolicy"] == "SingleStack"
