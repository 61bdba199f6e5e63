"""Objects as dicts: loading, identity, label, image mirroring, and the two kinds of schema validation."""

from __future__ import annotations

import pytest
from ansible_collections.onprem.k8snet.plugins.module_utils import kube
from ansible_collections.onprem.k8snet.plugins.module_utils.plan import SUPPORTED_K8S_VERSIONS

from tests.unit.planfixtures import PINNED, component_files

MIRROR = "registry.example.com/mirror"


def deployment(**container) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "web", "image": "nginx", **container}]}}}}


def all_upstream_objects() -> list[dict]:
    objects = []
    for component in PINNED:
        for path, local in sorted(component_files(component).items()):
            if path.endswith((".yaml", ".yml")) and "kustomization" not in path:
                objects += kube.load_file(local)
    return objects


# ------------------------------------------------------------------ loading, identity, label


def test_load_documents_drops_empty_documents_and_refuses_non_objects():
    text = "---\n# only a comment\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n\n"
    assert [o["metadata"]["name"] for o in kube.load_documents(text)] == ["a"]
    with pytest.raises(kube.ManifestError, match="document 0"):
        kube.load_documents("- just\n- a list\n", "x.yaml")


def test_identity_ignores_the_version_and_describe_names_the_object():
    obj = deployment()
    assert kube.identity(obj) == ("apps", "Deployment", "default", "web")
    assert kube.identity({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}) == \
        ("", "Namespace", "", "x")
    assert kube.describe(obj) == "Deployment default/web"


def test_managed_label_goes_to_metadata_only():
    obj = kube.add_managed_label(deployment())
    assert obj["metadata"]["labels"] == {"app": "web", kube.MANAGED_BY: "k8snet"}
    assert obj["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert obj["spec"]["template"]["metadata"]["labels"] == {"app": "web"}
    bare = kube.add_managed_label({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}})
    assert bare["metadata"]["labels"] == {kube.MANAGED_BY: "k8snet"}


# ------------------------------------------------------------------ images


@pytest.mark.parametrize("original, mirrored", [
    ("ghcr.io/flannel-io/flannel:v0.28.9", f"{MIRROR}/flannel-io/flannel:v0.28.9"),
    ("nginx/nginx-ingress:5.5.4", f"{MIRROR}/nginx/nginx-ingress:5.5.4"),
    ("busybox:1.36", f"{MIRROR}/library/busybox:1.36"),
    ("registry.k8s.io/ingress-nginx/controller:v1.15.1@sha256:" + "a" * 64,
     f"{MIRROR}/ingress-nginx/controller:v1.15.1@sha256:" + "a" * 64),
    ("localhost:5000/tools/x@sha256:" + "b" * 64, f"{MIRROR}/tools/x@sha256:" + "b" * 64),
    ("quay.io/metallb/speaker:v0.16.1", f"{MIRROR}/metallb/speaker:v0.16.1"),
    (f"{MIRROR}/already/there:1", f"{MIRROR}/already/there:1"),
])
def test_mirror_image(original, mirrored):
    assert kube.mirror_image(original, MIRROR) == mirrored
    assert kube.mirror_image(original, MIRROR + "/") == mirrored
    assert kube.mirror_image(original, None) == original


def test_mirror_images_covers_init_containers_and_image_env_only():
    obj = deployment(env=[{"name": "IMAGE_NAME", "value": "ghcr.io/nginx/nginx-gateway-fabric:2.6.7"},
                          {"name": "SIDECAR_IMAGE", "value": "quay.io/x/y:1"},
                          {"name": "GREETING", "value": "ghcr.io/not/an-image-var:1"},
                          {"name": "IMAGE_NAME_FROM", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}])
    obj["spec"]["template"]["spec"]["initContainers"] = [{"name": "init", "image": "ghcr.io/a/b:1"}]
    kube.mirror_images(obj, MIRROR)
    pod = obj["spec"]["template"]["spec"]
    assert pod["initContainers"][0]["image"] == f"{MIRROR}/a/b:1"
    assert pod["containers"][0]["image"] == f"{MIRROR}/library/nginx"
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["IMAGE_NAME"] == f"{MIRROR}/nginx/nginx-gateway-fabric:2.6.7"
    assert env["SIDECAR_IMAGE"] == f"{MIRROR}/x/y:1"
    assert env["GREETING"] == "ghcr.io/not/an-image-var:1"


# ------------------------------------------------------------------ CRD schema translation


