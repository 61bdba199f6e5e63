"""Day-2 decisions (desired vs live objects) and pool changes that would take Service addresses."""

from __future__ import annotations

import copy

import pytest
from ansible_collections.onprem.k8snet.plugins.module_utils.kube import (
    COMPONENT_LABEL,
    MANAGED_BY,
    MANAGED_BY_VALUE,
    identity,
)
from ansible_collections.onprem.k8snet.plugins.module_utils.reconcile import (
    decide,
    differences,
    pool_shrink_refusals,
)
from hypothesis import given
from hypothesis import strategies as st

OURS = {MANAGED_BY: MANAGED_BY_VALUE, COMPONENT_LABEL: "exposed_services"}


def service(name: str, namespace: str = "kube-system", *, labels=OURS, selector=None) -> dict:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels) if labels else None},
            "spec": {"type": "NodePort", "selector": selector or {"k8s-app": "kube-dns"},
                     "externalTrafficPolicy": "Cluster",
                     "ports": [{"name": "dns", "protocol": "UDP", "port": 53, "targetPort": 53, "nodePort": 30053}]}}


def as_live(obj: dict) -> dict:
    """What the API server returns for an applied object: its own fields and defaults added."""
    live = copy.deepcopy(obj)
    meta = live["metadata"]
    meta.update(uid="0d9f", resourceVersion="4711", creationTimestamp="2026-01-02T03:04:05Z", generation=1,
                managedFields=[{"manager": "k8snet", "operation": "Apply"}])
    meta.setdefault("annotations", {})["kubectl.kubernetes.io/last-applied-configuration"] = "{}"
    if live["kind"] == "Service":
        spec = live["spec"]
        spec.update(clusterIP="10.96.0.77", clusterIPs=["10.96.0.77"], sessionAffinity="None",
                    ipFamilies=["IPv4"], ipFamilyPolicy="SingleStack", internalTrafficPolicy="Cluster")
        spec.setdefault("externalTrafficPolicy", "Cluster")
        live["status"] = {"loadBalancer": {}}
    return live


def by_name(decision: dict) -> dict[str, list[str]]:
    return {k: sorted(o["metadata"]["name"] for o in v) for k, v in decision.items()}


# ---------------------------------------------------------------- decide

def test_each_outcome():
    desired = [service("new"), service("same"), service("changed")]
    live = [as_live(service("same")), as_live(service("changed", selector={"k8s-app": "other"})),
            as_live(service("gone")), as_live(service("theirs", labels=None))]
    assert by_name(decide(desired, live)) == {"create": ["new"], "update": ["changed"], "unchanged": ["same"],
                                              "delete": ["gone"], "foreign": []}


def test_outcomes_hold_desired_or_live_objects():
    desired, live = [service("a"), service("b")], [as_live(service("b", labels=None)), as_live(service("c"))]
    decision = decide(desired, live)
    assert decision["create"] == [desired[0]]
    assert decision["foreign"] == [live[0]]
    assert decision["delete"] == [live[1]]


def test_label_less_object_of_the_same_name_is_foreign_and_never_deleted():
    theirs = as_live(service("coredns-np", labels={"app": "dns"}))
    decision = decide([service("coredns-np")], [theirs])
    assert decision["foreign"] == [theirs]
    assert not decision["create"] and not decision["update"] and not decision["unchanged"]
    assert decide([], [theirs])["delete"] == []


def test_delete_only_the_component_given():
    metallb = as_live(service("speaker", labels={MANAGED_BY: MANAGED_BY_VALUE, COMPONENT_LABEL: "metallb"}))
    ours = as_live(service("old"))
    assert decide([], [metallb, ours], component="exposed_services")["delete"] == [ours]
    assert decide([], [metallb, ours])["delete"] == [metallb, ours]


def test_same_name_other_kind_or_namespace_is_another_object():
    desired = [service("dns")]
    other_ns = as_live(service("dns", namespace="default", labels=None))
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dns", "namespace": "kube-system"}}
    assert by_name(decide(desired, [other_ns, config]))["create"] == ["dns"]


@pytest.mark.parametrize(("change", "path"), [
    (lambda o: o["spec"]["selector"].update({"k8s-app": "x"}), "spec.selector.k8s-app"),
    (lambda o: o["metadata"]["labels"].pop(COMPONENT_LABEL), f"metadata.labels.{COMPONENT_LABEL}"),
    (lambda o: o["spec"]["ports"].append({"port": 54}), "spec.ports"),
    (lambda o: o["spec"]["ports"][0].update(nodePort=30054), "spec.ports[0].nodePort"),
    (lambda o: o["spec"].update(externalTrafficPolicy="Local"), "spec.externalTrafficPolicy"),
])
def test_drift_is_what_desired_sets(change, path):
    live = as_live(service("dns"))
    change(live)
    assert differences(service("dns"), live) == [path]
    assert by_name(decide([service("dns")], [live]))["update"] == ["dns"]


