"""k8s_exposed_services: every rule good and bad, live NodePort conflicts, the Service objects."""

from __future__ import annotations

import copy

import pytest
from ansible_collections.onprem.k8snet.plugins.module_utils import kube
from ansible_collections.onprem.k8snet.plugins.module_utils.addr import parse_range_entry
from ansible_collections.onprem.k8snet.plugins.module_utils.plan import SUPPORTED_K8S_VERSIONS
from ansible_collections.onprem.k8snet.plugins.module_utils.services import (
    build_service,
    check_exposed_services,
    live_nodeport_conflicts,
    resolve_selectors,
)
from hypothesis import given
from hypothesis import strategies as st

POOLS = [(parse_range_entry("192.168.56.240-192.168.56.250"), "metallb_pools[0].addresses[0]"),
         (parse_range_entry("fd00:56::100/120"), "metallb_pools[1].addresses[0]")]
RESERVED = {("TCP", 30080): "ingress_http_nodeport", ("TCP", 30443): "ingress_https_nodeport"}


def coredns(**changes) -> dict:
    """The classic: cluster DNS on every node at 30053, UDP and TCP."""
    entry = {"name": "coredns-np", "namespace": "kube-system", "type": "nodeport",
             "selector": {"k8s-app": "kube-dns"},
             "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "node_port": 30053},
                       {"name": "dns-tcp", "port": 53, "protocol": "TCP", "node_port": 30053}]}
    entry.update(changes)
    return entry


def web(**changes) -> dict:
    entry = {"name": "web", "type": "loadbalancer", "selector": {"app": "web"}, "ports": [{"port": 80}]}
    entry.update(changes)
    return entry


def check(value, **overrides):
    args = {"nodeport_range": (30000, 32767), "metallb_enabled": True, "pool_spans": POOLS,
            "reserved_nodeports": RESERVED, "used_lb_ips": {"192.168.56.240": "ingress_lb_ip"},
            "apply_mode": "render"}
    args.update(overrides)
    return check_exposed_services(copy.deepcopy(value), **args)


def valid(value, **overrides) -> list[dict]:
    entries, problems = check(value, **overrides)
    assert not problems.errors, problems.report()
    return entries


def one_error(value, variable, **overrides):
    _, problems = check(value, **overrides)
    found = [e for e in problems.errors if e.variable == variable]
    assert len(found) == 1, f"expected one error about {variable}, got: {[str(e) for e in problems.errors]}"
    assert len(problems.errors) == 1, problems.report()
    return found[0]


def with_port(entry: dict, j: int = 0, **changes) -> dict:
    entry = copy.deepcopy(entry)
    entry["ports"][j].update(changes)
    return entry


# ---------------------------------------------------------------- good input, normalized

def test_dns_example_same_number_on_udp_and_tcp_is_valid():
    (entry,) = valid([coredns()])
    assert entry == {
        "name": "coredns-np", "namespace": "kube-system", "type": "nodeport",
        "selector": {"k8s-app": "kube-dns"}, "target": None, "lb_ip": None, "external_traffic_policy": "Cluster",
        "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "target_port": 53, "node_port": 30053},
                  {"name": "dns-tcp", "port": 53, "protocol": "TCP", "target_port": 53, "node_port": 30053}]}


def test_defaults_are_filled_and_spellings_normalized():
    (entry,) = valid([{"name": "web", "type": "NodePort", "selector": {"app": "web"},
                       "ports": [{"port": 8080, "protocol": "udp"}], "external_traffic_policy": "local"}])
    assert entry["namespace"] == "default"
    assert entry["type"] == "nodeport"
    assert entry["external_traffic_policy"] == "Local"
    assert entry["ports"] == [{"name": None, "port": 8080, "protocol": "UDP", "target_port": 8080, "node_port": None}]


