"""Day-2 plan diff: what changed, safe or disruptive, and the readable report."""

from __future__ import annotations

import copy
import json

import pytest
from ansible_collections.onprem.k8snet.plugins.module_utils import state


def node(address, name="eth1"):
    return {"address": address, "control_plane": False, "pod_mtu": 1450, "reserved_ports": "30000-32767",
            "iface": {"name": name, "ipv4": address, "ipv6": None, "mtu": 1500, "reason": "r"},
            "host_ports": [], "ephemeral_ports": {"start": 32768, "end": 60999}, "firewall": {"kind": "none"}}


PLAN = {
    "cluster": {"pod_cidr": {"ipv4": "10.244.0.0/16", "ipv6": None}, "service_cidr": {"ipv4": "10.96.0.0/12",
                "ipv6": None}, "node_pod_prefix": {"ipv4": 24, "ipv6": 64},
                "nodeport_range": {"start": 30000, "end": 32767}, "apply": "render", "kube_version": "1.35",
                "registry_mirror": None, "upstream_mirror": None, "render_dir": "/x"},
    "flannel": {"backend": "vxlan", "vni": 1, "port": 8472, "mtu": None, "iface_arg": "eth1", "annotate_nodes": False},
    "metallb": {"enabled": True, "pools": [{"name": "a", "mode": "l2", "addresses": ["192.168.56.240/30"]}],
                "bgp_peers": []},
    "ingress": {"enabled": True, "exposure": "loadbalancer", "lb_ip": None},
    "gateway_api": {"enabled": False},
    "exposed_services": [],
    "nodes": {"node1": node("192.168.56.11"), "node2": node("192.168.56.12")},
    "probes": {"mode": "full mesh"},
    "warnings": ["w"],
}


APPLIED = state.load(state.record(PLAN, "0.2.0"))       # PLAN as a later run reads it back from its record


def changed(**edits):
    plan = copy.deepcopy(PLAN)
    for path, value in edits.items():
        target = plan
        keys = path.split("__")
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return plan


def test_first_run_has_no_changes_and_says_so():
    assert state.diff({}, PLAN) == []
    assert state.report([], first_run=True) == ["nothing applied yet: this run installs everything"]


def test_same_plan_has_no_changes_even_if_volatile_parts_differ():
    other = changed(probes={"mode": "ring"}, warnings=[])
    other["nodes"]["node1"]["ephemeral_ports"] = {"start": 1024, "end": 65000}
    assert state.diff(APPLIED, other) == []
    assert state.digest(PLAN) == state.digest(other)
    assert state.report([]) == ["no change since the last applied plan"]


def test_where_the_controller_fetches_the_manifests_is_no_change_and_not_in_the_record():
    """A run from a shell with K8SNET_UPSTREAM_MIRROR set, then one without, changes nothing in the cluster."""
    mirrored = changed(cluster__upstream_mirror="/work/shared/upstream")
    assert state.diff(APPLIED, mirrored) == [] and state.record(mirrored, "0.2.0") == state.record(PLAN, "0.2.0")
    older = json.loads(state.record(PLAN, "0.2.0"))                  # a record written before it was left out
    older["applied"]["cluster"]["upstream_mirror"] = "/work/shared/upstream"
    assert state.diff(state.load(json.dumps(older)), PLAN) == []


@pytest.mark.parametrize(("edit", "path"), [
    ({"cluster__pod_cidr": {"ipv4": "10.200.0.0/16", "ipv6": None}}, "cluster.pod_cidr.ipv4"),
    ({"cluster__service_cidr": {"ipv4": "10.100.0.0/16", "ipv6": None}}, "cluster.service_cidr.ipv4"),
    ({"cluster__node_pod_prefix": {"ipv4": 25, "ipv6": 64}}, "cluster.node_pod_prefix.ipv4"),
    ({"flannel__backend": "host-gw"}, "flannel.backend"),
    ({"flannel__vni": 2}, "flannel.vni"),
    ({"flannel__port": 4789}, "flannel.port"),
])
def test_disruptive_changes_are_refused_with_explanation(edit, path):
    changes = state.diff(APPLIED, changed(**edit))
    assert [c.path for c in changes if c.kind == state.DISRUPTIVE] == [path]
    refusal = state.refusals(changes)[0]
    assert path in refusal and "k8s_allow_disruptive" in refusal and "Instead:" in refusal


def test_pool_and_exposure_changes_are_safe_and_named():
    new = changed(ingress__exposure="nodeport")
    new["metallb"]["pools"][0]["addresses"] = ["192.168.56.244/30"]
    changes = state.diff(APPLIED, new)
    assert {c.path for c in changes} == {"metallb.pools.a.addresses", "ingress.exposure"}
    assert all(c.kind == state.SAFE for c in changes)
    assert "~ ingress.exposure: loadbalancer -> nodeport" in state.report(changes)


