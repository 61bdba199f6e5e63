"""Flannel v0.28.9 patched from the plan: net-conf.json, --iface, node annotations, images."""

from __future__ import annotations

import json

import pytest
from ansible_collections.onprem.k8snet.plugins.module_utils import kube
from ansible_collections.onprem.k8snet.plugins.module_utils.addons import flannel
from ansible_collections.onprem.k8snet.plugins.module_utils.plan import SUPPORTED_K8S_VERSIONS

from tests.unit.planfixtures import build_component, make_plan, node, one, schema_errors

DUAL = {"cluster": {"pod_cidr": {"ipv4": "10.244.0.0/16", "ipv6": "fd00:10:244::/56"},
                    "service_cidr": {"ipv4": "10.96.0.0/12", "ipv6": "fd00:10:96::/112"}},
        "nodes": {f"node{i}": node(i, ipv6=f"fd00:56::{10 + i}") for i in (1, 2, 3)}}
V6_ONLY = {"cluster": {"pod_cidr": {"ipv4": None, "ipv6": "fd00:10:244::/56"},
                       "service_cidr": {"ipv4": None, "ipv6": "fd00:10:96::/112"}}}
VARIANTS = {
    "vxlan": {},
    "vxlan-mtu-annotated": {"flannel": {"mtu": 9000, "iface_arg": None, "annotate_nodes": True}},
    "host-gw": {"flannel": {"backend": "host-gw"}},
    "wireguard-dual": {"flannel": {"backend": "wireguard", "annotate_nodes": True}, **DUAL},
    "ipv6-only": V6_ONLY,
    "mirror": {"cluster": {"registry_mirror": "registry.example.com/mirror"}},
}


def built(**sections):
    return build_component("flannel", make_plan(**sections))


def net_conf(bundle) -> dict:
    return json.loads(one(bundle.objects, "ConfigMap")["data"]["net-conf.json"])


def flanneld(bundle) -> dict:
    return kube.container(one(bundle.objects, "DaemonSet"), "kube-flannel")


@pytest.mark.parametrize("version", SUPPORTED_K8S_VERSIONS)
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_output_validates_strictly(variant, version):
    assert schema_errors(built(**VARIANTS[variant]), version) == []


def test_every_object_carries_the_project_label():
    for obj in built(**VARIANTS["vxlan-mtu-annotated"]).objects:
        assert obj["metadata"]["labels"][kube.MANAGED_BY] == "k8snet", kube.describe(obj)


def test_default_net_conf_writes_network_and_vxlan_parameters_but_no_mtu():
    conf = net_conf(built())
    assert conf == {"Network": "10.244.0.0/16", "EnableNFTables": False,
                    "Backend": {"Type": "vxlan", "VNI": 1, "Port": 8472}}
    assert list(conf) == ["Network", "EnableNFTables", "Backend"]  # upstream key order kept


def test_enable_nftables_follows_the_plan():
    conf = net_conf(built(flannel={"nftables": True}))
    assert conf["EnableNFTables"] is True
    assert list(conf) == ["Network", "EnableNFTables", "Backend"]


def test_mtu_is_the_underlay_mtu_and_only_written_when_set():
    assert net_conf(built(flannel={"mtu": 9000}))["Backend"]["MTU"] == 9000
    assert "MTU" not in net_conf(built(flannel={"backend": "host-gw", "mtu": 9000}))["Backend"]


def test_host_gw_backend_is_type_only():
    assert net_conf(built(flannel={"backend": "host-gw"}))["Backend"] == {"Type": "host-gw"}


def test_wireguard_dual_stack():
    conf = net_conf(built(flannel={"backend": "wireguard"}, **DUAL))
    assert conf["EnableIPv6"] is True and conf["IPv6Network"] == "fd00:10:244::/56"
    assert conf["Network"] == "10.244.0.0/16"
    assert conf["Backend"] == {"Type": "wireguard", "ListenPort": 51820, "ListenPortV6": 51821}


def test_ipv6_only_disables_ipv4():
    conf = net_conf(built(**V6_ONLY))
    assert conf["EnableIPv4"] is False and "Network" not in conf
    assert conf["EnableIPv6"] is True and conf["IPv6Network"] == "fd00:10:244::/56"


