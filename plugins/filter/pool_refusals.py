"""Filter onprem.k8snet.pool_refusals: pool changes that would take addresses LoadBalancer Services hold."""

from __future__ import annotations

DOCUMENTATION = r"""
name: pool_refusals
author: k8snet maintainers
version_added: 0.1.0
short_description: Pool changes that would take addresses from LoadBalancer Services
description:
  - One line per address a Service holds that lies in a pool of the last applied plan but in no pool of
    this plan (the pool was removed or shrunk), naming the Service, the address and the pool.
positional: old_pools, new_pools
options:
  _input:
    description: Live Service objects.
    type: list
    elements: dict
    required: true
  old_pools:
    description: C(plan.metallb.pools) of the last applied plan.
    type: list
    elements: dict
    required: true
  new_pools:
    description: C(plan.metallb.pools) of this run.
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Refuse pool changes that take addresses from Services
  ansible.builtin.fail:
    msg: "{{ services | onprem.k8snet.pool_refusals(old_plan.metallb.pools, plan.metallb.pools) }}"
"""

RETURN = r"""
_value:
  description: Readable refusals, empty when nothing is taken.
  type: list
  elements: str
"""

from ansible_collections.onprem.k8snet.plugins.module_utils.reconcile import pool_shrink_refusals


def pool_refusals(services, old_pools, new_pools):
    return pool_shrink_refusals(old_pools or [], new_pools or [], services or [])


class FilterModule:
    def filters(self):
        return {"pool_refusals": pool_refusals}
