"""Lookup onprem.k8snet.addons: the add-on registry (plugins/module_utils/addons/registry.py), in apply order."""

from __future__ import annotations

DOCUMENTATION = r"""
name: addons
author: k8snet maintainers
version_added: 0.1.0
short_description: The add-ons of this collection, in apply order
description:
  - One entry per add-on of the registry in C(plugins/module_utils/addons/registry.py), the one list of
    add-ons that the roles, C(site.yml), the docs and the tests read.
  - Takes no terms.
"""

EXAMPLES = r"""
- name: Every add-on's component name, in apply order
  ansible.builtin.debug:
    msg: "{{ lookup('onprem.k8snet.addons', wantlist=True) | map(attribute='name') }}"
"""

RETURN = r"""
_raw:
  description: The add-ons.
  type: list
  elements: dict
  contains:
    name:
      description: The component (label C(onprem.k8snet/component), directory under the render directory).
      type: str
    role:
      description: The role holding its pinned upstream files and its pre-steps.
      type: str
    projects:
      description: Upstream projects its pinned files come from.
      type: list
      elements: str
    pins:
      description: Whether the role has C(tasks/pins.yml) (pinned upstream files).
      type: bool
    pre_steps:
      description: Whether the role's C(tasks/main.yml) runs before the add-ons are applied.
      type: bool
"""

from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase
from ansible_collections.onprem.k8snet.plugins.module_utils.addons.registry import ADDONS


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        if terms:
            raise AnsibleError("lookup onprem.k8snet.addons takes no terms")
        return [addon.as_dict() for addon in ADDONS.values()]
