"""The network plan's rules, good and bad, on lab-like inputs (tests/unit/inputs.py)."""

from __future__ import annotations

import copy

import pytest
from ansible_collections.onprem.k8snet.plugins.module_utils.plan import build_plan, summarize_plan

from tests.unit.inputs import iface, lab_inputs, node_facts, with_vars


def plan_of(inputs):
    plan, problems = build_plan(inputs)
    assert not problems.errors, problems.report()
    return plan


def errors_of(inputs):
    plan, problems = build_plan(inputs)
    assert plan is None, "expected the plan to be refused"
    return problems.errors


def one_error(inputs, variable):
    """The single error about `variable` (tests name the variable a user would look for)."""
    found = [e for e in errors_of(inputs) if e.variable == variable]
    assert len(found) == 1, f"expected one error about {variable}, got: {[str(e) for e in errors_of(inputs)]}"
    return found[0]


# ---------------------------------------------------------------- a good plan

def test_lab_plan_is_normalized():
    plan = plan_of(lab_inputs(metallb_pools=[{"name": "lab-l2", "addresses": ["192.168.56.240-192.168.56.250"]}],
                              ingress_lb_ip="192.168.56.240"))
    c = plan["cluster"]
    assert c["pod_cidr"] == {"ipv4": "10.244.0.0/16", "ipv6": None}
    assert c["service_cidr"]["ipv4"] == "10.96.0.0/12"
    assert c["pod_subnets"]["ipv4"] == {"capacity": 256, "used": 3, "headroom": 253}
    assert c["nodeport_range"] == {"start": 30000, "end": 32767}
    assert c["render_dir"] == "/srv/k8snet/rendered/lab"
    assert c["control_plane"] == ["node1"]
    pool = plan["metallb"]["pools"][0]
    assert pool["ranges"] == [{"first": "192.168.56.240", "last": "192.168.56.250", "family": 4, "size": 11}]
    assert pool["interfaces"] == {"node1": "eth1", "node2": "eth1", "node3": "eth1"}
    node = plan["nodes"]["node2"]
    assert node["iface"]["name"] == "eth1" and node["iface"]["ipv4"] == "192.168.56.12"
    assert node["pod_mtu"] == 1450
    assert node["reserved_ports"] == "30000-32767"
    assert {"protocol": "udp", "port": "8472", "why": "flannel vxlan"} in node["host_ports"]
    assert plan["flannel"]["iface_arg"] is None and plan["flannel"]["annotate_nodes"]   # api mode: per node
    assert plan_of(lab_inputs(k8s_apply="render"))["flannel"]["iface_arg"] == "eth1"    # render: one --iface
    assert plan["ingress"]["lb_ip"] == "192.168.56.240"
    text = "\n".join(summarize_plan(plan))
    assert "256 node subnets, 3 used, 253 free" in text and "lab-l2" in text


def test_dual_stack_plan():
    inputs = lab_inputs(k8s_pod_cidr=["10.244.0.0/16", "fd00:10:244::/56"],
                        k8s_service_cidr="10.96.0.0/12,fd00:10:96::/112")
    for i, host in enumerate(inputs["hosts"].values(), 1):
        host["facts"]["interfaces"][2]["addresses"].append({"address": f"fd00:56::{i}", "prefix": 64, "family": 6})
    plan = plan_of(inputs)
    assert plan["cluster"]["pod_cidr"] == {"ipv4": "10.244.0.0/16", "ipv6": "fd00:10:244::/56"}
    assert plan["cluster"]["pod_subnets"]["ipv6"] == {"capacity": 256, "used": 3, "headroom": 253}
    assert plan["nodes"]["node1"]["iface"]["ipv6"] == "fd00:56::1"


# ---------------------------------------------------------------- CIDRs

@pytest.mark.parametrize(("value", "variable", "words"), [
    ("10.244.1.0/16", "k8s_pod_cidr", "use 10.244.0.0/16"),
    ("10.244.0.0", "k8s_pod_cidr", "not a CIDR"),
    ("banana/12", "k8s_pod_cidr", "not a CIDR"),
    ("10.244.0.0/33", "k8s_pod_cidr", "not a CIDR"),
    (["10.244.0.0/16", "10.245.0.0/16"], "k8s_pod_cidr[1]", "second ipv4"),
    (["10.244.0.0/16", "fd00::/56", "10.1.0.0/16"], "k8s_pod_cidr", "one IPv4 and one IPv6"),
    ("fd00:10:244::1/56", "k8s_pod_cidr", "use fd00:10:244::/56"),
])
def test_pod_cidr_syntax(value, variable, words):
    error = one_error(lab_inputs(k8s_pod_cidr=value), variable)
    assert words in error.why + error.fix


