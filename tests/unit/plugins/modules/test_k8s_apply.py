"""onprem.k8snet.k8s_apply against a fake API server: phases, waits, change detection, the in-cluster record."""

from __future__ import annotations

import copy
import json

import pytest
import yaml
from ansible_collections.onprem.k8snet.plugins.module_utils import apply, kube
from ansible_collections.onprem.k8snet.plugins.modules import k8s_apply

from tests.unit.planfixtures import build_component, make_plan


class ResourceNotFoundError(Exception):
    pass


class DynamicApiError(Exception):
    def __init__(self, msg):
        super().__init__(msg)
        self.body = json.dumps({"message": msg})


class NotFoundError(DynamicApiError):
    pass


class Exceptions:
    ResourceNotFoundError = ResourceNotFoundError
    DynamicApiError = DynamicApiError
    NotFoundError = NotFoundError


NODES = 3                                                      # where a DaemonSet of the fake runs


class FakeCluster:
    """Objects by key; resourceVersion moves only when the applied content differs; controllers roll out on read
    (a DaemonSet on NODES nodes)."""

    def __init__(self, webhook_failures: int = 0, fail_on: str | None = None):
        self.exceptions = Exceptions
        self.store: dict[tuple, dict] = {}
        self.version = 0
        self.calls: list[str] = []                             # applies that changed something, deletes
        self.requests: list[str] = []                          # every apply request, no-ops included
        self.reads: list[tuple] = []                           # every read, by ref key
        self.rounds: list[int] = []                            # the size of each batch of requests sent at once
        self.webhook_failures = webhook_failures
        self.fail_on = fail_on
        self.seed_namespace("kube-system")                     # where the records live, as in any cluster

    def each(self, work, items):                               # one by one: the fake's counters stay exact
        self.rounds.append(len(items))
        return [work(item) for item in items]

    def get(self, r):
        self.reads.append(apply.ref_key(r))
        obj = self.store.get(apply.ref_key(r))
        if obj and obj["kind"] in apply.ROLLOUT_KINDS:         # the controller catches up on the next read
            obj["status"] = {"observedGeneration": obj["metadata"]["generation"], "replicas": 1,
                             "updatedReplicas": 1, "availableReplicas": 1, "readyReplicas": 1,
                             "desiredNumberScheduled": NODES, "updatedNumberScheduled": NODES,
                             "numberAvailable": NODES}
        if obj and obj["kind"] == "CustomResourceDefinition":
            obj["status"] = {"conditions": [{"type": "Established", "status": "True"}]}
        return copy.deepcopy(obj)

    def apply(self, obj, manager, force, dry_run):
        r = apply.ref(obj)
        self.requests.append(apply.describe(r))
        if self.fail_on and r["name"] == self.fail_on:
            raise DynamicApiError(f"admission refused {r['name']}")
        if obj["kind"] == "IPAddressPool" and self.webhook_failures:
            self.webhook_failures -= 1
            raise DynamicApiError('Internal error occurred: failed calling webhook "ipaddresspoolvalidationwebhook"')
        namespace = r.get("namespace")
        if namespace and ("", "Namespace", "", namespace) not in self.store:
            raise NotFoundError(f'namespaces "{namespace}" not found')
        key = apply.ref_key(r)
        old = self.store.get(key)
        new = copy.deepcopy(obj)
        meta = new.setdefault("metadata", {})
        if old and apply.strip_server_fields(old) == apply.strip_server_fields(new):
            return copy.deepcopy(old)
        self.version += 1
        meta["resourceVersion"] = str(self.version)
        meta["generation"] = (old["metadata"]["generation"] + 1) if old else 1
        if dry_run:
            return new
        self.calls.append(f"apply {apply.describe(r)}")
        self.store[key] = new
        return copy.deepcopy(new)

    def find(self, api_version, kind, **_):
        return [copy.deepcopy(o) for o in self.store.values() if (o["apiVersion"], o["kind"]) == (api_version, kind)]

    def delete(self, r):
        self.calls.append(f"delete {apply.describe(r)}")
        self.store.pop(apply.ref_key(r), None)

    def seed_namespace(self, name):
        self.store[("", "Namespace", "", name)] = {"apiVersion": "v1", "kind": "Namespace", "metadata": {
            "name": name, "resourceVersion": "0", "generation": 1}}


def obj(kind, name, *, namespace="demo", api="v1", component="metallb", labelled=True, **extra):
    o = {"apiVersion": api, "kind": kind, "metadata": {"name": name}, **extra}
    if namespace:
        o["metadata"]["namespace"] = namespace
    return kube.add_managed_label(o, component) if labelled else o


BASE = [obj("Namespace", "demo", namespace=None),
        obj("CustomResourceDefinition", "ipaddresspools.metallb.io", namespace=None, api="apiextensions.k8s.io/v1"),
        obj("Deployment", "controller", api="apps/v1", spec={"replicas": 1}),
        obj("DaemonSet", "speaker", api="apps/v1")]
