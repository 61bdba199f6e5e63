"""Filter ``onprem.k8snet.node_names``: inventory host -> the live Node it is, by address."""

from __future__ import annotations

DOCUMENTATION = r"""
name: node_names
author: k8snet maintainers
version_added: 0.2.0
short_description: Match the plan's hosts to the cluster's Nodes by address
description:
  - api mode. Inventory names need not be Node names; each host is the Node whose C(InternalIP) is its
    inventory address or the address of its chosen NIC.
  - Fails naming the host when no Node has its address, or when two hosts match one Node.
options:
  _input:
    description: The plan's C(nodes) (host -> node plan).
    type: dict
    required: true
  nodes:
    description: Live Node objects.
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Find each host's Node
  ansible.builtin.set_fact:
    node_names: "{{ plan.nodes | onprem.k8snet.node_names(live_nodes.resources) }}"
"""

RETURN = r"""
_value:
  description: Host -> Node name.
  type: dict
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.onprem.k8snet.plugins.module_utils.kube import node_names as match


def node_names(plan_nodes, nodes):
    found, problems = match(plan_nodes, nodes)
    if problems:
        raise AnsibleFilterError("The cluster's Nodes do not match the inventory:\n  " + "\n  ".join(problems))
    return found


class FilterModule:
    def filters(self):
        return {"node_names": node_names}
