"""Exposed Services on the lab: the README's DNS example renders one valid NodePort Service with both
ports, a NodePort taken twice on one protocol is refused naming both entries, and a re-run changes nothing."""

from __future__ import annotations

import copy

import pytest

from tests.integration.renders import MANAGED_BY, load

pytestmark = pytest.mark.lab

# README, "Exposing services (TCP and UDP)": the same number on UDP and TCP is fine.
DNS = {"name": "coredns-np", "namespace": "kube-system", "type": "nodeport", "selector": {"k8s-app": "kube-dns"},
       "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "node_port": 30053},
                 {"name": "dns-tcp", "port": 53, "protocol": "TCP", "node_port": 30053}]}
SYSLOG_ON_30053_UDP = {"name": "syslog", "namespace": "logging", "type": "nodeport", "selector": {"app": "syslog"},
                       "ports": [{"name": "syslog", "port": 514, "protocol": "UDP", "node_port": 30053}]}
SERVICE_FILE = "exposed_services/50-service-kube-system-coredns-np.yaml"


def render(tmp_path, services):
    return {"k8s_render_dir": str(tmp_path / "rendered"), "k8s_exposed_services": copy.deepcopy(services)}


def test_dns_example_renders_one_service_with_udp_and_tcp_on_the_same_nodeport(clean_nodes, run_playbook,
                                                                                tmp_path):
    lab = clean_nodes
    first = run_playbook("site.yml", lab.inventory, extravars=render(tmp_path, [DNS]))
    assert first.rc == 0, first.why()      # the run validated the Service against the 1.35 schema

    rendered = tmp_path / "rendered"
    assert sorted(p.name for p in (rendered / "exposed_services").iterdir()) == [SERVICE_FILE.split("/")[1]]
    service = load(rendered / SERVICE_FILE)
    assert (service["apiVersion"], service["kind"]) == ("v1", "Service")
    assert (service["metadata"]["name"], service["metadata"]["namespace"]) == ("coredns-np", "kube-system")
    assert service["metadata"]["labels"].items() >= MANAGED_BY.items()
    assert service["spec"]["type"] == "NodePort"
    assert service["spec"]["selector"] == {"k8s-app": "kube-dns"}
    assert service["spec"]["ports"] == [
        {"name": "dns", "protocol": "UDP", "port": 53, "targetPort": 53, "nodePort": 30053},
        {"name": "dns-tcp", "protocol": "TCP", "port": 53, "targetPort": 53, "nodePort": 30053},
    ]

    again = run_playbook("site.yml", lab.inventory, extravars=render(tmp_path, [DNS]))
    assert again.rc == 0, again.why()
    assert again.changed_hosts() == []


def test_the_same_nodeport_in_two_services_is_refused_naming_both_entries(lab, run_playbook, tmp_path):
    result = run_playbook("site.yml", lab.inventory, extravars=render(tmp_path, [DNS, SYSLOG_ON_30053_UDP]))
    assert result.rc != 0
    assert ("k8s_exposed_services[1].ports[0].node_port = 30053: 30053 is also "
            "k8s_exposed_services[0].ports[0].node_port (kube-system/coredns-np): the API gives a NodePort number "
            "to one Service, whatever the protocol") in result.failed_messages()
    assert result.changed_hosts() == []
    assert not (tmp_path / "rendered").exists()