@pytest.mark.parametrize("entry", [
    web(lb_ip="192.168.56.241"),
    web(lb_ip="fd00:56::101"),
    web(ports=[{"port": 80, "target_port": "http"}]),
    web(ports=[{"port": 80, "target_port": 8080, "node_port": 30081}]),
    web(ports=[{"name": "http", "port": 80}, {"name": "https", "port": 443, "target_port": "https"}]),
    web(ports=[{"port": 9999, "protocol": "SCTP"}]),
    web(selector={"app.kubernetes.io/name": "web", "tier": ""}),
    web(external_traffic_policy="Local"),
    coredns(type="loadbalancer"),
    web(name="a" * 63),
], ids=["lb_ip", "lb_ip_v6", "named_target", "node_port_lb", "two_named", "sctp", "prefixed_label",
        "local_policy", "dns_as_lb", "long_name"])
def test_good_entries(entry):
    assert len(valid([entry])) == 1


def test_target_in_api_mode():
    (entry,) = valid([coredns(selector=None, target="kube-dns")], apply_mode="api")
    assert entry["target"] == "kube-dns" and entry["selector"] is None


def test_same_name_in_two_namespaces_and_no_list_at_all():
    assert len(valid([web(), web(namespace="shop")])) == 2
    assert valid(None) == [] and valid([]) == []


def test_unknown_keys_warn_and_no_range_means_no_range_check():
    entries, problems = check([with_port(web(color="blue"), tls=True)], nodeport_range=None)
    assert not problems.errors
    assert {w.variable for w in problems.warnings} == {"k8s_exposed_services[0].color",
                                                       "k8s_exposed_services[0].ports[0].tls"}
    assert entries[0]["name"] == "web"
    valid([with_port(web(), node_port=40000)], nodeport_range=None)


# ---------------------------------------------------------------- one bad value: the variable, the words