POOL = obj("IPAddressPool", "lab", api="metallb.io/v1beta1", spec={"addresses": ["192.168.56.240/29"]})


def items(tmp_path, objects):
    out = []
    for i, o in enumerate(objects):
        path = tmp_path / f"{i:02d}.yaml"
        path.write_text(yaml.safe_dump(o))
        out.append({"file": str(path), "custom": o["kind"] == "IPAddressPool"})
    return out


def params(tmp_path, objects, **more):
    return {"component": "metallb", "objects": items(tmp_path, objects), "kubeconfig": None, "context": None,
            "wait_timeout": 5, "prune": True, "field_manager": "k8snet", "force_conflicts": True, "adopt": False,
            "allow_disruptive": False, "preflight": False, **more}


@pytest.fixture(autouse=True)
def _fast(monkeypatch):
    monkeypatch.setattr(k8s_apply, "POLL", 0.001)


def test_custom_resources_go_last_after_every_controller(tmp_path):
    cluster = FakeCluster(webhook_failures=2)
    result = k8s_apply.run(params(tmp_path, [*BASE, POOL]), cluster=cluster)
    assert not result.get("failed"), result
    applied = [c for c in cluster.calls if not c.endswith("k8snet-applied-metallb")]
    assert applied[-1] == "apply IPAddressPool demo/lab" and len(applied) == 5
    assert [w["what"] for w in result["waited"]] == [
        "CRD ipaddresspools.metallb.io to be Established", "Deployment demo/controller to roll out",
        "DaemonSet demo/speaker to roll out"]
    assert result["created"] == [apply.describe(apply.ref(o)) for o in [*BASE, POOL]]
    assert result["changed"] is True


def test_a_second_run_changes_nothing(tmp_path):
    cluster = FakeCluster()
    objects = [BASE[0], BASE[2], POOL]
    k8s_apply.run(params(tmp_path, objects), cluster=cluster)
    versions = {k: v["metadata"]["resourceVersion"] for k, v in cluster.store.items()}
    cluster.requests.clear()
    again = k8s_apply.run(params(tmp_path, objects), cluster=cluster)
    # every object is as the first run left it: nothing is sent, the record is not rewritten
    assert cluster.requests == []
    assert (again["created"], again["updated"], again["deleted"], again["changed"]) == ([], [], [], False)
    assert again["unchanged"] == 3
    assert {k: v["metadata"]["resourceVersion"] for k, v in cluster.store.items()} == versions


RECORD = {"apiVersion": "v1", "kind": "ConfigMap", "namespace": "kube-system", "name": "k8snet-applied-metallb"}


def test_an_object_someone_else_changed_is_applied_again_and_put_back(tmp_path):
    cluster = FakeCluster()
    objects = [BASE[0], POOL]
    k8s_apply.run(params(tmp_path, objects), cluster=cluster)
    live = cluster.store[apply.ref_key(apply.ref(POOL))]
    live["spec"]["addresses"] = ["192.168.56.200/29"]                      # kubectl edit: a new resourceVersion
    live["metadata"]["resourceVersion"] = "99"
    cluster.requests.clear()
    again = k8s_apply.run(params(tmp_path, objects), cluster=cluster)
    assert cluster.requests[:1] == ["IPAddressPool demo/lab"] and "Namespace demo" not in cluster.requests
    assert again["updated"] == ["IPAddressPool demo/lab"]
    assert cluster.store[apply.ref_key(apply.ref(POOL))]["spec"]["addresses"] == ["192.168.56.240/29"]


def test_a_status_only_move_is_applied_again_as_a_no_op_without_rewriting_the_record(tmp_path):
    cluster = FakeCluster()
    objects = [BASE[0], POOL]
    k8s_apply.run(params(tmp_path, objects), cluster=cluster)
    cluster.store[apply.ref_key(apply.ref(POOL))]["metadata"]["resourceVersion"] = "99"   # its status moved
    record_version = cluster.get(RECORD)["metadata"]["resourceVersion"]
    cluster.requests.clear()
    again = k8s_apply.run(params(tmp_path, objects), cluster=cluster)
    assert cluster.requests == ["IPAddressPool demo/lab"] and again["changed"] is False
    assert cluster.get(RECORD)["metadata"]["resourceVersion"] == record_version


def test_a_record_without_digests_gets_them_and_the_run_after_sends_nothing(tmp_path):
    cluster = FakeCluster()
    objects = [BASE[0], POOL]
    k8s_apply.run(params(tmp_path, objects), cluster=cluster)
    record = cluster.store[apply.ref_key(RECORD)]
    del record["data"][apply.APPLIED_KEY]                                  # as an earlier release wrote it
    cluster.requests.clear()
    k8s_apply.run(params(tmp_path, objects), cluster=cluster)
    assert cluster.requests == ["Namespace demo", "IPAddressPool demo/lab",
                                "ConfigMap kube-system/k8snet-applied-metallb"]
    assert set(apply.read_applied(cluster.get(RECORD))) == {apply.applied_key(apply.ref(o)) for o in objects}
    cluster.requests.clear()
    k8s_apply.run(params(tmp_path, objects), cluster=cluster)
    assert cluster.requests == []


