"""Day 2 on a live cluster (api mode, lab cluster): pools changed as an operator changes them.

- a pool added: `--check --diff` fails nothing, creates nothing, and says what the real run then
  does (the same objects); the real run creates the pool and its advertisement;
- that pool removed again: no object of it is left;
- the pool a LoadBalancer Service holds an address of, shrunk past that address: refused naming the
  Service and the address, nothing changed; with `k8s_allow_disruptive: true` it is applied.
"""

from __future__ import annotations

import pytest

from tests.integration.harness import wait_until
from tests.integration.renders import applied

pytestmark = [pytest.mark.lab, pytest.mark.cluster, pytest.mark.upstream]

LAB_POOL = {"name": "lab-l2", "addresses": ["192.168.56.240-192.168.56.250"]}
EXTRA_POOL = {"name": "lab-extra", "addresses": ["192.168.56.230-192.168.56.235"]}
DNS_LB = {"name": "dns-lb", "namespace": "kube-system", "type": "loadbalancer", "target": "kube-dns",
          "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}]}


@pytest.fixture(scope="module")
def cluster(lab_manager):
    # left up for the next modules (test_api_exposed_services_lab, test_api_exposure_lab): each converges the
    # installed cluster to what it needs, as a day-2 run would, instead of installing a new one
    return lab_manager.get("vagrant", 3, cluster=True)


def run(run_playbook, lab, tmp_path, pools, check=False, **extravars):
    return run_playbook("site.yml", lab.inventory, skip_tags="verify", check=check, diff=check,
                        extravars={"k8s_render_dir": str(tmp_path / "staging"), "metallb_pools": pools,
                                   # the ingress controller's Service would take a pool address too
                                   # (test_api_exposure_lab.py covers it): dns-lb holds the pool's first
                                   "ingress_enabled": False,
                                   "k8s_exposed_services": [DNS_LB], **extravars})


def pools_live(lab) -> dict[str, list[str]]:
    items = lab.kube_json("-n", "metallb-system", "get", "ipaddresspools.metallb.io")["items"]
    return {p["metadata"]["name"]: p["spec"]["addresses"] for p in items}


def advertisements(lab) -> list[str]:
    items = lab.kube_json("-n", "metallb-system", "get", "l2advertisements.metallb.io")["items"]
    return sorted(a["metadata"]["name"] for a in items)


def dns_lb_address(lab) -> str | None:
    status = lab.kube_json("-n", "kube-system", "get", "service", "dns-lb")["status"]
    return ((status.get("loadBalancer") or {}).get("ingress") or [{}])[0].get("ip")


def test_a_pool_added_checked_then_applied_then_removed(cluster, run_playbook, tmp_path):
    lab = cluster
    first = run(run_playbook, lab, tmp_path, [LAB_POOL])
    assert first.rc == 0, first.why()
    assert pools_live(lab) == {"lab-l2": ["192.168.56.240-192.168.56.250"]}

    dry = run(run_playbook, lab, tmp_path, [LAB_POOL, EXTRA_POOL], check=True)
    assert dry.rc == 0, dry.why()
    assert applied(dry) == {"metallb": applied(dry)["metallb"]}, applied(dry)        # only MetalLB would change
    assert applied(dry)["metallb"].startswith("metallb: 2 created, 0 updated, 0 deleted"), applied(dry)
    assert "lab-extra" not in pools_live(lab)                                          # and nothing did
    real = run(run_playbook, lab, tmp_path, [LAB_POOL, EXTRA_POOL])
    assert real.rc == 0, real.why()
    assert applied(real) == applied(dry)                                               # what --check said
    assert pools_live(lab)["lab-extra"] == ["192.168.56.230-192.168.56.235"]
    assert advertisements(lab) == ["lab-extra", "lab-l2"]

    removed = run(run_playbook, lab, tmp_path, [LAB_POOL])
    assert removed.rc == 0, removed.why()
    assert applied(removed)["metallb"].startswith("metallb: 0 created, 0 updated, 2 deleted"), applied(removed)
    assert list(pools_live(lab)) == ["lab-l2"] and advertisements(lab) == ["lab-l2"]


def test_shrinking_a_pool_past_a_held_address_is_refused_unless_allowed(cluster, run_playbook, tmp_path):
    lab = cluster
    wait_until(lambda: dns_lb_address(lab), 60, "MetalLB to give dns-lb an address")
    held = dns_lb_address(lab)
    assert held == "192.168.56.240", held
    shrunk = {"name": "lab-l2", "addresses": ["192.168.56.241-192.168.56.250"]}
    refused = run(run_playbook, lab, tmp_path, [shrunk])
    assert refused.rc != 0
    assert ("Service kube-system/dns-lb holds 192.168.56.240 from MetalLB pool lab-l2 "
            "(192.168.56.240-192.168.56.250); the new plan shrinks that pool past it, so the Service would lose "
            "its address") in refused.failed_messages(), refused.failed_messages()
    assert pools_live(lab) == {"lab-l2": ["192.168.56.240-192.168.56.250"]}
    assert refused.changed_hosts() == []

    allowed = run(run_playbook, lab, tmp_path, [shrunk], k8s_allow_disruptive=True)
    assert allowed.rc == 0, allowed.why()
    assert pools_live(lab) == {"lab-l2": ["192.168.56.241-192.168.56.250"]}