V = "k8s_exposed_services[0]"
TWO_PORTS = [{"name": "dns", "port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]


@pytest.mark.parametrize(("entry", "variable", "words"), [
    (web(name="Web"), f"{V}.name", "DNS-1035"),
    (web(name="1web"), f"{V}.name", "starting with a letter"),
    (web(name="a" * 64), f"{V}.name", "DNS-1035"),
    (web(name=None), f"{V}.name", "Service name"),
    (web(namespace="Kube_System"), f"{V}.namespace", "DNS-1123"),
    (web(type="clusterip"), f"{V}.type", "nodeport or loadbalancer"),
    (web(type=None), f"{V}.type", "nodeport or loadbalancer"),
    (web(target="other"), V, "exactly one of selector"),
    (web(selector=None), V, "exactly one of selector"),
    (web(selector={}), f"{V}.selector", "non-empty mapping"),
    (web(selector="app=web"), f"{V}.selector", "non-empty mapping"),
    (web(selector={"app": 1}), f"{V}.selector.app", 'quote it: app: "1"'),
    (web(selector={"canary": True}), f"{V}.selector.canary", 'quote it: canary: "true"'),
    (web(selector={"bad key!": "x"}), f'{V}.selector["bad key!"]', "not a label key"),
    (web(selector={"app": "-web"}), f"{V}.selector.app", "not a label value"),
    (web(ports=[]), f"{V}.ports", "empty"),
    (web(ports=None), f"{V}.ports", "empty"),
    (web(ports=["80"]), f"{V}.ports[0]", "not a mapping"),
    (with_port(web(), port=0), f"{V}.ports[0].port", "1..65535"),
    (with_port(web(), port=70000), f"{V}.ports[0].port", "1..65535"),
    (with_port(web(), port="80"), f"{V}.ports[0].port", "1..65535"),
    (with_port(web(), port=True), f"{V}.ports[0].port", "1..65535"),
    (with_port(web(), protocol="ICMP"), f"{V}.ports[0].protocol", "TCP, UDP, SCTP"),
    (with_port(web(), target_port="http_port"), f"{V}.ports[0].target_port", "container port name"),
    (with_port(web(), target_port="averyverylongname"), f"{V}.ports[0].target_port", "at most 15"),
    (with_port(web(), target_port="8080"), f"{V}.ports[0].target_port", "with a letter"),
    (with_port(web(), target_port="web--port"), f"{V}.ports[0].target_port", "container port name"),
    (with_port(web(), target_port=0), f"{V}.ports[0].target_port", "1..65535"),
    (web(ports=TWO_PORTS), f"{V}.ports[1].name", "required when a Service has several ports"),
    (with_port(web(), name="HTTP"), f"{V}.ports[0].name", "DNS-1123"),
    (web(ports=[{"name": "dns", "port": 53}, {"name": "dns", "port": 54}]), f"{V}.ports[1].name",
     "also the name of ports[0]"),
    (web(ports=[{"name": "a", "port": 53, "protocol": "UDP"}, {"name": "b", "port": 53, "protocol": "udp"}]),
     f"{V}.ports[1].port", "53/UDP is also ports[0] of this Service"),
    (with_port(web(), node_port=29999), f"{V}.ports[0].node_port", "outside k8s_nodeport_range 30000-32767"),
    (with_port(web(), node_port="30053"), f"{V}.ports[0].node_port", "not a port number"),
    (with_port(web(), node_port=30080), f"{V}.ports[0].node_port", "30080 is already ingress_http_nodeport"),
    (coredns(ports=[{"name": "dns", "port": 53, "protocol": "UDP", "node_port": 30080}]), f"{V}.ports[0].node_port",
     "30080 is already ingress_http_nodeport"),                  # the ingress Service holds 30080, on TCP
    (coredns(lb_ip="192.168.56.241"), f"{V}.lb_ip", "only used by type: loadbalancer"),
    (web(lb_ip="192.168.56.300"), f"{V}.lb_ip", "not an IP address"),
    (web(lb_ip="192.168.56.0/24"), f"{V}.lb_ip", "not an IP address"),
    (web(lb_ip="192.168.56.251"), f"{V}.lb_ip",
     "not inside any MetalLB pool (metallb_pools[0].addresses[0] 192.168.56.240-192.168.56.250, "
     "metallb_pools[1].addresses[0] fd00:56::100/120)"),
    (web(lb_ip="192.168.56.240"), f"{V}.lb_ip", "is also ingress_lb_ip"),
    (web(external_traffic_policy="Sometimes"), f"{V}.external_traffic_policy", "Cluster or Local"),
    (web(selector=None, target="kube-dns"), f"{V}.target", "use selector"),
])
def test_bad_entry(entry, variable, words):
    error = one_error([entry], variable)
    assert words in f"{error.why}. Fix: {error.fix}"


@pytest.mark.parametrize(("entry", "words"), [
    (web(selector=None, target="Bad_Name"), "not a Service name"),
    (web(selector=None, target="web"), "the Service itself"),
])
def test_bad_target_in_api_mode(entry, words):
    assert words in one_error([entry], f"{V}.target", apply_mode="api").why


def test_neither_selector_nor_target_suggests_target_only_in_api_mode():
    assert "target" not in one_error([web(selector=None)], V).fix
    assert "target: <service>" in one_error([web(selector=None)], V, apply_mode="api").fix


def test_loadbalancer_without_metallb_names_the_fix_and_skips_the_pool_check():
    error = one_error([web(lb_ip="10.1.1.1")], f"{V}.type", metallb_enabled=False, pool_spans=[])
    assert "metallb_enabled is false" in error.why
    assert "metallb_enabled: true" in error.fix and "type: nodeport" in error.fix


def test_no_pools_at_all():
    error = one_error([web(lb_ip="192.168.56.241")], f"{V}.lb_ip", pool_spans=[])
    assert "metallb_pools is empty" in error.why


@pytest.mark.parametrize(("value", "variable"), [
    ("coredns", "k8s_exposed_services"),
    ({"name": "web"}, "k8s_exposed_services"),
    (["web"], "k8s_exposed_services[0]"),
])
def test_not_a_list_of_mappings(value, variable):
    entries, problems = check(value)
    assert [e.variable for e in problems.errors] == [variable]
    assert entries == []


def test_every_problem_of_an_entry_is_listed():
    entry = web(name="Web", type="cluster", ports=[{"port": 0, "protocol": "ICMP"}], external_traffic_policy="x")
    _, problems = check([entry])
    assert sorted(e.variable for e in problems.errors) == [
        f"{V}.external_traffic_policy", f"{V}.name", f"{V}.ports[0].port", f"{V}.ports[0].protocol", f"{V}.type"]


# ---------------------------------------------------------------- across entries

def test_same_node_port_and_protocol_twice_names_both_entries():
    second = {"name": "dns-again", "namespace": "default", "type": "nodeport", "selector": {"app": "dns"},
              "ports": [{"port": 5353, "protocol": "UDP", "node_port": 30053}]}
    error = one_error([coredns(), second], "k8s_exposed_services[1].ports[0].node_port")
    assert error.value == 30053
    assert error.why == ("30053 is also k8s_exposed_services[0].ports[0].node_port (kube-system/coredns-np): the API "
                         "gives a NodePort number to one Service, whatever the protocol")


def test_same_node_port_twice_in_one_service():
    entry = web(ports=[{"name": "a", "port": 80, "node_port": 30001}, {"name": "b", "port": 81, "node_port": 30001}])
    error = one_error([entry], f"{V}.ports[1].node_port")
    assert error.why == "30001/TCP is also k8s_exposed_services[0].ports[0].node_port (default/web)"


def test_duplicate_service_in_a_namespace():
    error = one_error([coredns(), coredns(ports=[{"port": 53, "protocol": "UDP"}])],
                      "k8s_exposed_services[1].name")
    assert error.why == "is also k8s_exposed_services[0] in namespace kube-system"


def test_lb_ip_used_twice_names_the_first():
    error = one_error([web(lb_ip="192.168.56.241"), web(name="shop", lb_ip="192.168.56.241")],
                      "k8s_exposed_services[1].lb_ip")
    assert error.why == "is also k8s_exposed_services[0].lb_ip"


def test_lb_ip_is_compared_as_an_address():
    error = one_error([web(lb_ip="fd00:56:0::101"), web(name="shop", lb_ip="FD00:56::101")],
                      "k8s_exposed_services[1].lb_ip")
    assert "k8s_exposed_services[0].lb_ip" in error.why


@given(st.lists(st.tuples(st.sampled_from(["TCP", "UDP", "SCTP"]), st.integers(30000, 30004)), max_size=12))
def test_node_ports_are_unique_across_services_whatever_the_protocol(assignments):
    value = [{"name": f"svc{i}", "type": "nodeport", "selector": {"app": "x"},
              "ports": [{"port": 80, "protocol": proto, "node_port": port}]} for i, (proto, port) in
             enumerate(assignments)]
    _, problems = check(value, reserved_nodeports={})
    assert len(problems.errors) == len(assignments) - len({port for _, port in assignments})
    assert all(e.variable.endswith(".node_port") for e in problems.errors)


# ---------------------------------------------------------------- api mode

def live_service(namespace, name, *ports, selector=None):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"namespace": namespace, "name": name},
            "spec": {"type": "NodePort", "selector": selector,
                     "ports": [{"port": 1, "nodePort": n, **({"protocol": p} if p else {})} for n, p in ports]}}


