"""Filter ``onprem.k8snet.flannel_annotations``: the Node annotation patches a run owes flanneld."""

from __future__ import annotations

DOCUMENTATION = r"""
name: flannel_annotations
author: k8snet maintainers
version_added: 0.3.0
short_description: The flannel public-ip annotations the live Nodes lack
description:
  - api mode. flanneld picks its NIC from C(flannel.alpha.coreos.com/node-public-ip[v6]) when it starts.
  - Returns one item per Node whose annotations differ from the plan, so a re-run that changes nothing
    patches nothing. A flannel pod already running on such a Node (a NIC change, a Node that joined
    before this run) holds another address, so the caller restarts it.
  - Hosts are matched to Nodes by address (see C(onprem.k8snet.node_names)); fails naming a host without
    a Node.
options:
  _input:
    description: The validated plan.
    type: dict
    required: true
  nodes:
    description: Live Node objects.
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Annotate the Nodes that need it
  onprem.k8snet.k8s_objects:
    state: patched
    objects: "{{ plan | onprem.k8snet.flannel_annotations(live_nodes.resources) | map(attribute='patch') }}"
"""

RETURN = r"""
_value:
  description: Items C({host, node, annotations, patch}), one per Node to patch (C(patch) is the Node merge patch).
  type: list
  elements: dict
"""

from ansible_collections.onprem.k8snet.plugins.filter.node_names import node_names
from ansible_collections.onprem.k8snet.plugins.module_utils.addons.flannel import annotation_changes


def flannel_annotations(plan, nodes):
    return annotation_changes(plan, node_names(plan["nodes"], nodes), nodes)


class FilterModule:
    def filters(self):
        return {"flannel_annotations": flannel_annotations}
