"""Filter ``onprem.k8snet.traffic_report``: the verification table from what verify and the probes registered."""

from __future__ import annotations

DOCUMENTATION = r"""
name: traffic_report
author: k8snet maintainers
version_added: 0.1.0
short_description: The four kinds of traffic, pass/fail, with evidence
description:
  - Builds the verification table (intra-pod, pod-to-pod, pod-to-service, external-to-service) from what the
    verify role and the underlay probes registered on every host, or, in api mode, from the checks made through
    the test workloads (C(live)).
  - Returns C({rows, markdown}); each row is C({kind, status, evidence, line}), status PASS, FAIL or NEEDS CLUSTER.
options:
  _input:
    description: C(hostvars).
    type: dict
    required: true
  hosts:
    description: The verified hosts.
    type: list
    elements: str
    required: true
  plan:
    description: The network plan.
    type: dict
    required: true
  live:
    description: api mode, the checks made through the test workloads, C({kind, [{what, ok, detail}]}).
    type: dict
"""

EXAMPLES = r"""
- name: Build the table
  ansible.builtin.set_fact:
    verify_report: "{{ hostvars | onprem.k8snet.traffic_report(ansible_play_hosts, network_plan_result.plan) }}"
"""

RETURN = r"""
_value:
  description: C({rows, markdown}).
  type: dict
"""

from ansible_collections.onprem.k8snet.plugins.module_utils import verify


def traffic_report(hostvars, hosts, plan, live=None):
    if live:
        rows = verify.live_rows(live)
    else:
        evidence = {}
        for host in hosts:
            hv = hostvars[host]
            checks = hv.get("verify_host") or {}
            sysctls = checks.get("sysctls") or {}
            evidence[host] = {
                "loopback_rc": checks.get("loopback_rc"),
                "forwarding": sysctls.get("net.ipv4.ip_forward"),
                "bridge_nf": sysctls.get("net.bridge.bridge-nf-call-iptables"),
                "reserved_ports": sysctls.get("net.ipv4.ip_local_reserved_ports"),
                "vxlan": (hv.get("underlay_probe_result") or {}).get("vxlan"),
            }
        scope = ((hostvars[hosts[0]].get("underlay_probe_plan") or {}).get("probes") or {}).get("scope") \
            if hosts else None
        rows = verify.host_rows(plan, evidence, scope)
    mode = plan["cluster"]["apply"]
    return {"rows": rows, "markdown": verify.markdown(rows, plan["cluster"]["inventory_name"], mode)}


class FilterModule:
    def filters(self):
        return {"traffic_report": traffic_report}