def test_crd_schema_translation_handles_kubernetes_extensions():
    schema = kube.crd_schema_to_jsonschema({
        "type": "object",
        "properties": {
            "spec": {"type": "object", "properties": {
                "port": {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                "bare": {"x-kubernetes-int-or-string": True},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "maybe": {"type": "string", "nullable": True, "enum": ["a"]},
                "list": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
            }, "x-kubernetes-validations": [{"rule": "self.port > 0"}]},
        },
    })
    spec = schema["properties"]["spec"]
    assert spec["additionalProperties"] is False and "x-kubernetes-validations" not in spec
    assert spec["properties"]["bare"] == {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    assert "additionalProperties" not in spec["properties"]["free"]
    assert spec["properties"]["maybe"] == {"type": ["string", "null"], "enum": ["a", None]}
    assert schema["properties"]["metadata"] == {"$ref": kube.OBJECT_META_REF}


# ------------------------------------------------------------------ validation


def test_versions_cover_the_supported_range():
    assert set(SUPPORTED_K8S_VERSIONS) <= set(kube.available_versions())
    assert kube.major_minor("v1.33.4") == "1.33"
    with pytest.raises(kube.SchemaUnavailable):
        kube.kube_schemas("1.9")


def test_builtin_kinds_are_validated_strictly_with_json_paths():
    bad = deployment(bogus=1)
    bad["spec"]["replicas"] = "three"
    del bad["spec"]["template"]["spec"]["containers"][0]["name"]
    problems = [str(p) for p in kube.validate_objects([bad], "1.35")]
    assert problems == [
        "Deployment default/web: spec.replicas: 'three' is not of type 'integer', 'null'",
        "Deployment default/web: spec.template.spec.containers[0]: 'name' is a required property",
        "Deployment default/web: spec.template.spec.containers[0]: Additional properties are not allowed "
        "('bogus' was unexpected)",
    ]


def test_unknown_kind_is_an_error_not_a_skip():
    obj = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    [problem] = kube.validate_objects([obj], "1.35")
    assert problem.object == "Widget w" and "neither in the Kubernetes 1.35 API" in problem.message


def test_group_mismatch_does_not_borrow_a_builtin_schema():
    obj = {"apiVersion": "apps.example.com/v1", "kind": "Deployment", "metadata": {"name": "x"}}
    [problem] = kube.validate_objects([obj], "1.35")
    assert "neither" in problem.message


def metallb_crds() -> list[dict]:
    return kube.crds_of(kube.load_file(component_files("metallb")["config/manifests/metallb-native.yaml"]))


def test_custom_resources_are_validated_against_their_crd():
    pool = {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
            "metadata": {"name": "p", "namespace": "metallb-system", "labels": {"x": 1}},
            "spec": {"autoAssign": "yes", "typo": True}}
    problems = {(p.object, p.path, p.message) for p in kube.validate_objects([pool], "1.35", metallb_crds())}
    assert problems == {
        ("IPAddressPool metallb-system/p", "metadata.labels.x", "1 is not of type 'string', 'null'"),
        ("IPAddressPool metallb-system/p", "spec", "'addresses' is a required property"),
        ("IPAddressPool metallb-system/p", "spec", "Additional properties are not allowed ('typo' was unexpected)"),
        ("IPAddressPool metallb-system/p", "spec.autoAssign", "'yes' is not of type 'boolean'"),
    }


def test_unserved_crd_version_is_an_error():
    peer = {"apiVersion": "metallb.io/v1", "kind": "BGPPeer", "metadata": {"name": "p", "namespace": "m"}}
    [problem] = kube.validate_objects([peer], "1.35", metallb_crds())
    assert "does not serve v1" in problem.message and "v1beta2" in problem.message


@pytest.mark.parametrize("version", SUPPORTED_K8S_VERSIONS)
def test_every_pinned_upstream_object_validates(version):
    objects = all_upstream_objects()
    assert len(objects) > 100
    assert [str(p) for p in kube.validate_objects(objects, version)] == []


def live_node(name, *ips):
    return {"metadata": {"name": name}, "status": {"addresses": [{"type": "InternalIP", "address": ip} for ip in ips]
                                                   + [{"type": "Hostname", "address": name}]}}


def test_hosts_are_matched_to_nodes_by_address_not_by_name():
    plan_nodes = {"worker-a": {"address": "192.168.56.11", "iface": {"ipv4": "192.168.56.11"}},
                  "worker-b": {"address": "10.0.0.5", "iface": {"ipv4": "192.168.56.12"}}}
    found, problems = kube.node_names(plan_nodes, [live_node("node1", "192.168.56.11"),
                                                   live_node("node2", "192.168.56.12")])
    assert found == {"worker-a": "node1", "worker-b": "node2"} and problems == []


def test_a_host_without_a_node_and_two_hosts_on_one_node_are_named():
    plan_nodes = {"a": {"address": "192.168.56.11", "iface": {"ipv4": "192.168.56.11"}},
                  "b": {"address": "192.168.56.11", "iface": {"ipv4": "192.168.56.11"}},
                  "c": {"address": "192.168.56.13", "iface": {"ipv4": "192.168.56.13"}}}
    found, problems = kube.node_names(plan_nodes, [live_node("node1", "192.168.56.11"), live_node("nat", "10.0.2.15")])
    assert found == {"a": "node1", "b": "node1"}
    assert problems[0].startswith("c: no Node of the cluster has the InternalIP 192.168.56.13 or 192.168.56.13")
    assert "node1 (192.168.56.11), nat (10.0.2.15)" in problems[0]
    assert problems[1] == "a, b: all match the Node node1; each host must be a Node of its own"