@pytest.mark.parametrize(("pod", "service"), [
    ("10.96.0.0/16", "10.96.0.0/12"),    # pod inside service
    ("10.0.0.0/8", "10.96.0.0/12"),      # service inside pod (and pod over the NAT net)
    ("10.100.0.0/14", "10.96.0.0/12"),   # partial: 10.100/14 is inside 10.96/12's span
])
def test_pod_and_service_overlap(pod, service):
    errors = errors_of(lab_inputs(k8s_pod_cidr=pod, k8s_service_cidr=service))
    assert any("overlaps k8s_pod_cidr" in e.why or "overlaps k8s_service_cidr" in e.why for e in errors)


def test_partial_overlap_with_a_host_network_names_the_host():
    error = one_error(lab_inputs(k8s_service_cidr="192.168.0.0/16"), "k8s_service_cidr")
    assert "192.168.56.0/24" in error.why and "node1 eth1" in error.why


def test_pod_cidr_over_the_nat_network():
    error = one_error(lab_inputs(k8s_pod_cidr="10.0.0.0/14"), "k8s_pod_cidr")
    assert "10.0.2.0/24" in error.why


def test_cluster_owned_interfaces_are_not_host_networks():
    inputs = lab_inputs()
    inputs["hosts"]["node1"]["facts"]["interfaces"].append(iface("flannel.1", "10.244.0.0/32", kind="vxlan"))
    inputs["hosts"]["node1"]["facts"]["interfaces"].append(iface("cni0", "10.244.0.1/24", kind="bridge"))
    plan_of(inputs)


def test_service_family_must_match_pod_family():
    errors = errors_of(lab_inputs(k8s_pod_cidr="10.244.0.0/16,fd00::/56", k8s_service_cidr="10.96.0.0/12"))
    assert any(e.variable == "k8s_service_cidr" and "families" in e.why for e in errors)


# ---------------------------------------------------------------- node subnets

@pytest.mark.parametrize(("pod", "prefix", "words"), [
    ("10.244.0.0/16", 16, "must be longer"),
    ("10.244.0.0/16", 12, "must be longer"),
    ("10.0.0.0/8", 25, "more than 16 bits"),
    ("10.244.0.0/23", 24, "2 node subnets"),
    ("10.244.0.0/16", "twenty", "not a prefix"),
])
def test_node_pod_prefix(pod, prefix, words):
    error = one_error(lab_inputs(k8s_pod_cidr=pod, k8s_node_pod_prefix=prefix), "k8s_node_pod_prefix")
    assert words in error.why


def test_small_node_subnet_warns_about_max_pods():
    _, problems = build_plan(lab_inputs(k8s_node_pod_prefix=26))
    assert not problems.errors
    assert any("max-pods" in w.why for w in problems.warnings)


def test_headroom_when_exactly_full():
    plan = plan_of(lab_inputs(nodes=4, k8s_pod_cidr="10.244.0.0/22"))
    assert plan["cluster"]["pod_subnets"]["ipv4"] == {"capacity": 4, "used": 4, "headroom": 0}


# ---------------------------------------------------------------- NodePorts

@pytest.mark.parametrize(("value", "words"), [
    ("32767-30000", "starts after it ends"),
    ("0-100", "outside 1..65535"),
    ("30000-70000", "outside 1..65535"),
    ("thirty-forty", "two integers"),
    ("6000-7000", "6443 used by kube-apiserver"),
    ("2000-3000", "2379-2380 used by etcd"),
    ("10000-10300", "10250 used by kubelet"),
    ("8000-8100", "8081 used by flanneld healthz"),
    ("8400-8500", "8472 used by flannel vxlan"),
    ("7000-7999", "7946 used by MetalLB memberlist"),
])
def test_nodeport_range(value, words):
    errors = [e for e in errors_of(lab_inputs(k8s_nodeport_range=value)) if e.variable == "k8s_nodeport_range"]
    assert any(words in e.why for e in errors), [str(e) for e in errors]


def test_nodeport_range_may_not_starve_ephemeral_ports():
    error = one_error(lab_inputs(k8s_nodeport_range="32768-55000"), "k8s_nodeport_range")
    assert "would leave 5999 ephemeral ports" in error.why and "node1" in error.why


