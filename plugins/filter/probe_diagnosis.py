"""Filter ``onprem.k8snet.probe_diagnosis``: the underlay probes' raw results, judged."""

from __future__ import annotations

DOCUMENTATION = r"""
name: probe_diagnosis
author: k8snet maintainers
version_added: 0.1.0
short_description: Turn the underlay probes' results into one line per failing pair
description:
  - Reads, for every host, the results the underlay_probe role registered as C(underlay_probe_result) (VXLAN
    pings, ARP adjacency, TCP/UDP reachability, MetalLB pool sweeps) and returns C({failures, summary}), that is
    one readable line per failing pair (with a diagnosis such as NAT, MTU mismatch or a closed port)
    and a few lines describing what passed.
options:
  _input:
    description: C(hostvars).
    type: dict
    required: true
  hosts:
    description: The probed hosts.
    type: list
    elements: str
    required: true
  plan:
    description: The network plan (C(network_plan_result.plan)).
    type: dict
    required: true
  ignore:
    description: Pool addresses whose ARP answers are expected (held by existing LoadBalancer Services).
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Judge the probes
  ansible.builtin.set_fact:
    underlay_probe_verdict: >-
      {{ hostvars | onprem.k8snet.probe_diagnosis(ansible_play_hosts, network_plan_result.plan) }}
"""

RETURN = r"""
_value:
  description: C({failures, summary}), both lists of strings.
  type: dict
"""

from ansible_collections.onprem.k8snet.plugins.module_utils import probe


def _results(hostvars, hosts, kind, key=None):
    """Per host, what its probe step returned for one kind of probe (hosts it skipped, or that sent none, left out)."""
    out = {}
    for host in hosts:
        registered = hostvars[host].get("underlay_probe_result") or {}
        found = registered.get(kind)
        if found is not None and not registered.get("skipped"):
            out[host] = found[key] if key else found
    return out


def probe_diagnosis(hostvars, hosts, plan, ignore=()):
    vxlan = _results(hostvars, hosts, "vxlan")
    arp = _results(hostvars, hosts, "arp", "answers")
    ports = _results(hostvars, hosts, "ports")
    sweeps = _results(hostvars, hosts, "pools")                  # {answers, duration} per sweeping host
    pools = {host: done["answers"] for host, done in sweeps.items()}
    failures = (probe.diagnose_vxlan(plan, vxlan) + probe.diagnose_arp(plan, arp) + probe.diagnose_ports(ports)
                + probe.diagnose_pools(plan, pools, list(ignore)))
    scope = plan["probes"].get("scope", "all pairs and pool addresses")
    summary = [f"probed: {scope}"]
    if vxlan or arp or ports:
        summary.append(f"pairs: {plan['probes']['mode']}" if scope.startswith("all ") else
                       f"pairs: the changed ones out of a {plan['probes']['mode']}")
    if vxlan:
        total = sum(len(v) for v in vxlan.values())
        good = sum(1 for v in vxlan.values() for c in v if c.get("large"))
        sizes = sorted({c["size"] for v in vxlan.values() for c in v})
        summary.append(f"vxlan (VNI {plan['flannel']['vni']}, UDP {plan['flannel']['port']}): {good}/{total} pairs "
                       f"passed with don't-fragment pings of {', '.join(map(str, sizes))} bytes")
    if arp:
        summary.append(f"host-gw: ARP adjacency checked from {len(arp)} nodes")
    if ports:
        total = sum(len(v) for v in ports.values())
        good = sum(1 for v in ports.values() for c in v if c.get("ok"))
        skipped = sum(1 for v in ports.values() for c in v if c.get("skipped"))
        summary.append(f"ports between nodes: {good}/{total} reachable" + (f", {skipped} skipped (in use)"
                                                                             if skipped else ""))
    for host, done in sweeps.items():
        sweep = plan["probes"]["pools"][host]
        summary.append(f"metallb pools: {len(sweep['addresses'])} addresses ARP-probed from {host} "
                       f"{sweep['dev']} in {done['duration']} s, {len(done['answers'])} answered"
                       + (f"; {sweep['truncated']} more not probed (limit {probe.ARP_TARGET_LIMIT})"
                          if sweep["truncated"] else ""))
    for unprobed in plan["probes"].get("pools_unprobed", []):
        summary.append(f"metallb pool {unprobed}: IPv6, not probed on the wire (no NDP probe yet); "
                       "make sure no host uses these addresses")
    return {"failures": failures, "summary": summary}


class FilterModule:
    def filters(self):
        return {"probe_diagnosis": probe_diagnosis}
