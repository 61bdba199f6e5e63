"""Filter onprem.k8snet.lb_addresses: the LoadBalancer addresses live Services hold (MetalLB announces them)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: lb_addresses
author: k8snet maintainers
version_added: 0.1.0
short_description: The LoadBalancer addresses held by Services
description:
  - From live Service objects (M(kubernetes.core.k8s_info)), every address in C(status.loadBalancer.ingress).
  - The underlay probe ignores ARP answers for them (MetalLB itself announces them).
options:
  _input:
    description: Service objects.
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Ignore what MetalLB already announces
  ansible.builtin.set_fact:
    underlay_probe_ignore_addresses: "{{ services.resources | onprem.k8snet.lb_addresses }}"
"""

RETURN = r"""
_value:
  description: Addresses, sorted and unique.
  type: list
  elements: str
"""

from ansible_collections.onprem.k8snet.plugins.module_utils.access import lb_addresses as _service_lb_addresses


def lb_addresses(services):
    return sorted({a for svc in services or [] if (svc.get("spec") or {}).get("type") == "LoadBalancer"
                   for a in _service_lb_addresses(svc) if not a.startswith("<")})


class FilterModule:
    def filters(self):
        return {"lb_addresses": lb_addresses}