def test_a_changed_field_is_an_update(tmp_path):
    cluster = FakeCluster()
    k8s_apply.run(params(tmp_path, [BASE[0], POOL]), cluster=cluster)
    bigger = copy.deepcopy(POOL)
    bigger["spec"]["addresses"] = ["192.168.56.240/28"]
    result = k8s_apply.run(params(tmp_path, [BASE[0], bigger]), cluster=cluster)
    assert result["updated"] == ["IPAddressPool demo/lab"] and result["unchanged"] == 1


def test_what_this_run_stopped_rendering_is_deleted_and_foreign_objects_are_kept(tmp_path):
    cluster = FakeCluster()
    k8s_apply.run(params(tmp_path, [BASE[0], POOL]), cluster=cluster)
    # someone else's object of the same name replaced ours meanwhile (no project labels)
    other = obj("ConfigMap", "theirs")
    k8s_apply.run(params(tmp_path, [BASE[0], POOL, other]), cluster=cluster)
    cluster.store[apply.ref_key(apply.ref(other))]["metadata"]["labels"] = {"owner": "helm"}
    result = k8s_apply.run(params(tmp_path, [BASE[0]]), cluster=cluster)
    assert result["deleted"] == ["IPAddressPool demo/lab"]
    assert result["kept"] == ["ConfigMap demo/theirs"]
    record = apply.read_record(cluster.get({"apiVersion": "v1", "kind": "ConfigMap", "namespace": "kube-system",
                                            "name": "k8snet-applied-metallb"}))
    assert record == [apply.ref(BASE[0])]


def test_a_run_that_fails_half_way_still_owes_its_removals(tmp_path):
    cluster = FakeCluster()
    k8s_apply.run(params(tmp_path, [BASE[0], POOL]), cluster=cluster)
    new_cm = obj("ConfigMap", "half")
    failed = k8s_apply.run(params(tmp_path, [BASE[0], new_cm, obj("ConfigMap", "boom")]),
                           cluster=FakeClusterView(cluster, fail_on="boom"))
    assert failed["failed"] and "ConfigMap demo/boom" in failed["msg"] and "admission refused" in failed["msg"]
    # the next run (say, from another controller) renders only the namespace: both the pool the failed
    # run did not get to delete and the ConfigMap it created go
    result = k8s_apply.run(params(tmp_path, [BASE[0]]), cluster=cluster)
    assert sorted(result["deleted"]) == ["ConfigMap demo/half", "IPAddressPool demo/lab"]


class FakeClusterView(FakeCluster):
    """The same store, with one object the API refuses."""

    def __init__(self, base: FakeCluster, fail_on: str):
        self.__dict__.update(base.__dict__)
        self.fail_on = fail_on


def test_check_mode_writes_nothing_and_says_what_it_would_do(tmp_path):
    cluster = FakeCluster()
    empty = copy.deepcopy(cluster.store)
    # the pool's namespace does not exist yet: its dry run is refused, and it is reported as to be created
    result = k8s_apply.run(params(tmp_path, [BASE[0], POOL]), check_mode=True, cluster=cluster)
    assert not result.get("failed"), result
    assert result["created"] == ["Namespace demo", "IPAddressPool demo/lab"] and cluster.store == empty
    k8s_apply.run(params(tmp_path, [BASE[0], POOL]), cluster=cluster)
    stored = copy.deepcopy(cluster.store)
    result = k8s_apply.run(params(tmp_path, [BASE[0]]), check_mode=True, cluster=cluster)
    assert result["deleted"] == [] and cluster.store == stored        # no deletion in check mode


def test_a_webhook_that_never_answers_fails_naming_the_object(tmp_path):
    result = k8s_apply.run(params(tmp_path, [BASE[0], POOL], wait_timeout=0), cluster=FakeCluster(webhook_failures=99))
    assert result["failed"] and "IPAddressPool demo/lab" in result["msg"] and "failed calling webhook" in result["msg"]


def test_an_unreachable_cluster_is_a_message_not_a_traceback(tmp_path):
    result = k8s_apply.run(params(tmp_path, [BASE[0]], kubeconfig=str(tmp_path / "missing.conf")))
    assert result["failed"] and "k8s_kubeconfig" in result["msg"] and "missing.conf" in result["msg"]


