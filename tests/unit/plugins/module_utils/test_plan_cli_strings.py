"""`-e name=value` gives strings: the plan reads fixed NodePorts as the integers they are."""

from __future__ import annotations

import pytest
from ansible_collections.onprem.k8snet.plugins.module_utils.plan import build_plan

from tests.unit.inputs import lab_inputs


@pytest.mark.parametrize("variable", ["ingress_http_nodeport", "ingress_https_nodeport"])
def test_fixed_nodeport_given_as_a_string_is_checked_as_a_number(variable):
    plan, problems = build_plan(lab_inputs(ingress_exposure="nodeport", **{variable: "29999"}))
    assert plan is None
    whys = [e.why for e in problems.errors if e.variable == variable]
    assert whys == ["is outside k8s_nodeport_range 30000-32767"]


def test_fixed_nodeport_given_as_a_string_reaches_the_plan_as_an_integer():
    plan, problems = build_plan(lab_inputs(ingress_exposure="nodeport", ingress_http_nodeport="30080"))
    assert not problems.errors
    assert plan["ingress"]["http_nodeport"] == 30080