def test_nodeport_overlap_with_enough_ephemeral_left_is_fine_and_reserved():
    plan = plan_of(lab_inputs(k8s_nodeport_range="30000-40000"))
    assert plan["nodes"]["node1"]["reserved_ports"] == "30000-40000"


def test_reserved_ports_merge_with_what_the_host_reserves():
    inputs = lab_inputs()
    inputs["hosts"]["node1"]["facts"]["ip_local_reserved_ports"] = "5000-5010,32000-32800"
    assert plan_of(inputs)["nodes"]["node1"]["reserved_ports"] == "5000-5010,30000-32800"


def test_hostnetwork_ingress_ports_cannot_be_nodeports():
    errors = errors_of(lab_inputs(k8s_nodeport_range="1-2000", ingress_exposure="hostnetwork"))
    whys = [e.why for e in errors if e.variable == "k8s_nodeport_range"]
    assert any("port 80 used by ingress" in w for w in whys) and any("port 443 used by ingress" in w for w in whys)


@pytest.mark.parametrize(("http", "https", "variable", "words"), [
    (29999, 30443, "ingress_http_nodeport", "outside k8s_nodeport_range"),
    (30080, 40000, "ingress_https_nodeport", "outside k8s_nodeport_range"),
    (30080, 30080, "ingress_https_nodeport", "same as ingress_http_nodeport"),
    ("http", None, "ingress_http_nodeport", "not a port number"),
])
def test_fixed_ingress_nodeports(http, https, variable, words):
    error = one_error(lab_inputs(ingress_exposure="nodeport", ingress_http_nodeport=http,
                                 ingress_https_nodeport=https), variable)
    assert words in error.why


# ---------------------------------------------------------------- pools

def pools(*entries, **extra):
    return lab_inputs(metallb_pools=[{"name": f"pool{i}", "addresses": e} for i, e in enumerate(entries)], **extra)


@pytest.mark.parametrize(("addresses", "words"), [
    (["192.168.56.245/28"], "host bits set (the network is 192.168.56.240/28)"),
    (["192.168.56.250-192.168.56.240"], "starts after it ends"),
    (["192.168.56.240-fd00::1"], "mixes IPv4 and IPv6"),
    (["192.168.56.240"], "not a CIDR or an address range"),
    (["192.168.56.240-192.168.56.300"], "not a valid address range"),
])
def test_pool_entry_syntax(addresses, words):
    error = one_error(pools(addresses), "metallb_pools[0].addresses[0]")
    assert words in error.why


def test_overlapping_pools_partial():
    error = one_error(pools(["192.168.56.240-192.168.56.245"], ["192.168.56.244/30"]),
                      "metallb_pools[1].addresses[0]")
    assert "overlaps metallb_pools[0].addresses[0]" in error.why


@pytest.mark.parametrize(("entry", "words"), [
    ("192.168.56.10-192.168.56.12", "192.168.56.11 (the address of node1 eth1)"),
    ("192.168.56.0/28", "192.168.56.0 (the network address of 192.168.56.0/24)"),
    ("192.168.56.255/32", "the broadcast address of 192.168.56.0/24"),
])
def test_pool_contains_addresses_in_use(entry, words):
    error = one_error(pools([entry]), "metallb_pools[0].addresses[0]")
    assert words in error.why


def test_pool_contains_default_gateway():
    inputs = lab_inputs(metallb_pools=[{"name": "nat", "addresses": ["10.0.2.2/32"], "mode": "bgp"}],
                        metallb_bgp_peers=[{"address": "10.0.2.1", "asn": 64512, "my_asn": 64513}])
    error = one_error(inputs, "metallb_pools[0].addresses[0]")
    assert "default gateway of node1" in error.why


def test_l2_pool_outside_the_chosen_nic_subnet():
    error = one_error(pools(["172.16.9.240/29"]), "metallb_pools[0].addresses[0]")
    assert "chosen NIC" in error.why and "node1 eth1" in error.why


def test_bgp_pool_outside_node_subnets_is_fine_with_peers():
    plan_of(lab_inputs(metallb_pools=[{"name": "bgp", "addresses": ["172.16.9.240/29"], "mode": "bgp"}],
                       metallb_bgp_peers=[{"address": "192.168.56.1", "asn": 64512, "my_asn": 64513}]))


