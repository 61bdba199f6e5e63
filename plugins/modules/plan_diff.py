#!/usr/bin/python
"""Module onprem.k8snet.plan_diff: the day-2 difference against the last applied plan, and its guard."""

from __future__ import annotations

DOCUMENTATION = r"""
module: plan_diff
author: k8snet maintainers
version_added: 0.1.0
short_description: Compare the network plan with the one last applied, and refuse disruptive changes
description:
  - Lists every setting, pool, Service and node that differs between the plan last applied to the
    cluster and the plan of this run, classified as safe (pools, advertisements, exposure, NodePorts,
    adding nodes) or disruptive (pod or service network, node pod prefix, flannel backend, VNI, port).
  - Fails, before anything is changed, when a change is disruptive and O(allow_disruptive) is false,
    saying what would break and how to do it instead.
  - Given the live O(services) (api mode), also fails when a MetalLB pool is removed or shrunk past an address
    a LoadBalancer Service holds (unless O(allow_disruptive)), naming the Service, the address and the pool.
  - Changes nothing; run it on the controller.
options:
  recorded:
    description:
      - The record of the last applied plan, as the state file or ConfigMap holds it (the text RV(record) gave
        the run that wrote it); empty on a first run.
    type: str
  plan:
    description: The plan of this run.
    type: dict
    required: true
  allow_disruptive:
    description: Apply disruptive changes anyway (the inventory's C(k8s_allow_disruptive)).
    type: bool
    default: false
  services:
    description:
      - The cluster's Services as read from it (api mode); the pools of the last applied plan and of this one
        are checked against the LoadBalancer addresses they hold. Not checked when omitted (render mode).
    type: list
    elements: dict
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Show what this run changes
  onprem.k8snet.plan_diff:
    recorded: "{{ lookup('ansible.builtin.file', render_dir ~ '/k8snet-state.json', errors='ignore') }}"
    plan: "{{ network_plan_result.plan }}"
    allow_disruptive: "{{ network_plan_result.plan.cluster.allow_disruptive }}"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
changes:
  description: Every change, as C({path, before, after, kind, breaks, how, note}).
  returned: always
  type: list
  elements: dict
report:
  description: The changes as readable lines (C(!!) marks disruptive ones).
  returned: always
  type: list
  elements: str
disruptive:
  description: Whether any change is disruptive.
  returned: always
  type: bool
digest:
  description: sha256 of the comparable part of the new plan (recorded with the state).
  returned: always
  type: str
record:
  description:
    - The record to store once this run succeeded (compact JSON; the comparable part of the plan with the
      per-node part packed, digest, project version, format).
  returned: always
  type: str
previous:
  description:
    - The last applied plan's comparable part, read from O(recorded) (empty on a first run); the probes' scope
      and the pool guard read it.
  returned: always
  type: dict
"""

from ansible_collections.onprem.k8snet.plugins.module_utils import reconcile, state
from ansible_collections.onprem.k8snet.plugins.module_utils.in_process import run_module

ARGUMENT_SPEC = {"recorded": {"type": "str"}, "plan": {"type": "dict", "required": True},
                 "allow_disruptive": {"type": "bool", "default": False},
                 "services": {"type": "list", "elements": "dict"}}


def run(params: dict, check_mode: bool = False, diff: bool = False) -> dict:
    """The module's result for these (validated) parameters; ``failed`` set when a change is refused."""
    plan = params["plan"]
    try:
        previous = state.load(params["recorded"])
    except ValueError as e:
        return {"failed": True, "msg": str(e)}
    changes = state.diff(previous, plan)
    result = {"changed": False, "changes": [c.as_dict() for c in changes], "previous": previous,
              "report": state.report(changes, first_run=not previous),
              "disruptive": any(c.kind == state.DISRUPTIVE for c in changes), "digest": state.digest(plan),
              "record": state.record(plan, plan.get("project_version", ""))}
    if params["allow_disruptive"]:
        return result
    refused = state.refusals(changes)
    if refused:
        return {"failed": True, "msg": "Refusing disruptive changes (nothing was changed):\n" + "\n".join(refused),
                "report": result["report"]}
    held = reconcile.pool_shrink_refusals(list(((previous.get("metallb") or {}).get("pools") or {}).values()),
                                          (plan.get("metallb") or {}).get("pools") or [], params.get("services") or [])
    if held:
        return {"failed": True, "report": result["report"],
                "msg": "\n".join(["Refusing pool changes that take addresses from Services (nothing was changed); set "
                                  "k8s_allow_disruptive: true to apply them anyway:", *held])}
    return result


def main():
    run_module(run, ARGUMENT_SPEC)


if __name__ == "__main__":
    main()
