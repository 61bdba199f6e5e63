"""The hand-written plan of planfixtures.py has the shape build_plan really returns, so it cannot drift.

Each fixture is compared with a plan that build_plan makes from lab inputs meant to give the same
plan: the same keys at every level, and values of the same type (None only where the real plan has
None too). Lists are compared item by item, the longer list's extra items with the other's first;
an empty list on either side says nothing about its items.
"""

from __future__ import annotations

import pytest
from ansible_collections.onprem.k8snet.plugins.module_utils.plan import build_plan

from tests.unit.inputs import lab_inputs
from tests.unit.planfixtures import make_plan, peer, pool

LAB_POOL = {"name": "lab-pool", "addresses": ["192.168.56.200-192.168.56.220"]}


def shape_differences(fixture, real, path="plan") -> list[str]:
    if isinstance(fixture, dict) and isinstance(real, dict):
        found = [f"{path}.{key}: only in the fixture" for key in sorted(set(fixture) - set(real))]
        found += [f"{path}.{key}: missing from the fixture" for key in sorted(set(real) - set(fixture))]
        for key in sorted(set(fixture) & set(real)):
            found += shape_differences(fixture[key], real[key], f"{path}.{key}")
        return found
    if isinstance(fixture, list) and isinstance(real, list):
        if not (fixture and real):
            return []
        # item by item; the longer list's extra items against the other's first (lists hold one kind of item)
        return [difference for i in range(max(len(fixture), len(real)))
                for difference in shape_differences(fixture[i] if i < len(fixture) else fixture[0],
                                                    real[i] if i < len(real) else real[0], f"{path}[{i}]")]
    if type(fixture) is not type(real):
        return [f"{path}: {type(fixture).__name__} {fixture!r} in the fixture, {type(real).__name__} {real!r} "
                "in the real plan"]
    return []


def real_plan(**cluster_vars) -> dict:
    plan, problems = build_plan(lab_inputs(k8s_apply="render", **cluster_vars))
    assert plan is not None, [str(e) for e in problems.errors]
    return plan


@pytest.mark.parametrize(("fixture", "real"), [
    pytest.param(make_plan, lambda: real_plan(metallb_pools=[LAB_POOL]), id="lab"),
    pytest.param(lambda: make_plan(metallb={"pools": [pool(), pool("bgp", ["10.10.0.0/24"], mode="bgp")],
                                            "bgp_peers": [peer()]}),
                 lambda: real_plan(metallb_pools=[LAB_POOL, {"name": "bgp", "mode": "bgp",
                                                             "addresses": ["10.10.0.0/24"]}],
                                   metallb_bgp_peers=[{"address": "10.0.0.1", "asn": 64512, "my_asn": 64513}]),
                 id="bgp"),
    pytest.param(lambda: make_plan(ingress={"exposure": "nodeport", "http_nodeport": 30080, "https_nodeport": 30443,
                                            "status_address": "192.168.56.11"}),
                 lambda: real_plan(metallb_pools=[LAB_POOL], ingress_exposure="nodeport",
                                   ingress_http_nodeport=30080, ingress_https_nodeport=30443), id="nodeport"),
])
def test_the_fixture_plan_has_the_shape_of_a_real_plan(fixture, real):
    assert shape_differences(fixture(), real()) == []


def test_the_comparison_sees_a_key_a_type_and_a_list_item_that_differ():
    drifted = make_plan(flannel={"vni": "1"}, cluster={"ipam": "host-local"})
    drifted["nodes"]["node2"]["host_ports"].append({"protocol": "udp", "port": 8472})
    del drifted["probes"]
    assert shape_differences(drifted, real_plan(metallb_pools=[LAB_POOL])) == [
        "plan.probes: missing from the fixture",
        "plan.cluster.ipam: only in the fixture",
        "plan.flannel.vni: str '1' in the fixture, int 1 in the real plan",
        "plan.nodes.node2.host_ports[1].why: missing from the fixture",
        "plan.nodes.node2.host_ports[1].port: int 8472 in the fixture, str '7946' in the real plan"]