def test_bgp_pool_without_peers():
    error = one_error(lab_inputs(metallb_pools=[{"name": "bgp", "addresses": ["172.16.9.240/29"], "mode": "bgp"}]),
                      "metallb_bgp_peers")
    assert "mode: bgp" in error.why


def test_pool_inside_pod_network():
    errors = errors_of(pools(["10.244.255.0/28"]))
    assert any(e.variable == "metallb_pools[0].addresses[0]" and "k8s_pod_cidr" in e.why for e in errors)


@pytest.mark.parametrize(("pool", "variable", "words"), [
    ({"name": "Lab_Pool", "addresses": ["192.168.56.240/30"]}, "metallb_pools[0].name", "DNS-1123"),
    ({"name": "p", "addresses": []}, "metallb_pools[0].addresses", "empty"),
    ({"name": "p", "addresses": ["192.168.56.240/30"], "mode": "arp"}, "metallb_pools[0].mode", "not l2 or bgp"),
    ({"name": "p", "addresses": ["192.168.56.240/30"], "auto_assign": "yes"}, "metallb_pools[0].auto_assign",
     "boolean"),
])
def test_pool_fields(pool, variable, words):
    error = one_error(lab_inputs(metallb_pools=[pool]), variable)
    assert words in error.why


def test_duplicate_pool_names():
    inputs = lab_inputs(metallb_pools=[{"name": "a", "addresses": ["192.168.56.240/30"]},
                                       {"name": "a", "addresses": ["192.168.56.244/30"]}])
    assert "metallb_pools[0]" in one_error(inputs, "metallb_pools[1].name").why


def test_ingress_lb_ip_outside_pools():
    error = one_error(pools(["192.168.56.240/30"], ingress_lb_ip="192.168.56.250"), "ingress_lb_ip")
    assert "not inside any of metallb_pools" in error.why


@pytest.mark.parametrize(("peer", "variable"), [
    ({"address": "10.0.0.300", "asn": 64512, "my_asn": 64513}, "metallb_bgp_peers[0].address"),
    ({"address": "10.0.0.1", "asn": 0, "my_asn": 64513}, "metallb_bgp_peers[0].asn"),
    ({"address": "10.0.0.1", "asn": 64512, "my_asn": "x"}, "metallb_bgp_peers[0].my_asn"),
])
def test_bgp_peer_fields(peer, variable):
    one_error(lab_inputs(metallb_bgp_peers=[peer]), variable)


@pytest.mark.parametrize(("peer", "variable"), [
    ({"address": "10.0.0.1", "asn": 64512, "my_asn": 64513, "port": 0}, "metallb_bgp_peers[0].port"),
    ({"address": "10.0.0.1", "asn": 64512, "my_asn": 64513, "name": "ToR_1"}, "metallb_bgp_peers[0].name"),
    ({"address": "10.0.0.1", "my_asn": 64513}, "metallb_bgp_peers[0].asn"),          # missing: required
])
def test_more_bgp_peer_fields(peer, variable):
    one_error(lab_inputs(metallb_bgp_peers=[peer]), variable)


PEER = {"address": "10.0.0.1", "asn": 64512, "my_asn": 64513}


@pytest.mark.parametrize(("timers", "variable", "why"), [
    ({"hold_time": -1}, "hold_time", "is not 0 or 3..65535 whole seconds"),
    ({"hold_time": 2}, "hold_time", "is not 0 or 3..65535 whole seconds"),
    ({"hold_time": "2s"}, "hold_time", "is not 0 or 3..65535 whole seconds"),
    ({"hold_time": "1.5m"}, "hold_time", "is not 0 or 3..65535 whole seconds"),
    ({"hold_time": 70000}, "hold_time", "is not 0 or 3..65535 whole seconds"),
    ({"hold_time": True}, "hold_time", "is not 0 or 3..65535 whole seconds"),
    ({"keepalive_time": "10ms"}, "keepalive_time", "is not a duration in whole seconds"),
    ({"hold_time": 30, "keepalive_time": 30}, "keepalive_time", "is not below the hold time (30s)"),
    ({"hold_time": "1m", "keepalive_time": "1m30s"}, "keepalive_time", "is not below the hold time (60s)"),
    ({"hold_time": 0, "keepalive_time": 10}, "keepalive_time", "is set while hold_time is 0"),
])
def test_bgp_timers_are_refused_naming_the_peer(timers, variable, why):
    inputs = lab_inputs(metallb_bgp_peers=[{**PEER, **timers}], metallb_bgp_implementation="frr-k8s")
    error = one_error(inputs, f"metallb_bgp_peers[0].{variable}")
    assert error.why.startswith(why), error.why