def test_fields_desired_leaves_unset_are_not_drift():
    live = as_live(service("dns"))
    live["spec"].update(sessionAffinity="ClientIP", healthCheckNodePort=32000)
    live["metadata"]["labels"]["team"] = "dns"
    assert differences(service("dns"), live) == []


def test_server_fields_are_not_drift():
    desired = service("dns")
    desired["metadata"]["creationTimestamp"] = None  # as upstream manifests carry it
    desired["status"] = {}
    assert differences(desired, as_live(service("dns"))) == []


def test_headless_service_asks_for_no_cluster_ip():
    desired = service("dns")
    desired["spec"]["clusterIP"] = "None"
    assert differences(desired, as_live(service("dns"))) == ["spec.clusterIP"]
    live = as_live(desired)
    live["spec"]["clusterIP"], live["spec"]["clusterIPs"] = "None", ["None"]
    assert differences(desired, live) == []


def webhook(ca: str | None) -> dict:
    hook = {"name": "pools.metallb.io", "admissionReviewVersions": ["v1"], "sideEffects": "None",
            "clientConfig": {"service": {"name": "metallb-webhook-service", "namespace": "metallb-system",
                                         "path": "/validate"}}}
    if ca is not None:
        hook["clientConfig"]["caBundle"] = ca
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "metallb-webhook-configuration", "labels": dict(OURS)}, "webhooks": [hook]}


@pytest.mark.parametrize("desired_ca", [None, "", "Cg=="])
def test_injected_ca_bundle_is_not_drift(desired_ca):
    live = as_live(webhook("LS0tLS1CRUdJTi...="))
    live["webhooks"][0].update(failurePolicy="Fail", matchPolicy="Equivalent", timeoutSeconds=10)
    assert by_name(decide([webhook(desired_ca)], [live]))["unchanged"] == ["metallb-webhook-configuration"]


def test_crd_status_is_not_drift():
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "ipaddresspools.metallb.io", "labels": dict(OURS), "creationTimestamp": None},
           "spec": {"group": "metallb.io", "conversion": {"strategy": "Webhook", "webhook": {
               "clientConfig": {"caBundle": "", "service": {"name": "w", "namespace": "metallb-system"}},
               "conversionReviewVersions": ["v1"]}}},
           "status": {"acceptedNames": {"kind": "", "plural": ""}, "conditions": None, "storedVersions": None}}
    live = as_live(crd)
    live["spec"]["conversion"]["webhook"]["clientConfig"]["caBundle"] = "LS0t"
    live["status"] = {"acceptedNames": {"kind": "IPAddressPool", "plural": "ipaddresspools"},
                      "storedVersions": ["v1beta1"]}
    assert differences(crd, live) == []


def test_empty_or_null_values_match_a_missing_field():
    desired = service("dns")
    desired["spec"].update(sessionAffinityConfig=None, externalIPs=[])
    desired["metadata"]["annotations"] = {}
    live = as_live(service("dns"))
    del live["metadata"]["annotations"]
    assert differences(desired, live) == []
    live["spec"]["externalIPs"] = ["192.0.2.1"]
    assert differences(desired, live) == ["spec.externalIPs"]


def test_an_identity_desired_twice_is_refused():
    with pytest.raises(ValueError, match="Service kube-system/dns is desired twice"):
        decide([service("dns"), service("dns")], [])


# ---------------------------------------------------------------- properties

NAMES = st.sampled_from(["a", "b", "c", "d"])
NAMESPACES = st.sampled_from(["ns1", "ns2"])
KINDS = st.sampled_from(["ConfigMap", "Secret"])
DATA = st.dictionaries(st.sampled_from(["k1", "k2", "k3"]), st.sampled_from(["x", "y"]), max_size=3)
LABELS = st.sampled_from([OURS, {MANAGED_BY: MANAGED_BY_VALUE, COMPONENT_LABEL: "metallb"}, {}, {"app": "x"}])


def obj(kind, namespace, name, data, labels) -> dict:
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": namespace,
                                                           "labels": dict(labels)}, "data": data}


DESIRED = st.lists(st.builds(obj, KINDS, NAMESPACES, NAMES, DATA, st.just(OURS)), unique_by=identity, max_size=8)
LIVE = st.lists(st.builds(obj, KINDS, NAMESPACES, NAMES, DATA, LABELS).map(as_live), unique_by=identity,
                max_size=10)


def ids(objects: list[dict]) -> list[tuple]:
    return [identity(o) for o in objects]


