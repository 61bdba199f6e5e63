"""The filters as playbooks call them: thin over module_utils, so these pin what each adds on top."""

from __future__ import annotations

from ansible_collections.onprem.k8snet.plugins.filter.exposed_live import FilterModule as ExposedLive
from ansible_collections.onprem.k8snet.plugins.filter.probe_diagnosis import FilterModule as ProbeDiagnosis
from ansible_collections.onprem.k8snet.plugins.filter.traffic_report import FilterModule as TrafficReport
from ansible_collections.onprem.k8snet.plugins.module_utils import verify

exposed_live = ExposedLive().filters()["exposed_live"]
traffic_report = TrafficReport().filters()["traffic_report"]
probe_diagnosis = ProbeDiagnosis().filters()["probe_diagnosis"]


def service(namespace, name, selector=None, node_ports=()):
    return {"metadata": {"namespace": namespace, "name": name},
            "spec": {"selector": selector, "ports": [{"nodePort": n, "protocol": "TCP"} for n in node_ports]}}


def entry(name, *, target=None, selector=None, node_port=None):
    return {"namespace": "shop", "name": name, "target": target, "selector": selector,
            "ports": [{"port": 80, "node_port": node_port}]}


def test_exposed_live_copies_the_target_selector_and_names_a_held_nodeport():
    live = [service("shop", "web", {"app": "web"}), service("other", "old", {"app": "old"}, [30080])]
    out = exposed_live([entry("web-np", target="web", node_port=30080), entry("api", selector={"app": "api"})],
                       live)
    assert [e["selector"] for e in out["entries"]] == [{"app": "web"}, {"app": "api"}]
    assert len(out["errors"]) == 1
    assert out["errors"][0].startswith("k8s_exposed_services[0].ports[0].node_port")
    assert "held by Service other/old" in out["errors"][0]


def test_exposed_live_refuses_a_target_that_is_not_there_and_lets_an_entry_keep_its_own_port():
    live = [service("shop", "web-np", {"app": "web"}, [30080])]      # the entry's own Service holds it
    out = exposed_live([entry("web-np", selector={"app": "web"}, node_port=30080), entry("x", target="gone")], live)
    assert len(out["errors"]) == 1 and out["errors"][0].startswith("k8s_exposed_services[1].target")
    assert "is not a Service in namespace shop" in out["errors"][0]


PLAN = {"cluster": {"apply": "api", "inventory_name": "lab", "nodeport_range": {"start": 30000, "end": 32767}},
        "flannel": {"backend": "vxlan"}, "metallb": {"enabled": False, "pools": []}}


def test_traffic_report_judges_live_results_in_api_mode():
    live = {"pod": [{"item": {"kind": "intra-pod", "what": "over localhost", "expect": "verify-a"},
                     "rc": 0, "stdout": "verify-a"}], "external": []}
    out = traffic_report({}, [], PLAN, live)
    rows = {r["kind"]: r for r in out["rows"]}
    assert rows["intra-pod"]["status"] == verify.PASS and rows["pod-to-pod"]["status"] == verify.FAIL
    assert "| intra-pod | PASS |" in out["markdown"]


def test_traffic_report_reads_each_hosts_registered_evidence_in_render_mode():
    good = {"verify_host": {"loopback_rc": 0, "sysctls": {"net.ipv4.ip_forward": "1",
                                                         "net.bridge.bridge-nf-call-iptables": "1",
                                                         "net.ipv4.ip_local_reserved_ports": "30000-32767"}},
            "underlay_probe_result": {"vxlan": [{"large": True}]}}
    bad = {**good, "verify_host": {**good["verify_host"], "loopback_rc": 1}}
    render = {**PLAN, "cluster": {**PLAN["cluster"], "apply": "render"}}
    rows = {r["kind"]: r for r in traffic_report({"node1": good, "node2": bad}, ["node1", "node2"], render)["rows"]}
    assert rows["intra-pod"]["status"] == verify.FAIL and "node2" in rows["intra-pod"]["evidence"]
    assert rows["pod-to-pod"]["status"] == verify.NEEDS_CLUSTER
    rows = {r["kind"]: r for r in traffic_report({"node1": good}, ["node1"], render)["rows"]}
    assert rows["intra-pod"]["status"] == verify.PASS


PROBE_PLAN = {
    "nodes": {n: {"iface": {"name": "eth1", "ipv4": f"192.168.56.1{i}"}} for i, n in enumerate(("node1", "node2"), 1)},
    "flannel": {"vni": 1, "port": 8472},
    "probes": {"mode": "full mesh", "pools": {}, "arp": {}},
}


def test_probe_diagnosis_reads_what_each_host_registered_and_skips_skipped_ones():
    vxlan = [{"peer": "node2", "kind": "vxlan", "address": "192.168.56.12", "size": 1450, "large": True}]
    hostvars = {"node1": {"underlay_probe_result": {"vxlan": vxlan, "ports": None}},
                "node2": {"underlay_probe_result": {"vxlan": None, "ports": [
                    {"peer": "node1", "address": "192.168.56.11", "protocol": "tcp", "port": 10250,
                     "why": "kubelet", "ok": False, "error": "connection refused"}]}},
                "node3": {"underlay_probe_result": {"skipped": True, "vxlan": [{**vxlan[0], "large": False}]}}}
    out = probe_diagnosis(hostvars, ["node1", "node2", "node3"], PROBE_PLAN)
    assert out["failures"] == ["node2 -> node1 192.168.56.11 tcp/10250 (kubelet): connection refused; "
                               "open it between the nodes"]
    assert "vxlan (VNI 1, UDP 8472): 1/1 pairs passed with don't-fragment pings of 1450 bytes" in out["summary"]
    assert "ports between nodes: 0/1 reachable" in out["summary"]
    assert out["summary"][:2] == ["probed: all pairs and pool addresses", "pairs: full mesh"]


def test_probe_diagnosis_names_an_address_in_use_and_says_how_long_each_pool_sweep_took():
    sweep = {"dev": "eth1", "addresses": ["192.168.56.240", "192.168.56.241"], "truncated": 0,
             "pools": {"192.168.56.240": "lab", "192.168.56.241": "lab"}}
    plan = {**PROBE_PLAN, "probes": {**PROBE_PLAN["probes"], "pools": {"node1": sweep}}}
    hostvars = {"node1": {"underlay_probe_result": {"vxlan": None, "pools": {
                    "answers": {"192.168.56.241": "52:54:00:12:34:56"}, "duration": 2.004}}},
                "node2": {"underlay_probe_result": {"vxlan": None, "pools": None}}}
    out = probe_diagnosis(hostvars, ["node1", "node2"], plan)
    assert out["failures"] == ["metallb pool lab: 192.168.56.241 is already in use on the wire: 52:54:00:12:34:56 "
                               "answered ARP (probed from node1 eth1); remove it from the pool or free it"]
    assert "metallb pools: 2 addresses ARP-probed from node1 eth1 in 2.004 s, 1 answered" in out["summary"]