def test_the_native_speaker_takes_no_keepalive_time():
    # MetalLB's webhook refuses the BGPPeer ("keepalive-time set on native bgp mode"): refused before any change
    error = one_error(lab_inputs(metallb_bgp_peers=[{**PEER, "hold_time": 9, "keepalive_time": 3}]),
                      "metallb_bgp_peers[0].keepalive_time")
    assert error.why.startswith("is not taken by MetalLB's native BGP speaker"), error.why
    assert "frr-k8s" in error.fix


@pytest.mark.parametrize("timers", [{}, {"hold_time": 0}, {"hold_time": 3, "keepalive_time": 1},
                                    {"hold_time": "1m30s", "keepalive_time": "30s"}, {"hold_time": 65535},
                                    {"keepalive_time": 0}, {"keepalive_time": 90},   # hold: three keepalives
                                    {"hold_time": None, "keepalive_time": None}])
def test_bgp_timers_accepted(timers):
    plan = plan_of(lab_inputs(metallb_bgp_peers=[{**PEER, **timers}], metallb_bgp_implementation="frr-k8s"))
    (peer,) = plan["metallb"]["bgp_peers"]
    assert (peer["hold_time"], peer["keepalive_time"]) == (timers.get("hold_time"), timers.get("keepalive_time"))


def test_unknown_pool_and_peer_keys_are_warnings_naming_the_known_ones():
    plan = plan_of(lab_inputs(metallb_pools=[{"name": "p", "addresses": ["192.168.56.240/30"], "prio": 1}],
                              metallb_bgp_peers=[{"address": "10.0.0.1", "asn": 64512, "my_asn": 64513,
                                                  "hold_time": "90s", "holdtime": "90s"}]))
    warnings = [w for w in plan["warnings"] if "metallb_" in w]
    assert any(w.startswith("metallb_pools[0].prio = 1: is not a pool setting") and "addresses" in w
               for w in warnings), warnings
    assert any(w.startswith("metallb_bgp_peers[0].holdtime = 90s: is not a BGP peer setting") and "hold_time" in w
               for w in warnings), warnings
    assert not any("].hold_time =" in w for w in warnings), warnings        # a known key is no warning
    (peer,) = plan["metallb"]["bgp_peers"]
    assert (peer["name"], peer["port"], peer["hold_time"]) == ("peer-0", 179, "90s")   # defaults and passthrough


def test_disabled_metallb_ignores_pools():
    plan = plan_of(lab_inputs(metallb_enabled=False, metallb_pools=[{"name": "x", "addresses": ["bad"]}],
                              ingress_exposure="nodeport"))
    assert plan["metallb"]["pools"] == []


# ---------------------------------------------------------------- flannel

@pytest.mark.parametrize(("variable", "value", "words"), [
    ("flannel_backend", "udp", "not a supported backend"),
    ("flannel_vni", 0, "1..16777215"),
    ("flannel_vni", 16777216, "1..16777215"),
    ("flannel_port", 70000, "1..65535"),
    ("flannel_mtu", 1000, "1280..9000"),
    ("flannel_mtu", "jumbo", "1280..9000"),
    ("metallb_enabled", "perhaps", "not a boolean"),
])
def test_flannel_settings(variable, value, words):
    assert words in one_error(lab_inputs(**{variable: value}), variable).why


def test_flannel_mtu_larger_than_nic():
    error = one_error(lab_inputs(flannel_mtu=9000), "flannel_mtu")
    assert "larger than the MTU 1500 of node1 eth1, node2 eth1, node3 eth1" in error.why


def test_wireguard_without_kernel_support_is_refused_plainly():
    error = one_error(lab_inputs(flannel_backend="wireguard"), "flannel_backend")
    assert "wireguard" in error.why and "node1, node2, node3 does not have" in error.why


def test_explicit_underlay_mtu_gives_pod_mtu():
    assert plan_of(lab_inputs(flannel_mtu=1400))["nodes"]["node1"]["pod_mtu"] == 1350