@given(DESIRED, LIVE)
def test_decide_partitions_desired_and_our_live_objects(desired, live):
    d = decide(desired, live, component="exposed_services")
    placed = ids(d["create"]) + ids(d["update"]) + ids(d["unchanged"]) + ids(d["foreign"])
    assert sorted(placed) == sorted(ids(desired))
    wanted = set(ids(desired))
    ours_gone = [identity(o) for o in live if identity(o) not in wanted and o["metadata"]["labels"] == OURS]
    assert sorted(ids(d["delete"])) == sorted(ours_gone)
    present = {identity(o): o for o in live}
    assert sorted(ids(d["create"])) == sorted(k for k in wanted if k not in present)
    unlabelled = [k for k in wanted if k in present and MANAGED_BY not in present[k]["metadata"]["labels"]]
    assert sorted(ids(d["foreign"])) == sorted(unlabelled)


def merge(live: object, desired: object) -> object:
    if isinstance(live, dict) and isinstance(desired, dict):
        return {**live, **{k: merge(live.get(k), v) for k, v in desired.items()}}
    return copy.deepcopy(desired)


def applied(decision: dict, live: list[dict]) -> list[dict]:
    state = {identity(o): o for o in live}
    for o in decision["delete"]:
        del state[identity(o)]
    for o in decision["create"] + decision["update"]:
        state[identity(o)] = merge(state.get(identity(o), {}), o)
    return list(state.values())


@given(DESIRED, LIVE)
def test_applying_the_decision_yields_desired(desired, live):
    first = decide(desired, live, component="exposed_services")
    again = decide(desired, applied(first, live), component="exposed_services")
    assert again["create"] == again["update"] == again["delete"] == []
    assert ids(again["foreign"]) == ids(first["foreign"])
    assert len(again["unchanged"]) == len(desired) - len(first["foreign"])


# ---------------------------------------------------------------- MetalLB pools

def pool(name: str, *ranges: tuple[str, str]) -> dict:
    return {"name": name, "mode": "l2", "auto_assign": True, "addresses": [f"{a}-{b}" for a, b in ranges],
            "ranges": [{"first": a, "last": b, "family": 6 if ":" in a else 4} for a, b in ranges]}


def lb(name: str, *ips: str, namespace: str = "default", kind: str = "LoadBalancer") -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
            "spec": {"type": kind}, "status": {"loadBalancer": {"ingress": [{"ip": ip} for ip in ips]}}}


LAB = pool("lab-pool", ("192.168.56.240", "192.168.56.250"))
SERVICES = [lb("web", "192.168.56.241"), lb("ingress", "192.168.56.249", namespace="nginx-ingress")]


def test_removing_a_pool_names_every_service_address_and_pool():
    lines = pool_shrink_refusals([LAB], [], SERVICES)
    assert lines == [
        "Service default/web holds 192.168.56.241 from MetalLB pool lab-pool (192.168.56.240-192.168.56.250); "
        "the new plan removes that pool, so the Service would lose its address",
        "Service nginx-ingress/ingress holds 192.168.56.249 from MetalLB pool lab-pool "
        "(192.168.56.240-192.168.56.250); the new plan removes that pool, so the Service would lose its address"]


def test_shrinking_a_pool_past_a_held_address():
    (line,) = pool_shrink_refusals([LAB], [pool("lab-pool", ("192.168.56.240", "192.168.56.245"))], SERVICES)
    assert line.startswith("Service nginx-ingress/ingress holds 192.168.56.249 from MetalLB pool lab-pool")
    assert "shrinks that pool" in line


@pytest.mark.parametrize("new", [
    [LAB],
    [pool("lab-pool", ("192.168.56.230", "192.168.56.254"))],  # grown
    [pool("lab-pool", ("192.168.56.241", "192.168.56.241"), ("192.168.56.249", "192.168.56.250"))],  # still held
    [pool("renamed", ("192.168.56.240", "192.168.56.250"))],  # the address moves to another pool
    [LAB, pool("more", ("192.168.57.1", "192.168.57.9"))],
], ids=["same", "grown", "shrunk_around", "moved", "added"])
def test_pool_changes_that_keep_every_held_address(new):
    assert pool_shrink_refusals([LAB], new, SERVICES) == []


@pytest.mark.parametrize("svc", [
    lb("outside", "10.0.0.5"),  # from another load balancer, not a pool of ours
    lb("nodeport", "192.168.56.241", kind="NodePort"),
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "pending"}, "spec": {"type": "LoadBalancer"}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "named"}, "spec": {"type": "LoadBalancer"},
     "status": {"loadBalancer": {"ingress": [{"hostname": "lb.example.com"}]}}},
], ids=["outside", "not_lb", "pending", "hostname"])
def test_services_that_hold_no_pool_address(svc):
    assert pool_shrink_refusals([LAB], [], [svc]) == []


def test_ipv6_and_dual_stack_addresses():
    old = [pool("v6", ("fd00:56::100", "fd00:56::1ff")), LAB]
    lines = pool_shrink_refusals(old, [LAB], [lb("dual", "192.168.56.242", "fd00:56::101")])
    assert len(lines) == 1 and "holds fd00:56::101 from MetalLB pool v6 (fd00:56::100-fd00:56::1ff)" in lines[0]
