#!/usr/bin/python
"""Module onprem.k8snet.network_plan: compute and validate the network plan on the controller."""

from __future__ import annotations

DOCUMENTATION = r"""
module: network_plan
author: k8snet maintainers
version_added: 0.1.0
short_description: Compute and validate the cluster network plan
description:
  - Builds the one network plan every role of this project reads, from the inventory's contract
    variables and every host's M(onprem.k8snet.node_facts), and validates it.
  - Checks CIDR syntax and host bits, every overlap between pod network, service network,
    LoadBalancer pools and host subnets, node subnet capacity, the NodePort range against ephemeral
    ports and the ports the cluster uses, pool addresses already in use on the hosts, flannel
    settings, the NIC each node will use, and misspelt variables.
  - Every problem names the variable (with list index or host), the value, why it is wrong and how
    to fix it; all problems are reported together, errors and warnings apart.
  - "Changes nothing, anywhere; run it on the controller (C(delegate_to: localhost), C(run_once))."
options:
  inputs:
    description:
      - What the P(onprem.k8snet.plan_inputs#filter) filter collects, C({hosts, unknown_variables}),
        optionally with C(inventory_name), C(base_dir) (where a relative C(k8s_render_dir) starts) and
        C(fetched_kubeconfig) (api mode, used when C(k8s_kubeconfig) is unset) and C(kube_proxy) (api mode,
        ConfigMap C(kube-system/kube-proxy) as read from the cluster, a list of at most one object; its mode
        decides flannel's C(EnableNFTables) when C(k8s_kube_proxy_mode) is unset, and must agree with it when set).
    type: dict
    required: true
  fail_on_error:
    description: Fail the task when the plan has errors. With C(false) the errors are only returned.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
notes:
  - The variables and their defaults are listed in the README (generated from
    C(plugins/module_utils/contract.py)).
seealso:
  - module: onprem.k8snet.node_facts
"""

EXAMPLES = r"""
- name: Compute and validate the network plan once, on the controller
  onprem.k8snet.network_plan:
    inputs: "{{ hostvars | onprem.k8snet.plan_inputs(groups['k8s_cluster'])
                | combine({'inventory_name': inventory_dir | basename, 'base_dir': lookup('env', 'PWD')}) }}"
  delegate_to: localhost
  run_once: true
  register: network_plan_result
"""

RETURN = r"""
plan:
  description: The normalized plan (see docs/ARCHITECTURE.md); null when there are errors.
  returned: always
  type: dict
errors:
  description: Every error, as C({severity, variable, value, why, fix}).
  returned: always
  type: list
  elements: dict
warnings_found:
  description: Every warning, in the same form as C(errors).
  returned: always
  type: list
  elements: dict
report:
  description: The problems as readable text, errors first.
  returned: always
  type: str
summary:
  description: A few lines describing a good plan.
  returned: success
  type: list
  elements: str
"""

from ansible_collections.onprem.k8snet.plugins.module_utils.in_process import run_module
from ansible_collections.onprem.k8snet.plugins.module_utils.plan import build_plan, summarize_plan

ARGUMENT_SPEC = {"inputs": {"type": "dict", "required": True},
                 "fail_on_error": {"type": "bool", "default": True}}


def run(params: dict, check_mode: bool = False, diff: bool = False) -> dict:
    """The module's result for these (validated) parameters; ``failed`` set when the plan is refused."""
    plan, problems = build_plan(params["inputs"])
    result = {
        "changed": False,
        "plan": plan,
        "errors": [p.as_dict() for p in problems.errors],
        "warnings_found": [p.as_dict() for p in problems.warnings],
        "report": problems.report(),
        "warnings": [str(warning) for warning in problems.warnings],
    }
    if problems.errors:
        if params["fail_on_error"]:
            # The message holds the readable list; `errors` the same, structured, for tooling.
            return {"failed": True, "msg": "The network plan has problems; nothing was changed.\n" + problems.report(),
                    "errors": result["errors"], "warnings": result["warnings"]}
        return result
    result["summary"] = summarize_plan(plan)
    return result


def main():
    run_module(run, ARGUMENT_SPEC)


if __name__ == "__main__":
    main()
