"""onprem.k8snet.k8s_read and k8s_client.Cluster.find against a fake dynamic client."""

from __future__ import annotations

import pytest
from ansible_collections.onprem.k8snet.plugins.module_utils import k8s_client
from ansible_collections.onprem.k8snet.plugins.modules import k8s_read


class ResourceNotFoundError(Exception):
    pass


class NotFoundError(Exception):
    pass


class Exceptions:
    ResourceNotFoundError = ResourceNotFoundError
    NotFoundError = NotFoundError


class Answer(dict):
    def to_dict(self):
        return dict(self)


class Resources:
    def __init__(self, served):
        self.served = served

    def get(self, api_version, kind):
        if (api_version, kind) not in self.served:
            raise ResourceNotFoundError(kind)
        return (api_version, kind)

    def invalidate_cache(self):
        pass


class FakeClient:
    """Services in two namespaces; Node and ConfigMap served, MetalLB's kinds not (no CRD)."""

    def __init__(self):
        self.resources = Resources({("v1", "Service"), ("v1", "ConfigMap")})
        self.asked = []
        self.items = [{"metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}}},
                      {"metadata": {"name": "web", "namespace": "default", "labels": {}}}]

    def get(self, res, name=None, namespace=None, label_selector=None, field_selector=None):
        self.asked.append((res[1], namespace, name, label_selector, field_selector))
        if res[1] == "ConfigMap":
            if name == "kube-proxy":
                return Answer(apiVersion="v1", kind="ConfigMap", metadata={"name": name, "namespace": namespace})
            raise NotFoundError(name)
        found = [i for i in self.items if namespace in (None, i["metadata"]["namespace"])]
        if label_selector:
            key, value = label_selector.split("=")
            found = [i for i in found if i["metadata"]["labels"].get(key) == value]
        return Answer(items=found)


@pytest.fixture
def cluster():
    c = k8s_client.Cluster.__new__(k8s_client.Cluster)
    c.exceptions, c.client = Exceptions, FakeClient()
    return c


def read(cluster, **query):
    params = {"api_version": "v1", "namespace": None, "name": None, "label_selectors": [], "field_selectors": [],
              "kubeconfig": None, "context": None, **query}
    return k8s_read.run(params, cluster=cluster)


def test_a_list_carries_the_kind_of_its_items_and_passes_the_selectors(cluster):
    result = read(cluster, kind="Service", label_selectors=["k8s-app=kube-dns"], field_selectors=["a=b", "c=d"])
    assert result == {"changed": False, "resources": [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kube-dns", "namespace": "kube-system",
                                                             "labels": {"k8s-app": "kube-dns"}}}]}
    assert cluster.client.asked == [("Service", None, None, "k8s-app=kube-dns", "a=b,c=d")]
    assert [s["metadata"]["name"] for s in read(cluster, kind="Service", namespace="default")["resources"]] == ["web"]


def test_objects_come_back_without_the_field_managers_bookkeeping(cluster):
    managed = [{"manager": "kubectl", "operation": "Update", "fieldsV1": {"f:data": {}}}]
    cluster.client.items[1]["metadata"]["managedFields"] = managed
    (web,) = read(cluster, kind="Service", namespace="default")["resources"]
    assert web["metadata"] == {"name": "web", "namespace": "default", "labels": {}}
    (web,) = read(cluster, queries=[{"key": "web", "kind": "Service", "namespace": "default"}])["results"]["web"]
    assert "managedFields" not in web["metadata"]


def test_one_object_by_name_and_none_when_it_or_its_kind_is_missing(cluster):
    (kube_proxy,) = read(cluster, kind="ConfigMap", namespace="kube-system", name="kube-proxy")["resources"]
    assert kube_proxy["metadata"]["name"] == "kube-proxy"
    assert read(cluster, kind="ConfigMap", namespace="kube-system", name="k8snet-state")["resources"] == []
    assert read(cluster, api_version="metallb.io/v1beta1", kind="IPAddressPool")["resources"] == []


def test_a_cluster_that_does_not_answer_fails_naming_the_query_and_the_kubeconfig(cluster, tmp_path):
    def refused(*args, **kwargs):
        raise ConnectionRefusedError("[Errno 111] Connection refused")
    cluster.client.get = refused
    result = read(cluster, kind="Service", namespace="kube-system", kubeconfig="/etc/k8snet/admin.conf")
    assert result["failed"] is True
    assert result["msg"] == ("reading Service in namespace kube-system: the cluster of /etc/k8snet/admin.conf did "
                             "not answer as expected: [Errno 111] Connection refused")
    missing = read(None, kind="Service", kubeconfig=str(tmp_path / "absent.conf"))
    assert missing["failed"] is True and missing["msg"] == f"k8s_kubeconfig {tmp_path / 'absent.conf'} does not exist"


def test_the_server_version_only_when_asked(cluster, monkeypatch):
    asked = []
    monkeypatch.setattr(cluster, "server_version", lambda: asked.append(1) or "v1.35.4", raising=False)
    plain = read(cluster, kind="ConfigMap", namespace="kube-system", name="kube-proxy")
    assert "server_version" not in plain and not asked
    with_version = read(cluster, kind="ConfigMap", namespace="kube-system", name="kube-proxy", server_version=True)
    assert with_version["server_version"] == "v1.35.4" and asked == [1]
    assert [r["metadata"]["name"] for r in with_version["resources"]] == ["kube-proxy"]


def test_queries_answer_by_key_and_the_first_that_fails_is_named(cluster):
    queries = [{"key": "services", "kind": "Service", "label_selectors": ["k8s-app=kube-dns"]},
               {"key": "kube_proxy", "kind": "ConfigMap", "namespace": "kube-system", "name": "kube-proxy"},
               {"key": "pools", "api_version": "metallb.io/v1beta1", "kind": "IPAddressPool"}]
    result = k8s_read.run({"queries": queries, "server_version": False, "kubeconfig": None}, cluster=cluster)
    assert set(result) == {"changed", "results"}
    assert [s["metadata"]["name"] for s in result["results"]["services"]] == ["kube-dns"]
    assert [c["metadata"]["name"] for c in result["results"]["kube_proxy"]] == ["kube-proxy"]
    assert result["results"]["pools"] == []                      # a kind without its CRD: nothing, not an error

    real_get = cluster.client.get

    def no_configmaps(res, **kwargs):
        if res[1] == "ConfigMap":
            raise PermissionError("configmaps is forbidden")
        return real_get(res, **kwargs)
    cluster.client.get = no_configmaps
    refused = k8s_read.run({"queries": queries, "kubeconfig": "/etc/k8snet/admin.conf"}, cluster=cluster)
    assert refused["failed"] is True
    assert refused["msg"].startswith("reading ConfigMap kube-system/kube-proxy: ")
    assert "configmaps is forbidden" in refused["msg"]
