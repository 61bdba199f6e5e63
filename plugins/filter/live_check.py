"""Filter ``onprem.k8snet.live_check``: the plan checked against what the live cluster says (api mode)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: live_check
author: k8snet maintainers
version_added: 0.2.0
short_description: Check the network plan against the live cluster before anything is changed
description:
  - api mode, in the validation phase. Refuses a cluster whose Nodes are not the inventory's hosts (matched by
    InternalIP), Node podCIDRs, a controller-manager mask size, a service network or a NodePort range that
    differ from the plan, another CNI or an older flannel, kube-proxy in IPVS mode without strictARP when
    MetalLB may not fix it, L2 pools no node may announce, and fixed ingress NodePorts another Service holds.
  - Each problem names the variable, its value, what the cluster says and the fix.
  - Returns C({summary, warnings, errors}); C(summary) says which Node each host is and kube-proxy's mode, and
    ends with the warnings, one line each starting with C(warning), for traps the cluster sets (such as
    externalTrafficPolicy Local with kube-proxy in nftables mode); C(warnings) also lists them alone.
options:
  _input:
    description: The network plan.
    type: dict
    required: true
  live:
    description:
      - What was read from the cluster, C({nodes, control_plane_pods, kube_proxy, daemonsets, services}),
        each a list of objects.
    type: dict
    required: true
  kubeconfig:
    description: How the kubeconfig was found, for the messages (its path, and where it came from).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Check the plan against the cluster
  ansible.builtin.set_fact:
    checked: "{{ plan | onprem.k8snet.live_check(live, kubeconfig=plan.cluster.kubeconfig) }}"
"""

RETURN = r"""
_value:
  description: C({summary, warnings, errors}), lists of lines.
  type: dict
"""

from ansible_collections.onprem.k8snet.plugins.module_utils.live import check


def live_check(plan, live, kubeconfig):
    summary, problems = check(plan, live, kubeconfig)
    warnings = [str(p) for p in problems.warnings]
    return {"summary": summary + [f"warning: {w}" for w in warnings], "warnings": warnings,
            "errors": [str(p) for p in problems.errors]}


class FilterModule:
    def filters(self):
        return {"live_check": live_check}
