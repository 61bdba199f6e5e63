"""k8s_exposed_services live (api mode, lab cluster): the README's example answered from outside, a
LoadBalancer on a fixed address whose selector is copied from a `target` Service, and both removed
again when the inventory drops them.

- site.yml with the README's `coredns-np` (NodePort 30053, UDP and TCP) and `coredns-lb` (`type:
  loadbalancer`, `target: kube-dns`, `lb_ip` 192.168.56.245): from the client namespace CoreDNS
  answers `kubernetes.default.svc.cluster.local` on 30053 of every node and on the fixed address,
  over UDP and TCP; the client's neighbour entry for that address is the MAC of the node MetalLB
  names in its ServiceL2Status (the ARP owner);
- site.yml without them: both Services are deleted (read back from the cluster, not from a
  staging directory), and the same queries now fail: the check can fail.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.integration.harness import wait_until
from tests.integration.renders import applied

pytestmark = [pytest.mark.lab, pytest.mark.cluster, pytest.mark.upstream]

DNS_QUERY = Path(__file__).with_name("dns_query.py")
NAME = "kubernetes.default.svc.cluster.local"
LB_IP = "192.168.56.245"
README_EXAMPLE = {
    "name": "coredns-np", "namespace": "kube-system", "type": "nodeport", "selector": {"k8s-app": "kube-dns"},
    "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "node_port": 30053},
              {"name": "dns-tcp", "port": 53, "protocol": "TCP", "node_port": 30053}]}
ON_FIXED_IP = {
    "name": "coredns-lb", "namespace": "kube-system", "type": "loadbalancer", "target": "kube-dns",
    "lb_ip": LB_IP, "ports": [{"name": "dns", "port": 53, "protocol": "UDP"},
                              {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]}


def ask(lab, server: str, port: int, transport: str):
    """CoreDNS's A records for the kubernetes Service, asked from the client namespace."""
    return lab.client_exec([sys.executable, str(DNS_QUERY), server, str(port), NAME, transport], check=False)


def test_exposed_services_answer_from_outside_and_go_when_dropped(lab_cluster, run_playbook, tmp_path):
    lab = lab_cluster("vagrant")       # test_api_day2_lab's cluster when it ran before (converged here), else a new one
    staging = {"k8s_render_dir": str(tmp_path / "staging")}
    result = run_playbook("site.yml", lab.inventory, skip_tags="verify",
                          extravars={**staging, "k8s_exposed_services": [README_EXAMPLE, ON_FIXED_IP]})
    assert result.rc == 0, result.why()
    said = applied(result).get("exposed_services", "")
    assert said.startswith("exposed_services: 2 created"), applied(result)

    kubernetes_ip = lab.kube_json("get", "service", "kubernetes")["spec"]["clusterIP"]
    lb = lab.kube_json("-n", "kube-system", "get", "service", "coredns-lb")
    assert lb["spec"]["selector"] == {"k8s-app": "kube-dns"}                      # copied from the target
    wait_until(lambda: lb_address(lab) == LB_IP, 60, f"MetalLB to assign {LB_IP}")
    for server, port in [*((lab.addresses[n], 30053) for n in lab.nodes), (LB_IP, 53)]:
        for transport in ("udp", "tcp"):
            answer = ask(lab, server, port, transport)
            assert (answer.returncode, answer.stdout.split()) == (0, [kubernetes_ip]), \
                (server, port, transport, answer.stderr)

    owner = l2_owner(lab, "coredns-lb")
    neighbour = lab.client_exec(["ip", "neigh", "show", LB_IP]).stdout.split()
    assert neighbour[neighbour.index("lladdr") + 1] == bridge_mac(lab, owner), (owner, neighbour)

    dropped = run_playbook("site.yml", lab.inventory, skip_tags="verify",
                           extravars={**staging, "k8s_exposed_services": []})
    assert dropped.rc == 0, dropped.why()
    said = applied(dropped).get("exposed_services", "")
    assert "0 created, 0 updated, 2 deleted" in said, applied(dropped)
    names = {s["metadata"]["name"] for s in lab.kube_json("-n", "kube-system", "get", "services")["items"]}
    assert names == {"kube-dns"}
    # The Services are gone from the API; kube-proxy and the speakers take their rules and the address back
    # within a sync or two (a loaded machine's CI saw node1's NodePort answer right after the run).
    for server, port in ((lab.addresses["node1"], 30053), (LB_IP, 53)):
        wait_until(lambda server=server, port=port: ask(lab, server, port, "udp").returncode == 1, 30,
                   f"{server}:{port} to stop answering")


def lb_address(lab) -> str | None:
    ingress = lab.kube_json("-n", "kube-system", "get", "service", "coredns-lb")["status"].get("loadBalancer", {})
    return (ingress.get("ingress") or [{}])[0].get("ip")


def l2_owner(lab, service: str) -> str:
    """The node MetalLB announces the Service from (its ServiceL2Status)."""
    statuses = lab.kube_json("-n", "metallb-system", "get", "servicel2statuses.metallb.io")["items"]
    (status,) = [s for s in statuses if s["status"].get("serviceName") == service]
    return status["status"]["node"]


def bridge_mac(lab, node: str) -> str:
    (nic,) = [n for n in lab.nics(node) if n["kind"] == "bridge"]
    return lab.exec(node, f"cat /sys/class/net/{nic['name']}/address").stdout.strip()
