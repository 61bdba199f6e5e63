"""Filter ``onprem.k8snet.plan_inputs``: collect from the inventory what the network plan needs."""

from __future__ import annotations

DOCUMENTATION = r"""
name: plan_inputs
author: k8snet maintainers
version_added: 0.1.0
short_description: Collect the network plan's inputs from hostvars
description:
  - Returns, for every host of the cluster, the contract variables set for it (see the README's variable
    table), its groups, its inventory address (C(ip) if set, else C(ansible_host)) and the facts
    registered by the network_plan role; plus the variables that look like misspelt contract variables.
  - The result is the C(inputs) option of M(onprem.k8snet.network_plan).
options:
  _input:
    description: C(hostvars).
    type: dict
    required: true
  hosts:
    description: The cluster's hosts, usually C(groups['k8s_cluster']).
    type: list
    elements: str
    required: true
  facts_var:
    description: Name of the registered variable holding each host's M(onprem.k8snet.node_facts) result.
    type: str
    default: network_plan_facts
"""

EXAMPLES = r"""
- name: Compute the plan
  onprem.k8snet.network_plan:
    inputs: "{{ hostvars | onprem.k8snet.plan_inputs(groups['k8s_cluster']) }}"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
_value:
  description: C({hosts, unknown_variables}) as M(onprem.k8snet.network_plan) takes them.
  type: dict
"""

import ipaddress

from ansible_collections.onprem.k8snet.plugins.module_utils import contract

# Variables every host has that are never contract variables.
_MAGIC_PREFIXES = ("ansible_", "inventory_", "group_names", "groups", "hostvars", "omit", "playbook_dir",
                   "role_", "play_hosts", "network_plan_")


def _address(hv) -> str | None:
    for key in ("ip", "ansible_host"):
        value = hv.get(key)
        if value:
            try:
                return str(ipaddress.ip_address(str(value)))
            except ValueError:
                continue
    return None


def plan_inputs(hostvars, hosts, facts_var="network_plan_facts"):
    result_hosts = {}
    names_by_host: dict[str, list[str]] = {}
    for host in hosts:
        hv = hostvars[host]
        keys = list(hv.keys())
        result_hosts[host] = {
            "groups": list(hv.get("group_names", [])),
            "address": _address(hv),
            "vars": {name: hv[name] for name in keys if name in contract.CONTRACT},
            "facts": (hv.get(facts_var) or {}).get("facts"),
        }
        for name in keys:
            if not contract.is_known(name) and not name.startswith(_MAGIC_PREFIXES):
                names_by_host.setdefault(name, []).append(host)
    unknown = {name: hosts_ for name, hosts_ in names_by_host.items() if contract.closest(name)}
    return {"hosts": result_hosts, "unknown_variables": unknown}


class FilterModule:
    def filters(self):
        return {"plan_inputs": plan_inputs}