def test_live_node_port_held_by_another_service():
    entries = valid([coredns()])
    problems = live_nodeport_conflicts(entries, [live_service("monitoring", "syslog", (30053, "UDP"))])
    error, tcp = problems.errors                                # 30053/TCP too: the number is syslog's
    assert (error.variable, tcp.variable) == (f"{V}.ports[0].node_port", f"{V}.ports[1].node_port")
    assert error.why == ("30053 is already held by Service monitoring/syslog (30053/UDP) in the cluster; the API "
                         "gives a NodePort number to one Service, whatever the protocol")


@pytest.mark.parametrize("live", [
    [live_service("kube-system", "coredns-np", (30053, "UDP"), (30053, "TCP"))],  # our own, from the last run
    [live_service("monitoring", "syslog", (30054, "UDP"))],
    [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"type": "ClusterIP"}}],
])
def test_live_node_ports_that_do_not_conflict(live):
    assert not live_nodeport_conflicts(valid([coredns()]), live).errors


def test_a_number_held_on_another_protocol_is_held_too():
    for held in ((30053, "SCTP"), (30053, None)):                   # no protocol: TCP
        problems = live_nodeport_conflicts(valid([coredns()]), [live_service("monitoring", "web", held)])
        assert [e.variable for e in problems.errors] == [f"{V}.ports[0].node_port", f"{V}.ports[1].node_port"]
        assert f"({held[0]}/{held[1] or 'TCP'})" in problems.errors[0].why


