"""Filter ``onprem.k8snet.sysctl_pending``: would node preparation change the sysctl drop-in or the runtime?"""

from __future__ import annotations

DOCUMENTATION = r"""
name: sysctl_pending
author: k8snet maintainers
version_added: 0.1.0
short_description: Tell from the gathered facts whether the sysctl drop-in or the runtime values differ
description:
  - Given what M(onprem.k8snet.node_facts) gathered at the start of the run (C(facts.sysctl)), returns
    whether M(onprem.k8snet.sysctl_conf) with these values would change the drop-in or a runtime value,
    using the same rules as the module. Node preparation skips the module where nothing differs.
  - Anything unknown counts as a difference (nothing gathered, another path, a parameter not read).
options:
  _input:
    description: C(facts.sysctl) from M(onprem.k8snet.node_facts).
    type: dict
    required: true
  values:
    description: The wanted parameters and values.
    type: dict
    required: true
  path:
    description: The drop-in the module writes.
    type: path
    required: true
"""

EXAMPLES = r"""
- name: Persist and apply the kernel parameters, where they differ
  onprem.k8snet.sysctl_conf:
    values: "{{ wanted }}"
  when: network_plan_facts.facts.sysctl | onprem.k8snet.sysctl_pending(wanted, '/etc/sysctl.d/90-k8snet.conf')
"""

RETURN = r"""
_value:
  description: True when the module would change something (or when that cannot be told).
  type: bool
"""

from ansible_collections.onprem.k8snet.plugins.module_utils import sysctl


def sysctl_pending(gathered, values, path):
    return sysctl.pending(gathered, values, path)


class FilterModule:
    def filters(self):
        return {"sysctl_pending": sysctl_pending}