def test_added_node_is_one_safe_change():
    new = copy.deepcopy(PLAN)
    new["nodes"]["node3"] = node("192.168.56.13")
    changes = state.diff(APPLIED, new)
    assert len(changes) == 1 and changes[0].path == "nodes.node3" and changes[0].kind == state.SAFE
    assert state.report(changes)[0].startswith("+ nodes.node3")


def test_removed_pool_and_changed_nic():
    new = copy.deepcopy(PLAN)
    new["metallb"]["pools"] = []
    new["nodes"]["node2"]["iface"]["name"] = "eth2"
    changes = {c.path: c for c in state.diff(APPLIED, new)}
    assert changes["metallb.pools.a"].after is None
    assert "restarts" in changes["nodes.node2.iface.name"].note


def test_plan_diff_run_refuses_a_disruptive_change_unless_allowed_and_returns_the_record():
    from ansible_collections.onprem.k8snet.plugins.modules import plan_diff

    new = changed(flannel__port=4789)
    recorded = state.record(PLAN, "0.2.0")
    refused = plan_diff.run({"recorded": recorded, "plan": new, "allow_disruptive": False})
    assert refused["failed"] and refused["msg"].startswith("Refusing disruptive changes (nothing was changed):")
    assert "flannel.port: 8472 -> 4789 is disruptive" in refused["msg"]
    allowed = plan_diff.run({"recorded": recorded, "plan": new, "allow_disruptive": True})
    assert not allowed.get("failed") and allowed["disruptive"] and allowed["report"][0].startswith("!! flannel.port")
    assert '"port":4789' in allowed["record"] and "probes" not in allowed["record"]
    assert allowed["previous"] == APPLIED
    first = plan_diff.run({"recorded": "", "plan": PLAN, "allow_disruptive": False})
    assert (first["previous"], first["report"]) == ({}, ["nothing applied yet: this run installs everything"])


def test_plan_diff_refuses_shrinking_a_pool_past_an_address_a_service_holds_given_the_services():
    from ansible_collections.onprem.k8snet.plugins.modules import plan_diff

    def with_pool(last: str) -> dict:
        plan = copy.deepcopy(PLAN)
        plan["metallb"]["pools"] = [{"name": "a", "mode": "l2", "addresses": [f"192.168.56.240-{last}"],
                                     "ranges": [{"first": "192.168.56.240", "last": last, "family": 4}]}]
        return plan

    recorded = state.record(with_pool("192.168.56.243"), "0.2.0")
    held = [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
             "spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {"ingress": [{"ip": "192.168.56.243"}]}}}]
    shrunk = with_pool("192.168.56.242")
    refused = plan_diff.run({"recorded": recorded, "plan": shrunk, "allow_disruptive": False, "services": held})
    assert refused["failed"] and refused["msg"].startswith(
        "Refusing pool changes that take addresses from Services (nothing was changed); set k8s_allow_disruptive")
    assert "Service default/web holds 192.168.56.243 from MetalLB pool a" in refused["msg"]
    # allowed, without the Services (render mode), or with the address still in the pool: not refused
    for params in ({"allow_disruptive": True, "services": held}, {"allow_disruptive": False},
                   {"allow_disruptive": False, "services": held, "plan": with_pool("192.168.56.250")}):
        outcome = plan_diff.run({"recorded": recorded, "plan": shrunk, **params})
        assert not outcome.get("failed"), (params, outcome.get("msg"))


def big_plan(count: int) -> dict:
    plan = copy.deepcopy(PLAN)
    plan["nodes"] = {f"worker-{i:05d}.site.example.org": node(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
                     for i in range(count)}
    plan["nodes"]["worker-00007.site.example.org"]["iface"]["name"] = "ens9"      # one node of another shape
    return plan


def test_the_record_of_5000_nodes_fits_a_configmap_and_reads_back_as_the_plan_compares():
    plan = big_plan(5000)
    text = state.record(plan, "0.2.0")
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": state.STATE_CONFIGMAP,
                 "namespace": "kube-system", "labels": {"app.kubernetes.io/managed-by": "k8snet"}},
                 "data": {"state.json": text, "digest": state.digest(plan), "version": "0.2.0"}}
    size = len(json.dumps(configmap).encode())
    assert size < 1 << 20, f"{size} bytes"
    assert size / 5000 < 80                                   # bytes per node: linear, and small
    assert state.load(text) == state.comparable(plan)
    assert len(json.loads(text)["applied"]["nodes"]["shapes"]) == 2
    assert state.diff(state.load(text), plan) == []


def test_a_record_written_by_0_1_is_compared_not_taken_for_a_first_run():
    old = json.dumps({"project_version": "0.1.0", "digest": "x", "plan": PLAN}, indent=1)
    assert state.load(old) == state.comparable(PLAN)
    assert [c.path for c in state.diff(state.load(old), changed(flannel__mtu=1400))] == ["flannel.mtu"]


def test_a_record_that_is_not_json_is_reported():
    with pytest.raises(ValueError, match="the last applied plan is not JSON"):
        state.load("{half")