def test_resolve_selectors():
    entries = valid([coredns(selector=None, target="kube-dns"), web(), web(name="b", selector=None, target="gone"),
                     web(name="c", selector=None, target="manual")], apply_mode="api")
    live = [live_service("kube-system", "kube-dns", selector={"k8s-app": "kube-dns"}),
            live_service("default", "manual")]
    selectors, problems = resolve_selectors(entries, live)
    assert selectors == [{"k8s-app": "kube-dns"}, {"app": "web"}, None, None]
    assert [(e.variable, e.value) for e in problems.errors] == [
        ("k8s_exposed_services[2].target", "gone"), ("k8s_exposed_services[3].target", "manual")]
    assert "not a Service in namespace default" in problems.errors[0].why
    assert "no pod selector" in problems.errors[1].why


# ---------------------------------------------------------------- the Service objects

def test_dns_service_object():
    svc = build_service(valid([coredns()])[0])
    assert svc == {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "coredns-np", "namespace": "kube-system",
                     "labels": {kube.MANAGED_BY: kube.MANAGED_BY_VALUE,
                                "app.kubernetes.io/component": "exposed-service",
                                kube.COMPONENT_LABEL: "exposed_services"}},
        "spec": {"type": "NodePort", "selector": {"k8s-app": "kube-dns"}, "externalTrafficPolicy": "Cluster",
                 "ports": [{"name": "dns", "protocol": "UDP", "port": 53, "targetPort": 53, "nodePort": 30053},
                           {"name": "dns-tcp", "protocol": "TCP", "port": 53, "targetPort": 53, "nodePort": 30053}]}}


def test_load_balancer_address_is_the_metallb_annotation():
    svc = build_service(valid([web(lb_ip="192.168.56.241", external_traffic_policy="Local")])[0])
    assert svc["spec"]["type"] == "LoadBalancer"
    assert svc["metadata"]["annotations"] == {"metallb.io/loadBalancerIPs": "192.168.56.241"}
    assert "loadBalancerIP" not in svc["spec"]
    assert svc["spec"]["externalTrafficPolicy"] == "Local"
    assert svc["spec"]["ports"] == [{"protocol": "TCP", "port": 80, "targetPort": 80}]


def test_target_selector_comes_from_the_argument():
    entry = valid([coredns(selector=None, target="kube-dns")], apply_mode="api")[0]
    assert build_service(entry, {"k8s-app": "kube-dns"})["spec"]["selector"] == {"k8s-app": "kube-dns"}
    with pytest.raises(ValueError, match="kube-system/coredns-np: no selector"):
        build_service(entry)


SCHEMA_CASES = [coredns(), web(lb_ip="192.168.56.241", external_traffic_policy="Local"),
                web(name="shop", ports=[{"name": "http", "port": 80, "target_port": "http"},
                                        {"name": "sctp", "port": 9, "protocol": "SCTP", "node_port": 31000}])]


@pytest.mark.parametrize("version", SUPPORTED_K8S_VERSIONS)
def test_built_services_pass_the_schema(version):
    objects = [build_service(e) for e in valid(SCHEMA_CASES)]
    assert kube.validate_objects(objects, version) == []
