"""MetalLB v0.16.1 plus the generated pools, advertisements and peers, validated against the bundle's CRDs."""

from __future__ import annotations

import pytest
from ansible_collections.onprem.k8snet.plugins.module_utils import addons, kube
from ansible_collections.onprem.k8snet.plugins.module_utils.addons import metallb
from ansible_collections.onprem.k8snet.plugins.module_utils.plan import SUPPORTED_K8S_VERSIONS

from tests.unit.planfixtures import build_component, by_kind, make_plan, one, peer, pool, schema_errors

BGP = {"metallb": {"pools": [pool(), pool("bgp-pool", ["10.10.0.0/24", "fd00:99::/120"], mode="bgp")],
                   "bgp_peers": [peer(), peer("peer-1", "10.0.0.2", hold_time=90, keepalive_time="30s",
                                              password_secret="bgp-password", node_selectors={"rack": "a"})]}}
VARIANTS = {
    "l2": {},
    "bgp": BGP,
    "frr-k8s": {"metallb": {**BGP["metallb"], "bgp_implementation": "frr-k8s"}},
    "mirror": {"cluster": {"registry_mirror": "registry.example.com/mirror"}},
    "no-pools": {"metallb": {"pools": []}},
}


def built(**sections):
    return build_component("metallb", make_plan(**sections))


@pytest.mark.parametrize("version", SUPPORTED_K8S_VERSIONS)
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_output_validates_strictly(variant, version):
    assert schema_errors(built(**VARIANTS[variant]), version) == []


def test_every_object_carries_the_project_label():
    for obj in built(**BGP).objects:
        assert obj["metadata"]["labels"][kube.MANAGED_BY] == "k8snet", kube.describe(obj)


def test_disabled_metallb_renders_nothing():
    plan = make_plan(metallb={"enabled": False})
    assert addons.required_files("metallb", plan) == []
    assert addons.build("metallb", plan, {}).objects == []


def test_pool_and_l2_advertisement_with_the_chosen_interfaces():
    objects = built(metallb={"pools": [pool(interfaces={"node1": "eth1", "node2": "ens3", "node3": "eth1"},
                                            avoid_buggy_ips=True)]}).objects
    assert one(objects, "IPAddressPool")["spec"] == {"addresses": ["192.168.56.200-192.168.56.220"],
                                                    "autoAssign": True, "avoidBuggyIPs": True}
    advertisement = one(objects, "L2Advertisement", "lab-pool")
    assert advertisement["apiVersion"] == "metallb.io/v1beta1"
    assert advertisement["metadata"]["namespace"] == "metallb-system"
    assert advertisement["spec"] == {"ipAddressPools": ["lab-pool"], "interfaces": ["ens3", "eth1"]}
    assert by_kind(objects, "BGPAdvertisement") == [] and by_kind(objects, "BGPPeer") == []


def test_bgp_pool_gets_a_bgp_advertisement_and_peers_are_v1beta2():
    objects = built(**BGP).objects
    assert one(objects, "BGPAdvertisement", "bgp-pool")["spec"] == {"ipAddressPools": ["bgp-pool"]}
    assert [o["metadata"]["name"] for o in by_kind(objects, "L2Advertisement")] == ["lab-pool"]
    plain, full = one(objects, "BGPPeer", "peer-0"), one(objects, "BGPPeer", "peer-1")
    assert plain["apiVersion"] == full["apiVersion"] == "metallb.io/v1beta2"
    assert plain["spec"] == {"myASN": 64513, "peerASN": 64512, "peerAddress": "10.0.0.1", "peerPort": 179}
    assert full["spec"] == {"myASN": 64513, "peerASN": 64512, "peerAddress": "10.0.0.2", "peerPort": 179,
                            "holdTime": "90s", "keepaliveTime": "30s",
                            "passwordSecret": {"name": "bgp-password", "namespace": "metallb-system"},
                            "nodeSelectors": [{"matchLabels": {"rack": "a"}}]}


def test_generated_resources_come_after_the_controller_and_webhook():
    objects = built(**BGP).objects
    kinds = [o["kind"] for o in objects]
    last_builtin = max(i for i, k in enumerate(kinds) if k == "ValidatingWebhookConfiguration")
    first_custom = min(i for i, o in enumerate(objects) if addons.is_custom(o))
    assert kinds[0] == "Namespace" and last_builtin < first_custom
    assert {o["kind"] for o in objects[first_custom:]} == {"IPAddressPool", "L2Advertisement", "BGPAdvertisement",
                                                           "BGPPeer"}


def test_frr_k8s_uses_its_own_manifest():
    plan = make_plan(**VARIANTS["frr-k8s"])
    assert addons.required_files("metallb", plan) == ["config/manifests/metallb-frr-k8s.yaml"]
    assert one(built(**VARIANTS["frr-k8s"]).objects, "DaemonSet", "frr-k8s-daemon")


def test_images_are_mirrored():
    objects = built(**VARIANTS["mirror"]).objects
    images = {c["image"] for o in objects for c in kube.containers(o)}
    assert images == {"registry.example.com/mirror/metallb/controller:v0.16.1",
                      "registry.example.com/mirror/metallb/speaker:v0.16.1"}


def test_strict_arp_fragment():
    [artifact] = built().artifacts
    assert artifact.path == "patches/kube-proxy-strictarp.yaml" and artifact.kind == "fragment"
    assert artifact.content["kind"] == "KubeProxyConfiguration"
    assert artifact.content["ipvs"] == {"strictARP": True}
    assert "restart kube-proxy" in artifact.comment


def test_invalid_generated_pool_is_rejected_naming_object_and_path():
    bundle = built(metallb={"pools": [pool("bad", addresses=[12])]})
    assert schema_errors(bundle, "1.35") == [
        "IPAddressPool metallb-system/bad: spec.addresses[0]: 12 is not of type 'string'"]
    generated = metallb.pool_objects(pool("empty"))
    del generated[0]["spec"]["addresses"]
    problems = kube.validate_objects(generated, "1.35", kube.crds_of(bundle.objects))
    assert [str(p) for p in problems] == [
        "IPAddressPool metallb-system/empty: spec: 'addresses' is a required property"]