def test_wireguard_pod_mtu_and_ports():
    inputs = lab_inputs(flannel_backend="wireguard")
    for host in inputs["hosts"].values():
        host["facts"]["kernel"]["features"]["wireguard"] = "module"
    plan = plan_of(inputs)
    assert plan["nodes"]["node1"]["kernel_modules"] == ["wireguard"]
    assert plan["nodes"]["node1"]["pod_mtu"] == 1420
    wireguard = {"protocol": "udp", "port": "51820-51821", "why": "flannel wireguard"}
    assert wireguard in plan["nodes"]["node1"]["host_ports"]


def test_mixed_nic_mtus_warn():
    inputs = lab_inputs()
    inputs["hosts"]["node2"]["facts"] = node_facts(2, mtu1=1400)
    _, problems = build_plan(inputs)
    assert not problems.errors
    warning = next(w for w in problems.warnings if w.variable == "flannel_mtu")
    assert "1400 on node2" in warning.why and "flannel_mtu: 1400" in warning.fix


@pytest.mark.parametrize(("variable", "value"), [
    ("flannel_iface_regex", "eth[1"),
    ("flannel_iface_can_reach", "not-an-ip"),
])
def test_flannel_iface_hints(variable, value):
    errors = errors_of(lab_inputs(**{variable: value}))
    mine = [e for e in errors if e.variable.startswith(variable)]
    assert len(mine) == 1 and "node1, node2, node3" in mine[0].variable


# ---------------------------------------------------------------- inventory

def test_no_control_plane():
    inputs = lab_inputs()
    inputs["hosts"]["node1"]["groups"] = ["k8s_cluster", "kube_node"]
    assert "no hosts" in one_error(inputs, "kube_control_plane").why


def test_no_workers():
    inputs = lab_inputs(nodes=1)
    inputs["hosts"]["node1"]["groups"] = ["k8s_cluster", "kube_control_plane"]
    assert "no hosts" in one_error(inputs, "kube_node").why


def test_duplicate_host_addresses():
    inputs = lab_inputs()
    inputs["hosts"]["node3"]["address"] = "192.168.56.12"
    errors = errors_of(inputs)
    assert any("node2, node3" in e.variable and e.value == "192.168.56.12" for e in errors)


def test_cluster_wide_variable_differing_between_hosts():
    inputs = lab_inputs(k8s_pod_cidr="10.244.0.0/16")
    inputs["hosts"]["node2"]["vars"]["k8s_pod_cidr"] = "10.200.0.0/16"
    why = one_error(inputs, "k8s_pod_cidr").why
    assert "'10.200.0.0/16' on node2" in why and "'10.244.0.0/16' on node1, node3" in why


def test_cluster_wide_variable_set_on_some_hosts_only():
    inputs = lab_inputs()
    inputs["hosts"]["node2"]["vars"]["k8s_pod_cidr"] = "10.200.0.0/16"
    assert "not on node1, node3" in one_error(inputs, "k8s_pod_cidr").why


def test_misspelt_variable_warns_with_the_closest_name():
    inputs = lab_inputs()
    inputs["unknown_variables"] = {"metallb_pool": ["node1", "node2"]}
    _, problems = build_plan(inputs)
    warning = next(w for w in problems.warnings if w.variable == "metallb_pool")
    assert "metallb_pools" in warning.fix


def test_missing_facts_names_the_hosts():
    inputs = lab_inputs()
    inputs["hosts"]["node3"]["facts"] = None
    assert "node3" in one_error(inputs, "hosts").value


def test_every_problem_is_reported_together():
    inputs = lab_inputs(k8s_pod_cidr="10.244.1.0/16", flannel_vni=0, k8s_nodeport_range="6000-7000",
                        metallb_pools=[{"name": "BAD", "addresses": ["192.168.56.11/32"]}])
    variables = {e.variable for e in errors_of(inputs)}
    assert {"k8s_pod_cidr", "flannel_vni", "k8s_nodeport_range", "metallb_pools[0].name",
            "metallb_pools[0].addresses[0]"} <= variables


def test_ingress_nginx_warns_retirement():
    _, problems = build_plan(lab_inputs(ingress_controller="ingress-nginx"))
    assert any("retired" in w.why and "ingress_controller: nginx" in w.fix for w in problems.warnings)


@pytest.mark.parametrize("extra, warned", [
    ({}, True),                                                    # one controller pod: one node answers
    ({"ingress_kind": "daemonset"}, False),                        # a pod on every node
    ({"ingress_external_traffic_policy": "Cluster"}, False),       # every node forwards
])
def test_nodeport_ingress_with_local_policy_on_a_deployment_warns_that_most_nodes_drop(extra, warned):
    _, problems = build_plan(lab_inputs(ingress_exposure="nodeport", **extra))
    said = [w for w in problems.warnings if w.variable == "ingress_external_traffic_policy"]
    assert bool(said) is warned, said
    if warned:
        assert "only the nodes that run a controller pod answer" in said[0].why
        assert "ingress_kind: daemonset" in said[0].fix and "ingress_external_traffic_policy: Cluster" in said[0].fix


