"""Filter ``onprem.k8snet.probe_scope``: the probes this run sends, given the last applied plan."""

from __future__ import annotations

DOCUMENTATION = r"""
name: probe_scope
author: k8snet maintainers
version_added: 0.1.0
short_description: Keep the underlay probes a run must send
description:
  - Returns the plan with its C(probes) restricted to what changed since the last applied plan (the one
    recorded after a run whose probes passed) - the pairs with a new or changed node at one end, the
    pool addresses that are new - and C(probes.scope), one line saying what is probed and why.
  - Everything is probed on a first run (no previous plan), when the overlay settings changed, and when
    the plan's C(k8s_probe_scope) is C(all).
options:
  _input:
    description: The network plan (C(network_plan_result.plan)).
    type: dict
    required: true
  previous:
    description:
      - The last applied plan as its record gives it back (C(plan_diff)'s C(previous)); empty when nothing was
        applied yet.
    type: dict
    required: true
  hostvars:
    description:
      - C(hostvars), to find the nodes without a trace of node preparation (no sysctl drop-in in the facts
        M(onprem.k8snet.node_facts) gathered, registered as C(network_plan_facts)), such as a reinstalled
        host with the same NIC. Their pairs are probed like a new node's.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Work out what this run must probe
  ansible.builtin.set_fact:
    underlay_probe_plan: >-
      {{ network_plan_result.plan | onprem.k8snet.probe_scope(applied_state_previous_plan, hostvars=hostvars) }}
"""

RETURN = r"""
_value:
  description:
    - The plan, with C(probes) scoped, C(probes.scope) added and C(probes.nodes), the nodes with a share in the
      probes (empty when nothing is probed).
  type: dict
"""

from ansible_collections.onprem.k8snet.plugins.module_utils import probe


def _unprepared(hostvars, nodes):
    """Nodes whose gathered facts show no sysctl drop-in of this project (never prepared, reinstalled, reset)."""
    out = []
    for node in nodes:
        facts = ((hostvars.get(node) or {}).get("network_plan_facts") or {}).get("facts") or {}
        if "sysctl" in facts and not (facts["sysctl"] or {}).get("file"):
            out.append(node)
    return out


def probe_scope(plan, previous, hostvars=None):
    unprepared = _unprepared(hostvars, plan["nodes"]) if hostvars else []
    return {**plan, "probes": probe.scoped(plan, previous or None, unprepared)}


class FilterModule:
    def filters(self):
        return {"probe_scope": probe_scope}
