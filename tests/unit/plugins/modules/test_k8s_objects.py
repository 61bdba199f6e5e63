"""onprem.k8snet.k8s_objects against a fake cluster (the requests k8s_client.Cluster would make)."""

from __future__ import annotations

import pytest
from ansible_collections.onprem.k8snet.plugins.module_utils.k8s_client import ClusterError
from ansible_collections.onprem.k8snet.plugins.modules import k8s_objects


class FakeCluster:
    """Objects by (kind, namespace, name); every write moves the resourceVersion, a dry run does not store."""

    def __init__(self, *objects, linger=()):
        self.store = {self.key(o): o for o in objects}
        self.linger = set(linger)      # deleted, but still there when waited for (a stuck finalizer)
        self.calls, self.version = [], 100

    @staticmethod
    def key(obj):
        """(kind, namespace or None, name), as the real Cluster reads "" and a missing namespace alike."""
        meta = obj.get("metadata") or obj
        return obj["kind"], meta.get("namespace") or None, meta["name"]

    def get(self, r):
        return self.store.get(self.key(r))

    def _stored(self, obj, dry_run):
        self.version += 1
        answer = {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(self.version)}}
        if not dry_run:
            self.store[self.key(obj)] = answer
        return answer

    def apply(self, obj, manager, force, dry_run):
        self.calls.append(("apply", obj["metadata"]["name"], manager, force, dry_run))
        before = self.get({"kind": obj["kind"], "namespace": obj["metadata"].get("namespace"),
                           "name": obj["metadata"]["name"]})
        if before and {k: v for k, v in before.items() if k != "metadata"} == \
                {k: v for k, v in obj.items() if k != "metadata"}:
            return before                                       # nothing new: the server keeps the version
        return self._stored(obj, dry_run)

    def patch(self, r, body, dry_run=False):
        self.calls.append(("patch", r["name"], body, dry_run))
        before = self.get(r)
        annotations = {**before["metadata"].get("annotations", {}), **body["metadata"].get("annotations", {})}
        merged = {**before, "metadata": {**before["metadata"],
                                         "annotations": {k: v for k, v in annotations.items() if v is not None}}}
        return self._stored(merged, dry_run)

    def delete(self, r, grace_period=None):
        self.calls.append(("delete", r["name"], grace_period))
        if self.key(r) not in self.linger:
            self.store.pop(self.key(r), None)

    def wait_gone(self, refs, timeout):
        self.calls.append(("wait", [r["name"] for r in refs], timeout))
        return [r for r in refs if self.get(r) is not None]


def params(**given):
    return {"state": "present", "field_manager": "k8snet", "force_conflicts": True, "grace_period": None,
            "wait": False, "wait_timeout": 120, "kubeconfig": None, "context": None, **given}


def pod(name, namespace="t"):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace}}


NAMESPACE = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "t"}}
CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "k8snet-state", "namespace": "kube-system"},
      "data": {"digest": "a"}}


def test_present_creates_then_a_second_run_changes_nothing():
    cluster = FakeCluster()
    first = k8s_objects.run(params(objects=[CM]), cluster=cluster)
    assert first["changed"] and first["changed_objects"] == ["ConfigMap kube-system/k8snet-state"]
    again = k8s_objects.run(params(objects=[CM]), cluster=cluster)
    assert again == {"changed": False, "objects": [cluster.get({"kind": "ConfigMap", "namespace": "kube-system",
                                                                "name": "k8snet-state"})],
                     "changed_objects": []}
    new = {**CM, "data": {"digest": "b"}}
    assert k8s_objects.run(params(objects=[new]), cluster=cluster)["changed"]


def test_check_mode_is_a_dry_run_that_stores_nothing():
    cluster = FakeCluster()
    result = k8s_objects.run(params(objects=[CM]), check_mode=True, cluster=cluster)
    assert result["changed"] and cluster.calls == [("apply", "k8snet-state", "k8snet", True, True)]
    assert cluster.store == {}


def test_patched_merges_and_a_null_removes_a_key_but_a_missing_object_is_refused():
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node1", "annotations": {"a": "1", "b": "2"}}}
    cluster = FakeCluster(node)
    body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node1", "annotations": {"a": None, "c": "3"}}}
    result = k8s_objects.run(params(state="patched", objects=[body]), cluster=cluster)
    assert result["changed"] and cluster.calls[0] == ("patch", "node1", {"metadata": body["metadata"]}, False)
    assert cluster.get({"kind": "Node", "name": "node1"})["metadata"]["annotations"] == {"b": "2", "c": "3"}
    missing = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node9"}}
    refused = k8s_objects.run(params(state="patched", objects=[missing]), cluster=cluster)
    assert refused["failed"] and "Node node9: not found" in refused["msg"]


def test_absent_deletes_what_exists_with_the_grace_period_and_waits():
    cluster = FakeCluster(pod("a"), NAMESPACE)
    result = k8s_objects.run(params(state="absent", objects=[pod("a"), pod("b"), NAMESPACE], grace_period=0,
                                    wait=True, wait_timeout=30), cluster=cluster)
    assert result["changed_objects"] == ["Pod t/a", "Namespace t"]               # b was not there
    assert cluster.calls == [("delete", "a", 0), ("delete", "t", 0), ("wait", ["a", "b", "t"], 30)]
    assert cluster.store == {}
    again = k8s_objects.run(params(state="absent", objects=[pod("a"), NAMESPACE]), cluster=cluster)
    assert again["changed"] is False


def test_absent_in_check_mode_deletes_nothing():
    cluster = FakeCluster(pod("a"))
    result = k8s_objects.run(params(state="absent", objects=[pod("a")], wait=True), check_mode=True, cluster=cluster)
    assert result["changed"] and cluster.calls == [] and cluster.get(pod("a")["metadata"] | {"kind": "Pod"})


def test_a_wait_that_times_out_names_what_is_left():
    cluster = FakeCluster(NAMESPACE, linger=[("Namespace", None, "t")])
    result = k8s_objects.run(params(state="absent", objects=[NAMESPACE], wait=True, wait_timeout=5), cluster=cluster)
    assert result["failed"] and result["msg"] == "still there after 5 s: Namespace t"
    assert result["changed_objects"] == ["Namespace t"]


@pytest.mark.parametrize(("obj", "missing"), [
    ({"kind": "Pod", "metadata": {"name": "a"}}, "apiVersion"),
    ({"apiVersion": "v1", "kind": "Pod", "metadata": {}}, "metadata.name"),
    ({"apiVersion": "v1", "metadata": {"name": "a"}}, "kind"),
])
def test_an_incomplete_object_is_refused_naming_its_place_before_any_request(obj, missing):
    cluster = FakeCluster()
    result = k8s_objects.run(params(objects=[CM, obj]), cluster=cluster)
    assert result["failed"] and result["msg"] == f"objects[1]: {missing} missing" and cluster.calls == []


def test_an_api_error_names_the_object_and_the_cluster():
    class Refusing(FakeCluster):
        def apply(self, obj, manager, force, dry_run):
            raise ClusterError("admission webhook denied it")

    result = k8s_objects.run(params(objects=[CM]), cluster=Refusing())
    assert result["failed"] and result["msg"] == "admission webhook denied it"

    class Broken(FakeCluster):
        def apply(self, obj, manager, force, dry_run):
            raise RuntimeError("connection refused")

    result = k8s_objects.run(params(objects=[CM], kubeconfig="/k"), cluster=Broken())
    assert result["msg"] == ("present ConfigMap kube-system/k8snet-state: the cluster of /k did not answer as "
                             "expected: connection refused")