def test_inputs_are_not_modified():
    inputs = pools(["192.168.56.240/30"])
    before = copy.deepcopy(inputs)
    build_plan(inputs)
    assert inputs == before


def test_command_line_strings_are_read_as_booleans_and_integers():
    plan = plan_of(lab_inputs(metallb_enabled="false", ingress_exposure="nodeport", flannel_vni="2",
                              flannel_mtu="1400"))
    assert plan["metallb"]["enabled"] is False
    assert plan["flannel"]["vni"] == 2 and plan["flannel"]["mtu"] == 1400


def test_with_vars_helper_applies_to_every_host():
    inputs = with_vars(lab_inputs(), k8s_apply="render")
    assert plan_of(inputs)["cluster"]["apply"] == "render"


def test_probe_scope_is_carried_in_the_plan_and_an_unknown_value_is_refused_naming_it():
    assert plan_of(lab_inputs())["probes"]["policy"] == "changes"
    assert plan_of(lab_inputs(k8s_probe_scope="all"))["probes"]["policy"] == "all"
    error = one_error(lab_inputs(k8s_probe_scope="sometimes"), "k8s_probe_scope")
    assert "changes or all" in str(error)


def test_network_plan_run_fails_naming_the_variable_or_returns_the_plan_and_its_summary():
    from ansible_collections.onprem.k8snet.plugins.modules import network_plan

    refused = network_plan.run({"inputs": lab_inputs(k8s_probe_scope="sometimes"), "fail_on_error": True})
    assert refused["failed"] and "k8s_probe_scope" in refused["msg"] and refused["errors"]
    kept = network_plan.run({"inputs": lab_inputs(k8s_probe_scope="sometimes"), "fail_on_error": False})
    assert not kept.get("failed") and kept["plan"] is None and kept["errors"]
    good = network_plan.run({"inputs": lab_inputs(), "fail_on_error": True})
    assert good["plan"]["probes"]["policy"] == "changes" and good["summary"]


def test_hosts_on_cgroup_v1_are_named_in_a_warning_before_kubelet_refuses_them():
    inputs = lab_inputs()
    for host, cgroup in zip(("node1", "node2", "node3"), ("v1", "v2", "v1"), strict=True):
        inputs["hosts"][host]["facts"]["kernel"]["cgroup"] = cgroup
    warnings = [w for w in plan_of(inputs)["warnings"] if w.startswith("hosts = ")]
    assert len(warnings) == 1 and warnings[0].startswith("hosts = node1, node3: run cgroup v1: kubelet 1.37 refuses"), \
        warnings
    # the negative control: every host on the unified hierarchy (or facts that do not say) warns nothing
    for host in inputs["hosts"].values():
        host["facts"]["kernel"]["cgroup"] = "v2"
    assert not [w for w in plan_of(inputs)["warnings"] if "cgroup" in w]


def kube_proxy(mode):
    """ConfigMap kube-system/kube-proxy as api mode reads it (kubeadm writes mode: "" for iptables)."""
    return [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
             "data": {"config.conf": f"apiVersion: kubeproxy.config.k8s.io/v1alpha1\nmode: \"{mode}\"\n"}}]


def without_iptables(inputs, *hosts):
    for host in hosts:
        inputs["hosts"][host]["facts"]["packet_filter"] = {"tools": ["nft"], "iptables": None}
    for host in set(inputs["hosts"]) - set(hosts):
        inputs["hosts"][host]["facts"]["packet_filter"] = {"tools": ["iptables-nft", "nft"], "iptables": "nft"}
    return inputs


