"""Filter ``onprem.k8snet.exposed_live``: complete k8s_exposed_services with what only the cluster knows."""

from __future__ import annotations

DOCUMENTATION = r"""
name: exposed_live
author: k8snet maintainers
version_added: 0.1.0
short_description: Resolve C(target) selectors and find NodePorts already held in the cluster
description:
  - api mode. For the plan's C(exposed_services) entries, takes each C(target) Service's selector from the live
    Services, and lists the fixed NodePorts that another existing Service already holds (naming it).
  - Returns C({entries, errors}); C(entries) carry their resolved C(selector).
options:
  _input:
    description: The plan's C(exposed_services) entries.
    type: list
    elements: dict
    required: true
  services:
    description: Live Service objects (all namespaces).
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Complete the entries
  ansible.builtin.set_fact:
    exposed_services_live: "{{ plan.exposed_services | onprem.k8snet.exposed_live(live.resources) }}"
"""

RETURN = r"""
_value:
  description: C({entries, errors}).
  type: dict
"""

from ansible_collections.onprem.k8snet.plugins.module_utils.services import live_nodeport_conflicts, resolve_selectors


def exposed_live(entries, services):
    selectors, problems = resolve_selectors(entries, services)
    problems.extend(live_nodeport_conflicts(entries, services))
    resolved = [{**entry, "selector": selector} for entry, selector in zip(entries, selectors, strict=True)]
    return {"entries": resolved, "errors": [str(p) for p in problems.errors]}


class FilterModule:
    def filters(self):
        return {"exposed_live": exposed_live}