def test_keys_are_replaced_whatever_their_case():
    conf = flannel.net_conf(make_plan(), {"network": "1.0.0.0/8", "backend": {"type": "udp"}, "Extra": 1,
                                          "enableNFTables": True})
    assert conf == {"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan", "VNI": 1, "Port": 8472}, "Extra": 1,
                    "EnableNFTables": False}


def test_iface_arg_present_iff_planned_and_healthz_kept():
    args = flanneld(built())["args"]
    assert args == ["--ip-masq", "--kube-subnet-mgr", "--healthz-port=8081", "--iface=eth1"]
    args = flanneld(built(flannel={"iface_arg": None, "annotate_nodes": True}))["args"]
    assert not any(a.startswith("--iface") for a in args) and "--healthz-port=8081" in args


def test_node_annotations_only_with_annotate_nodes():
    assert built().artifacts == []
    bundle = built(flannel={"iface_arg": None, "annotate_nodes": True})
    assert [a.path for a in bundle.artifacts] == [f"node-annotations/node{i}.yaml" for i in (1, 2, 3)]
    first = bundle.artifacts[0]
    assert first.kind == "patch" and first.validate
    assert first.content == {"apiVersion": "v1", "kind": "Node", "metadata": {
        "name": "node1", "annotations": {"flannel.alpha.coreos.com/node-public-ip": "192.168.56.11"}}}
    assert not any(o["kind"] == "Node" for o in bundle.objects)


def test_dual_stack_annotations_include_ipv6():
    bundle = built(flannel={"annotate_nodes": True}, **DUAL)
    assert bundle.artifacts[1].content["metadata"]["annotations"] == {
        "flannel.alpha.coreos.com/node-public-ip": "192.168.56.12",
        "flannel.alpha.coreos.com/node-public-ipv6": "fd00:56::12"}


def test_images_are_mirrored():
    daemonset = one(built(**VARIANTS["mirror"]).objects, "DaemonSet")
    images = [c["image"] for c in kube.containers(daemonset)]
    assert images == ["registry.example.com/mirror/flannel-io/flannel-cni-plugin:v1.9.1-flannel3",
                      "registry.example.com/mirror/flannel-io/flannel:v0.28.9",
                      "registry.example.com/mirror/flannel-io/flannel:v0.28.9"]


def test_changed_net_conf_rolls_the_daemonset_and_selector_is_untouched():
    def template(bundle):
        return one(bundle.objects, "DaemonSet")["spec"]["template"]["metadata"]["annotations"]

    before, after = built(), built(flannel={"mtu": 9000})
    assert template(before)[flannel.CONFIG_HASH_ANNOTATION] != template(after)[flannel.CONFIG_HASH_ANNOTATION]
    assert template(before) == template(built())
    assert one(before.objects, "DaemonSet")["spec"]["selector"] == {"matchLabels": {"app": "flannel"}}


def live_node(name: str, **annotations) -> dict:
    return {"metadata": {"name": name, "annotations": annotations}}


def test_annotation_changes_name_only_the_nodes_that_differ():
    plan = make_plan(flannel={"iface_arg": None, "annotate_nodes": True})
    names = {f"node{i}": f"k{i}" for i in (1, 2, 3)}
    key = flannel.ANNOTATION_V4
    live = [live_node("k1", **{key: "192.168.56.11"}),        # as planned: nothing owed
            live_node("k2", **{key: "172.16.0.12"}),          # another NIC before
            live_node("k3")]                                   # never annotated (day 0, or just joined)
    def change(host, node, address):
        patch = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node, "annotations": {key: address}}}
        return {"host": host, "node": node, "annotations": {key: address}, "patch": patch}
    assert flannel.annotation_changes(plan, names, live) == [change("node2", "k2", "192.168.56.12"),
                                                             change("node3", "k3", "192.168.56.13")]
    live[1:] = [live_node("k2", **{key: "192.168.56.12"}), live_node("k3", **{key: "192.168.56.13"})]
    assert flannel.annotation_changes(plan, names, live) == []