@pytest.mark.parametrize(("live", "problem"), [
    (None, "not found"),
    ({"kind": "Deployment", "metadata": {"generation": 2}, "spec": {"replicas": 1},
      "status": {"observedGeneration": 1, "updatedReplicas": 1, "availableReplicas": 1}},
     "controller has not seen generation 2 yet (observed 1)"),
    ({"kind": "Deployment", "metadata": {"generation": 2}, "spec": {"replicas": 2},
      "status": {"observedGeneration": 2, "updatedReplicas": 2, "availableReplicas": 1}},
     "2/2 replicas updated, 1/2 available"),
    ({"kind": "Deployment", "metadata": {"generation": 2}, "spec": {"replicas": 2},
      "status": {"observedGeneration": 2, "updatedReplicas": 2, "availableReplicas": 2}}, None),
    ({"kind": "DaemonSet", "metadata": {"generation": 1}, "status": {"observedGeneration": 1,
      "desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 2}},
     "3/3 pods updated, 2/3 available"),
    ({"kind": "DaemonSet", "metadata": {"generation": 1}, "status": {"observedGeneration": 1,
      "desiredNumberScheduled": 0}}, "no node to schedule on yet (0 desired)"),
])
def test_rollout_is_counted_from_the_current_generation(live, problem):
    assert apply.rollout_problem(live) == problem


def test_prune_order_deletes_custom_resources_before_crds_and_namespaces_last():
    refs = [apply.ref(o) for o in (BASE[0], BASE[1], POOL)]
    assert [r["kind"] for r in apply.to_prune(refs, [])] == ["IPAddressPool", "CustomResourceDefinition",
                                                             "Namespace"]


def kubectl_applied(cluster, o):
    """The object as someone else installed it: no project labels, kubectl as its field manager."""
    theirs = copy.deepcopy(o)
    theirs["metadata"].pop("labels", None)
    theirs["metadata"].update(resourceVersion="7", generation=1,
                              managedFields=[{"manager": "kubectl-client-side-apply", "operation": "Update"},
                                             {"manager": "kube-controller-manager", "operation": "Update",
                                              "subresource": "status"}])
    cluster.store[apply.ref_key(apply.ref(o))] = theirs


def test_an_object_another_manager_installed_stops_the_apply_before_any_change(tmp_path):
    cluster = FakeCluster()
    k8s_apply.run(params(tmp_path, [BASE[0]]), cluster=cluster)            # the namespace is ours
    kubectl_applied(cluster, BASE[2])
    cluster.requests.clear()
    cluster.calls.clear()
    result = k8s_apply.run(params(tmp_path, [BASE[0], BASE[2], POOL]), cluster=cluster)
    assert result["failed"] and cluster.requests == [] and cluster.calls == []
    assert result["msg"].startswith("metallb: 1 object(s) of the same kind and name already exist and were not "
                                    "installed by this project: Deployment demo/controller (installed by "
                                    "kubectl-client-side-apply). Nothing was changed. Migrate:")
    assert "k8s_adopt_existing: true" in result["msg"]


def test_adopting_takes_the_object_over_with_the_project_labels(tmp_path):
    cluster = FakeCluster()
    k8s_apply.run(params(tmp_path, [BASE[0]]), cluster=cluster)
    kubectl_applied(cluster, BASE[2])
    result = k8s_apply.run(params(tmp_path, [BASE[0], BASE[2]], adopt=True), cluster=cluster)
    assert not result.get("failed"), result
    assert result["updated"] == ["Deployment demo/controller"]
    assert apply.ours(cluster.store[apply.ref_key(apply.ref(BASE[2]))])


CRD = obj("CustomResourceDefinition", "ipaddresspools.metallb.io", namespace=None, api="apiextensions.k8s.io/v1",
          spec={"group": "metallb.io", "names": {"kind": "IPAddressPool"},
                "versions": [{"name": "v1alpha1"}, {"name": "v1beta1", "storage": True}]})


def test_switching_off_an_add_on_keeps_crds_that_hold_others_resources_unless_disruption_is_allowed(tmp_path):
    cluster = FakeCluster()
    k8s_apply.run(params(tmp_path, [BASE[0], CRD, POOL]), cluster=cluster)
    users = obj("IPAddressPool", "users-own", api="metallb.io/v1beta1", labelled=False)
    cluster.store[apply.ref_key(apply.ref(users))] = copy.deepcopy(users)
    # MetalLB's own status report, under a CRD of ours too: it goes with MetalLB, it is no user's resource
    status_crd = obj("CustomResourceDefinition", "configurationstates.metallb.io", namespace=None,
                     api="apiextensions.k8s.io/v1",
                     spec={"group": "metallb.io", "names": {"kind": "ConfigurationState"},
                           "versions": [{"name": "v1beta1", "storage": True}]})
    k8s_apply.run(params(tmp_path, [BASE[0], CRD, status_crd, POOL]), cluster=cluster)
    report = obj("ConfigurationState", "speaker-node1", api="metallb.io/v1beta1", labelled=False)
    cluster.store[apply.ref_key(apply.ref(report))] = copy.deepcopy(report)
    cluster.calls.clear()
    refused = k8s_apply.run(params(tmp_path, []), cluster=cluster)
    assert refused["failed"] and cluster.calls == []
    assert refused["msg"].startswith("metallb: switching it off deletes its CRDs, and with them custom resources "
                                     "this project did not create: CRD ipaddresspools.metallb.io holds "
                                     "IPAddressPool demo/users-own. Nothing was changed.")
    allowed = k8s_apply.run(params(tmp_path, [], allow_disruptive=True), cluster=cluster)
    assert not allowed.get("failed"), allowed
    assert [c for c in cluster.calls if c.startswith("delete")] == [
        "delete IPAddressPool demo/lab", "delete CustomResourceDefinition configurationstates.metallb.io",
        "delete IPAddressPool demo/users-own", "delete CustomResourceDefinition ipaddresspools.metallb.io",
        "delete Namespace demo"]


def preflight_params(objects, **more):
    """What the validation phase passes: the objects' identities only (k8s_manifests' summaries, no file)."""
    return {"component": "metallb", "kubeconfig": None, "context": None, "wait_timeout": 5, "prune": True,
            "field_manager": "k8snet", "force_conflicts": True, "adopt": False, "allow_disruptive": False,
            **more, "preflight": True,
            "objects": [{**apply.ref(o), "file": "/nonexistent", "custom": False} for o in objects]}


def test_preflight_refuses_others_objects_before_anything_and_reads_only_what_the_record_does_not_list(tmp_path):
    cluster = FakeCluster()
    k8s_apply.run(params(tmp_path, [BASE[0]]), cluster=cluster)
    kubectl_applied(cluster, BASE[2])
    cluster.requests.clear()
    refused = k8s_apply.run(preflight_params([BASE[0], BASE[2]]), cluster=cluster)
    assert refused["failed"] and "Deployment demo/controller (installed by kubectl-client-side-apply)" in refused["msg"]
    assert cluster.requests == []
    fine = k8s_apply.run(preflight_params([BASE[0]]), cluster=cluster)
    assert not fine.get("failed") and fine["checked"] == 0          # the namespace is in the record: not read
    assert k8s_apply.run(preflight_params([BASE[0], BASE[2]], adopt=True), cluster=cluster)["checked"] == 1


def test_an_add_on_that_is_off_and_never_applied_leaves_no_record(tmp_path):
    cluster = FakeCluster()
    result = k8s_apply.run(params(tmp_path, []), cluster=cluster)
    assert not result.get("failed") and cluster.requests == []
    assert not [k for k in cluster.store if k[1] == "ConfigMap"]


def test_waves_put_namespaces_and_crds_before_what_lives_in_them():
    objects = [{"kind": "ServiceAccount"}, {"kind": "Namespace"}, {"kind": "Deployment"},
               {"kind": "CustomResourceDefinition"}]
    assert apply.waves(objects) == [[{"kind": "Namespace"}, {"kind": "CustomResourceDefinition"}],
                                    [{"kind": "ServiceAccount"}, {"kind": "Deployment"}]]
    assert apply.waves([{"kind": "IPAddressPool"}]) == [[{"kind": "IPAddressPool"}]]
    assert apply.waves([]) == []


def test_requests_at_once_answer_in_order_and_raise_the_first_error():
    """Cluster.each (the real one, threads): answers in the items' order whatever finishes first."""
    import threading
    import time

    from ansible_collections.onprem.k8snet.plugins.module_utils.k8s_client import Cluster

    seen = set()

    def work(n):
        seen.add(threading.get_ident())
        time.sleep(0.01 * (5 - n))                 # the last item finishes first
        if n in (2, 4):
            raise ValueError(f"item {n}")
        return n * 10

    assert Cluster.each(None, lambda n: n * 10, list(range(5))) == [0, 10, 20, 30, 40]
    with pytest.raises(ValueError, match="item 2"):
        Cluster.each(None, work, list(range(5)))
    assert len(seen) > 1                            # they did run at once


def test_base_then_finish_does_what_all_does_and_base_neither_waits_nor_applies_custom_resources(tmp_path):
    split, whole = FakeCluster(webhook_failures=1), FakeCluster(webhook_failures=1)
    base = k8s_apply.run(params(tmp_path, [*BASE[:3], POOL], phase="base"), cluster=split)
    assert not base.get("failed"), base
    assert base["waited"] == [] and "IPAddressPool demo/lab" not in base["created"]
    recorded = apply.read_record(split.get(k8s_apply.record_ref("metallb")))
    assert sorted(map(apply.ref_key, recorded)) == sorted(apply.ref_key(apply.ref(o)) for o in [*BASE[:3], POOL])
    finish = k8s_apply.run(params(tmp_path, [*BASE[:3], POOL], phase="finish"), cluster=split)
    assert not finish.get("failed"), finish
    assert finish["created"] == ["IPAddressPool demo/lab"] and len(finish["waited"]) == 2
    k8s_apply.run(params(tmp_path, [*BASE[:3], POOL]), cluster=whole)
    assert split.store == whole.store
    # the removals are owed across the two calls: what base recorded, finish deletes once no longer rendered
    k8s_apply.run(params(tmp_path, [BASE[0]], phase="base"), cluster=split)
    deleted = k8s_apply.run(params(tmp_path, [BASE[0]], phase="finish"), cluster=split)["deleted"]
    assert sorted(deleted[:2]) == ["Deployment demo/controller", "IPAddressPool demo/lab"]
    assert deleted[2:] == ["CustomResourceDefinition ipaddresspools.metallb.io"]        # the CRD last


def test_check_mode_base_dry_runs_every_object_and_finish_does_nothing(tmp_path):
    cluster = FakeCluster()
    empty = copy.deepcopy(cluster.store)
    base = k8s_apply.run(params(tmp_path, [BASE[0], POOL], phase="base"), check_mode=True, cluster=cluster)
    assert base["created"] == ["Namespace demo", "IPAddressPool demo/lab"] and cluster.store == empty
    finish = k8s_apply.run(params(tmp_path, [BASE[0], POOL], phase="finish"), check_mode=True, cluster=cluster)
    assert (finish["created"], finish["changed"], cluster.store) == ([], False, empty)


INGRESS = [obj("Namespace", "web", namespace=None, component="ingress"),
           obj("Deployment", "nginx", namespace="web", api="apps/v1", component="ingress", spec={"replicas": 1})]


def many(tmp_path, **more):
    """Two add-ons in one call, as cluster_addon's apply task makes it."""
    metallb, ingress = tmp_path / "metallb", tmp_path / "ingress"
    metallb.mkdir(exist_ok=True)
    ingress.mkdir(exist_ok=True)
    one = params(tmp_path, [])
    del one["component"], one["objects"]
    return {**one, "components": ["metallb", "ingress"], "phase": "all",
            "manifests": {"metallb": {"objects": items(metallb, [*BASE[:3], POOL])},
                          "ingress": {"objects": items(ingress, INGRESS)}}, **more}


def test_components_apply_every_base_first_then_each_add_on_waited_and_finished_in_order(tmp_path):
    cluster = FakeCluster()
    result = k8s_apply.run(many(tmp_path), cluster=cluster)
    assert not result.get("failed"), result
    applied = [c.removeprefix("apply ") for c in cluster.calls if "k8snet-applied" not in c]
    # both add-ons' base objects go out before anything is waited for or any custom resource is applied
    assert applied == [apply.describe(apply.ref(o)) for o in [*BASE[:3], *INGRESS, POOL]]
    assert [r["component"] for r in result["results"]] == ["metallb", "ingress"]
    assert result["results"][0]["created"] == [apply.describe(apply.ref(o)) for o in [*BASE[:3], POOL]]
    assert result["results"][1]["waited"] == [{"what": "Deployment web/nginx to roll out", "seconds": 0.0}]
    assert result["created"] == [apply.describe(apply.ref(o)) for o in [*BASE[:3], POOL, *INGRESS]]
    assert result["changed"] is True
    cluster.requests.clear()
    again = k8s_apply.run(many(tmp_path), cluster=cluster)
    assert cluster.requests == [] and again["changed"] is False and again["unchanged"] == 6


def test_a_no_op_over_every_add_on_reads_each_record_and_object_once_in_one_round(tmp_path):
    cluster = FakeCluster()
    k8s_apply.run(many(tmp_path), cluster=cluster)
    cluster.reads.clear()
    cluster.rounds.clear()
    again = k8s_apply.run(many(tmp_path), cluster=cluster)
    assert again["changed"] is False and again["unchanged"] == 6
    records = [apply.ref_key(k8s_apply.record_ref(c)) for c in ("metallb", "ingress")]
    objects = [apply.ref_key(apply.ref(o)) for o in [*BASE[:3], POOL, *INGRESS]]
    assert sorted(cluster.reads) == sorted(records + objects)               # nothing twice, both phases
    assert cluster.rounds[0] == len(records + objects)                      # all at once, first


def test_components_stop_at_the_first_add_on_that_fails_naming_it(tmp_path):
    cluster = FakeCluster(fail_on="controller")
    result = k8s_apply.run(many(tmp_path), cluster=cluster)
    assert result["failed"] is True and "metallb: applying Deployment demo/controller failed" in result["msg"]
    assert [r["component"] for r in result["results"]] == ["metallb"]
    assert not any("web" in c for c in cluster.calls)                     # ingress was not touched


def test_components_missing_from_manifests_are_named(tmp_path):
    args = many(tmp_path, components=["metallb", "gateway"])
    result = k8s_apply.run(args, cluster=FakeCluster())
    assert result["failed"] is True and result["msg"] == "manifests has no objects for gateway"


def test_components_preflight_checks_every_add_on_and_changes_nothing(tmp_path):
    cluster = FakeCluster()
    identities = {"metallb": {"objects": preflight_params([*BASE[:3], POOL])["objects"]},
                  "ingress": {"objects": preflight_params(INGRESS)["objects"]}}
    result = k8s_apply.run(many(tmp_path, preflight=True, manifests=identities), cluster=cluster)
    assert not result.get("failed"), result
    assert result["checked"] == 6 and result["changed"] is False and cluster.calls == []


def mounting(name, *secrets, optional=False):
    volumes = [{"name": s, "secret": {"secretName": s, **({"optional": True} if optional else {})}} for s in secrets]
    return obj("DaemonSet", name, api="apps/v1", spec={"template": {"spec": {"volumes": volumes}}})


def test_only_secrets_the_add_on_does_not_render_and_pods_cannot_do_without_are_awaited():
    cert = obj("Secret", "webhook-cert")
    rendered = {apply.ref_key(apply.ref(cert))}
    awaited = apply.awaited_secrets(mounting("speaker", "memberlist", "webhook-cert"), rendered)
    assert awaited == [{"apiVersion": "v1", "kind": "Secret", "namespace": "demo", "name": "memberlist"}]
    assert apply.awaited_secrets(mounting("speaker", "memberlist", optional=True), rendered) == []
    assert apply.awaited_secrets(obj("ConfigMap", "x"), rendered) == []


class SecretMadeByTheController(FakeCluster):
    """The add-on's controller writes Secret demo/memberlist once its Deployment is in the store, a few reads on."""

    def __init__(self):
        super().__init__()
        self.looks = 0

    def get(self, r):
        if r["kind"] == "Secret" and r["name"] == "memberlist":
            self.calls.append("look for Secret demo/memberlist")
            self.looks += 1
            if self.looks == 3 and ("apps", "Deployment", "demo", "controller") in self.store:
                self.store[apply.ref_key(r)] = {**obj("Secret", "memberlist", labelled=False),
                                                "metadata": {"name": "memberlist", "namespace": "demo",
                                                             "resourceVersion": "0"}}
        return super().get(r)


def test_a_workload_mounting_a_secret_its_add_on_creates_is_applied_once_the_secret_exists(tmp_path):
    cluster = SecretMadeByTheController()
    objects = [*BASE[:3], mounting("speaker", "memberlist"), POOL]
    base = k8s_apply.run(params(tmp_path, objects, phase="base"), cluster=cluster)
    assert not base.get("failed"), base
    assert "apply DaemonSet demo/speaker" not in cluster.calls                 # not with the other base objects
    finish = k8s_apply.run(params(tmp_path, objects, phase="finish"), cluster=cluster)
    assert not finish.get("failed"), finish
    steps = [c for c in cluster.calls if "k8snet-applied" not in c]
    assert steps[steps.index("apply Deployment demo/controller") + 1:] == [
        "look for Secret demo/memberlist", "look for Secret demo/memberlist", "look for Secret demo/memberlist",
        "apply DaemonSet demo/speaker", "apply IPAddressPool demo/lab"]
    assert finish["waited"][0]["what"] == ("Secret demo/memberlist to exist (the add-on creates it; "
                                           "DaemonSet demo/speaker mounts it)")
    cluster.calls.clear()
    again = k8s_apply.run(params(tmp_path, objects), cluster=cluster)         # as left: nothing sent, no look
    assert again["changed"] is False and cluster.calls == []


def test_a_secret_that_never_comes_fails_naming_it_and_the_workload(tmp_path):
    objects = [BASE[0], mounting("speaker", "memberlist")]
    result = k8s_apply.run(params(tmp_path, objects, wait_timeout=0), cluster=FakeCluster())
    assert result["failed"] is True
    assert "waiting for Secret demo/memberlist to exist (the add-on creates it; DaemonSet demo/speaker mounts it)" \
        in result["msg"]


class NodesUpWithTheNetwork(FakeCluster):
    """Two Nodes whose NetworkUnavailable condition turns False on the second look after flannel's DaemonSet
    exists (flanneld took its subnet)."""

    def __init__(self):
        super().__init__()
        self.looks = {}
        for name in ("n1", "n2"):
            self.store[("", "Node", "", name)] = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}

    def get(self, r):
        live = super().get(r)
        if r["kind"] == "Node":
            self.calls.append(f"look at Node {r['name']}")
            flannel_up = ("apps", "DaemonSet", "kube-flannel", "kube-flannel-ds") in self.store
            self.looks[r["name"]] = self.looks.get(r["name"], 0) + flannel_up
            up = "False" if self.looks[r["name"]] >= 2 else "True"
            live["status"] = {"conditions": [{"type": "NetworkUnavailable", "status": up}]}
        return live


def flannel_then_ingress(tmp_path, **more):
    args = many(tmp_path, components=["flannel", "ingress"], **more)
    (tmp_path / "flannel").mkdir(exist_ok=True)
    args["manifests"]["flannel"] = {"objects": items(tmp_path / "flannel", [
        obj("Namespace", "kube-flannel", namespace=None, component="flannel"),
        obj("DaemonSet", "kube-flannel-ds", namespace="kube-flannel", api="apps/v1", component="flannel")])}
    return args


def test_the_other_add_ons_are_applied_once_the_pod_network_is_up_on_every_node(tmp_path):
    cluster = NodesUpWithTheNetwork()
    result = k8s_apply.run(flannel_then_ingress(tmp_path), cluster=cluster)
    assert not result.get("failed"), result
    steps = [c.removeprefix("apply ") for c in cluster.calls if "k8snet-applied" not in c]
    assert steps == ["Namespace kube-flannel", "DaemonSet kube-flannel/kube-flannel-ds",
                     "look at Node n1", "look at Node n2", "look at Node n1", "look at Node n2",
                     "Namespace web", "Deployment web/nginx"]
    assert [w["what"] for w in result["results"][0]["waited"]] == [
        "the pod network to be up on Node n1", "the pod network to be up on Node n2",
        "DaemonSet kube-flannel/kube-flannel-ds to roll out"]
    cluster.calls.clear()
    again = k8s_apply.run(flannel_then_ingress(tmp_path), cluster=cluster)     # nothing sent: no Node looked at
    assert again["changed"] is False and cluster.calls == []


def test_a_pod_network_that_never_comes_up_stops_the_call_before_the_other_add_ons(tmp_path):
    cluster = NodesUpWithTheNetwork()
    cluster.looks = {"n2": -10**9}                                              # flanneld never starts on n2
    result = k8s_apply.run(flannel_then_ingress(tmp_path, wait_timeout=0.1), cluster=cluster)
    assert result["failed"] is True and result["msg"] == (
        "timed out after 0.1 s waiting for the pod network to be up on Node n2: its NetworkUnavailable condition is "
        "not False yet (the pod network sets it once the node has its subnet)")
    assert not any("web" in c for c in cluster.calls)


def test_the_waits_look_at_every_crd_and_controller_just_sent_at_once_and_spend_no_poll_when_they_are_ready(
        tmp_path, monkeypatch):
    monkeypatch.setattr(k8s_apply, "POLL", 0.5)
    crds = [obj("CustomResourceDefinition", f"k{i}.metallb.io", namespace=None, api="apiextensions.k8s.io/v1")
            for i in range(3)]
    objects = [BASE[0], *crds, BASE[2], POOL]
    cluster = FakeCluster()
    result = k8s_apply.run(params(tmp_path, objects), cluster=cluster)
    assert not result.get("failed"), result
    assert [w["seconds"] for w in result["waited"]] == [0.0] * 4                # the apply's answers are not looks
    assert 4 in cluster.rounds                                                   # the three CRDs and the controller


def test_check_mode_does_not_wait_for_a_pod_network_it_only_dry_ran(tmp_path):
    cluster = NodesUpWithTheNetwork()
    cluster.looks = {"n1": -10**9, "n2": -10**9}                               # never up: nothing was installed
    result = k8s_apply.run(flannel_then_ingress(tmp_path, wait_timeout=0.1), check_mode=True, cluster=cluster)
    assert not result.get("failed"), result
    assert result["changed"] is True and result["waited"] == [] and cluster.store.keys() == {
        ("", "Namespace", "", "kube-system"), ("", "Node", "", "n1"), ("", "Node", "", "n2")}



@pytest.mark.parametrize(("component", "sections", "gated"), [
    ("flannel", {}, {}),
    ("metallb", {}, {"DaemonSet metallb-system/speaker": ["memberlist"]}),
    ("metallb", {"metallb": {"bgp_implementation": "frr-k8s", "pools": []}},
     {"DaemonSet metallb-system/speaker": ["memberlist"]}),
    ("ingress", {}, {}),
    ("ingress", {"ingress": {"controller": "ingress-nginx"}},
     {"Deployment ingress-nginx/ingress-nginx-controller": ["ingress-nginx-admission"]}),     # its admission Job's
    ("gateway", {"gateway_api": {"enabled": True}}, {"Deployment nginx-gateway/nginx-gateway": ["server-tls"]}),
])
def test_on_the_pinned_bundles_only_workloads_mounting_a_secret_made_in_the_cluster_wait_for_it(
        component, sections, gated):
    objects = build_component(component, make_plan(**sections)).objects
    rendered = {apply.ref_key(apply.ref(o)) for o in objects}
    awaited = {apply.describe(apply.ref(o)): [s["name"] for s in apply.awaited_secrets(o, rendered)] for o in objects}
    assert {k: v for k, v in awaited.items() if v} == gated