def test_flannel_programs_nftables_with_kube_proxy_in_nftables_mode_or_on_hosts_without_iptables():
    # the default: kube-proxy's Linux default, iptables everywhere
    plan = plan_of(without_iptables(lab_inputs()))
    assert (plan["cluster"]["kube_proxy_mode"], plan["flannel"]["nftables"]) == ("iptables", False)
    assert not [line for line in summarize_plan(plan) if "EnableNFTables" in line]
    # render mode: the variable says; api mode: the cluster's ConfigMap says (an input of the plan)
    plan = plan_of(without_iptables(lab_inputs(k8s_kube_proxy_mode="nftables")))
    assert plan["flannel"]["nftables"] is True
    assert "flannel programs nftables (EnableNFTables: kube-proxy in nftables mode)" in summarize_plan(plan)
    plan = plan_of({**without_iptables(lab_inputs()), "kube_proxy": kube_proxy("nftables")})
    assert (plan["cluster"]["kube_proxy_mode"], plan["flannel"]["nftables"]) == ("nftables", True)
    # no host has iptables at all
    plan = plan_of(without_iptables(lab_inputs(), "node1", "node2", "node3"))
    assert plan["flannel"]["nftables"] is True
    assert plan["flannel"]["hosts_without_iptables"] == ["node1", "node2", "node3"]
    assert "flannel programs nftables (EnableNFTables: no host has iptables)" in summarize_plan(plan)


def test_hosts_with_and_without_iptables_are_refused_naming_both_unless_kube_proxy_uses_nftables():
    error = one_error(without_iptables(lab_inputs(), "node3"), "hosts")
    assert error.value == "node3" and "while node1, node2 have it" in str(error)
    assert "k8s_kube_proxy_mode: nftables" in str(error)
    # the same hosts with kube-proxy in nftables mode: one setting fits all
    assert plan_of(without_iptables(lab_inputs(k8s_kube_proxy_mode="nftables"), "node3"))["flannel"]["nftables"]


def test_a_kube_proxy_mode_the_cluster_contradicts_or_does_not_know_is_refused_naming_the_variable():
    error = one_error({**lab_inputs(k8s_kube_proxy_mode="nftables"), "kube_proxy": kube_proxy("")},
                      "k8s_kube_proxy_mode")
    assert "is not the mode the cluster's kube-proxy runs in (iptables" in str(error)
    assert "not a kube-proxy mode" in str(one_error(lab_inputs(k8s_kube_proxy_mode="ebpf"), "k8s_kube_proxy_mode"))


def test_the_f5_daemonset_with_hostports_on_hosts_without_iptables_is_a_warning_naming_them():
    inputs = without_iptables(lab_inputs(ingress_kind="daemonset"), "node1", "node2", "node3")
    warned = [w for w in plan_of(inputs)["warnings"] if w.startswith("ingress_kind = daemonset")]
    assert len(warned) == 1 and "node1, node2, node3 have no iptables" in warned[0], warned
    # the negative controls: the same hosts with a Deployment, or on the host network, warn nothing
    for quiet in ({"ingress_kind": "deployment"}, {"ingress_exposure": "hostnetwork"}):
        plan = plan_of(without_iptables(lab_inputs(**{"ingress_kind": "daemonset", **quiet}), "node1", "node2",
                                        "node3"))
        assert not [w for w in plan["warnings"] if "portmap" in w], quiet


def test_k8s_version_is_the_clusters_minor_in_api_mode_and_a_contradiction_is_refused_naming_it():
    # render mode, nothing set: the newest supported minor; set: that one
    assert plan_of(lab_inputs())["cluster"]["kube_version"] == "1.37"
    assert plan_of(lab_inputs(k8s_version=1.36))["cluster"]["kube_version"] == "1.36"
    # api mode reads the API server's version (an input of the plan): it decides when the variable is unset
    plan = plan_of({**lab_inputs(), "server_version": "v1.35.4"})
    assert plan["cluster"]["kube_version"] == "1.35"
    assert "3 nodes, Kubernetes 1.35, apply mode" in summarize_plan(plan)[0]
    assert plan_of({**lab_inputs(k8s_version="1.35"), "server_version": "v1.35.4"})["cluster"]["kube_version"] == "1.35"
    # a value the cluster contradicts, a cluster of an unsupported minor, an unsupported value: refused
    error = one_error({**lab_inputs(k8s_version="1.37"), "server_version": "v1.35.4"}, "k8s_version")
    assert "is not the cluster's minor (its API server is v1.35.4)" in str(error)
    assert "set k8s_version: 1.35, or leave it unset" in str(error)
    error = one_error({**lab_inputs(), "server_version": "v1.33.9"}, "k8s_version")
    assert "the cluster's API server is v1.33.9, not a minor this project supports" in str(error)
    assert "not a supported Kubernetes version" in str(one_error(lab_inputs(k8s_version="1.31"), "k8s_version"))
