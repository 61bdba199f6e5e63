"""The network picture (plugins/module_utils/picture.py) of real plans, read back from the SVG that Graphviz's
dot draws and from the Mermaid text: every node, chosen address and pool named, at 3 nodes and at 50."""

from __future__ import annotations

import copy
import ipaddress
import shutil

import pytest
from ansible_collections.onprem.k8snet.plugins.module_utils import picture
from ansible_collections.onprem.k8snet.plugins.module_utils.plan import build_plan
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.inputs import lab_inputs
from tests.unit.pictures import RANGE, box_names, expand, mermaid_boxes, problems, svg_boxes

LAB_POOL = {"name": "lab-l2", "addresses": ["192.168.56.240-192.168.56.250"]}
INGRESS = {"app.kubernetes.io/managed-by": "k8snet", "onprem.k8snet/component": "ingress"}


def needs_dot():
    if shutil.which("dot") is None:
        pytest.skip("SKIPPED LOUDLY: Graphviz's dot is missing (apt-get install graphviz; make apt installs it); "
                    "these tests read the SVG it draws")


def lab_plan(nodes: int = 3, inputs: dict | None = None, **cluster_vars) -> dict:
    """The lab inventory's plan (inventory/lab: render mode, pool lab-l2, the ingress VIP .240)."""
    settings = {"k8s_apply": "render", "metallb_pools": [LAB_POOL], "ingress_lb_ip": "192.168.56.240", **cluster_vars}
    plan, found = build_plan(inputs or lab_inputs(nodes, **settings))
    assert plan is not None, [str(e) for e in found.errors]
    return plan


def fifty_inputs(**cluster_vars) -> dict:
    """50 lab nodes: node45-node48 with jumbo frames on eth1, node49 and node50 with the NIC named ens9."""
    inputs = lab_inputs(50, **{"k8s_apply": "render", "metallb_pools": [LAB_POOL], "ingress_lb_ip": "192.168.56.240",
                               **cluster_vars})
    for index in range(45, 51):
        eth1 = inputs["hosts"][f"node{index}"]["facts"]["interfaces"][2]
        eth1["mtu"] = 9000 if index <= 48 else 1500
        eth1["name"] = "eth1" if index <= 48 else "ens9"
    return inputs


def service(name, namespace, kind, ports, *, labels=None, address=None, annotation=None):
    meta = {"name": name, "namespace": namespace, "labels": labels or {}}
    if annotation:
        meta["annotations"] = {"metallb.io/loadBalancerIPs": annotation}
    status = {"loadBalancer": {"ingress": [{"ip": address}]}} if address else {}
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": {"type": kind, "ports": ports},
            "status": status}


def rendered_ingress(address="192.168.56.240"):
    """The ingress Service as render mode writes it: the VIP in MetalLB's annotation."""
    return service("nginx-ingress", "nginx-ingress", "LoadBalancer",
                   [{"name": "http", "port": 80, "protocol": "TCP"}, {"name": "https", "port": 443, "protocol": "TCP"}],
                   labels=INGRESS, annotation=address)


def live_node(name, address, cidr):
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
            "status": {"addresses": [{"type": "InternalIP", "address": address},
                                     {"type": "Hostname", "address": name}]}}


def drawn(plan, objects=()) -> dict[str, list[str]]:
    needs_dot()
    return svg_boxes(picture.svg(picture.build(plan, objects)))


def node_boxes(boxes):
    return {box_id: lines for box_id, lines in boxes.items() if box_id.startswith("nodes")}


# ---------------------------------------------------------------- compact listings


def test_runs_of_three_or_more_are_first_and_last_and_keep_their_width():
    assert picture.compact_names(["node3", "node1", "node2", "node5"]) == [f"node1{RANGE}node3", "node5"]
    assert picture.compact_names(["node1", "node2"]) == ["node1", "node2"]
    assert picture.compact_names(["node8", "node9", "node10"]) == [f"node8{RANGE}node10"]
    assert picture.compact_names([f"node{i:02d}" for i in range(8, 13)]) == [f"node08{RANGE}node12"]
    # node09 starts a run of two-digit names: node100 is not its next one
    assert picture.compact_names(["node08", "node09", *(f"node{i}" for i in range(10, 101))]) == [
        f"node08{RANGE}node99", "node100"]
    assert picture.compact_names(["k8s-node-1", "k8s-node-2", "k8s-node-3", "web"]) == [
        f"k8s-node-1{RANGE}k8s-node-3", "web"]
    assert picture.compact_names(["w1.example", "w2.example", "w3.example", "w2.other"]) == [
        f"w1.example{RANGE}w3.example", "w2.other"]
    assert picture.compact_addresses(["10.0.0.3", "10.0.0.1", "10.0.0.2", "10.0.0.9", "fd00::1"]) == [
        f"10.0.0.1{RANGE}10.0.0.3", "10.0.0.9", "fd00::1"]
    assert picture.compact_networks([f"10.244.{i}.0/24" for i in (0, 1, 2, 4)]) == [
        f"10.244.0.0/24{RANGE}10.244.2.0/24", "10.244.4.0/24"]


NAMES = st.sets(st.tuples(st.sampled_from(["node", "k8s-w-", "n", "db"]), st.integers(0, 130),
                          st.sampled_from(["", ".lab"]), st.sampled_from([0, 2, 3])), max_size=60)


@given(NAMES)
def test_a_compact_listing_reads_back_as_exactly_its_names(parts):
    names = {f"{prefix}{number:0{width}d}{suffix}" for prefix, number, suffix, width in parts}
    read = [name for item in picture.compact_names(names) for name in expand(item)]
    assert sorted(read) == sorted(names)


@given(st.sets(st.integers(0, 600), max_size=80))
def test_compact_addresses_and_networks_read_back(numbers):
    addresses = {str(ipaddress.ip_address(0x0A000000 + n)) for n in numbers}
    read = [a for item in picture.compact_addresses(addresses) for a in expand(item)]
    assert sorted(read) == sorted(addresses)
    networks = {f"10.244.{n % 256}.0/24" for n in numbers}
    read = [n for item in picture.compact_networks(networks) for n in expand(item)]
    assert sorted(read) == sorted(networks)


# ---------------------------------------------------------------- the lab at 3 nodes


def test_the_lab_picture_shows_each_node_its_nic_address_mtu_and_what_was_skipped():
    plan = lab_plan()
    boxes = drawn(plan, [rendered_ingress()])
    assert problems(plan, boxes) == []
    assert node_boxes(boxes) == {
        "nodes1": ["node1 (control plane)", "eth1 192.168.56.11/24", "MTU 1500, pod MTU 1450", "skipped: eth0 NAT"],
        "nodes2": ["node2", "eth1 192.168.56.12/24", "MTU 1500, pod MTU 1450", "skipped: eth0 NAT"],
        "nodes3": ["node3", "eth1 192.168.56.13/24", "MTU 1500, pod MTU 1450", "skipped: eth0 NAT"]}
    assert boxes["pool1"] == ["MetalLB pool lab-l2 (L2)", "192.168.56.240-192.168.56.250", "11 addresses",
                              "fixed in the rendered Services:",
                              "192.168.56.240 nginx-ingress/nginx-ingress (80/TCP, 443/TCP)"]
    assert boxes["ingress"][2] == "LoadBalancer 192.168.56.240 (80/TCP, 443/TCP)"
    # render mode knows no per-node subnet: the pod network says where they come from
    assert boxes["pods"] == ["pod network 10.244.0.0/16", "flannel vxlan, VNI 1, UDP 8472",
                             "a /24 per node: given by the cluster (kube-controller-manager)", "services 10.96.0.0/12"]


def test_the_mermaid_block_has_the_same_boxes_as_the_svg():
    plan = lab_plan()
    model = picture.build(plan, [rendered_ingress()])
    from_mermaid = mermaid_boxes(picture.mermaid(model))
    assert problems(plan, from_mermaid) == []
    assert from_mermaid == drawn(plan, [rendered_ingress()])
    edges = [line.strip() for line in picture.mermaid(model).splitlines() if "-->" in line]
    assert 'network1 -->|"eth1"| nodes2' in edges and 'ingress -->|"its address"| pool1' in edges
    assert len(edges) == len(model.edges)


def test_a_node_left_out_of_the_picture_fails_the_check():
    """Negative control: the picture of a plan without node2 (3 nodes) or node17 (50 nodes), read against the
    whole plan."""
    plan = lab_plan()
    partial = copy.deepcopy(plan)
    del partial["nodes"]["node2"]
    assert problems(plan, drawn(partial)) == ["node2 is named by 0 node boxes"]
    big = lab_plan(inputs=fifty_inputs())
    partial = copy.deepcopy(big)
    del partial["nodes"]["node17"]
    boxes = drawn(partial)
    assert boxes["nodes1"][0] == f"node1{RANGE}node16, node18{RANGE}node44 (43)"
    assert problems(big, boxes) == ["node17 is named by 0 node boxes"]


def test_the_check_sees_a_wrong_count_a_foreign_node_and_a_missing_address():
    plan = lab_plan()
    boxes = drawn(plan)
    boxes["nodes2"] = ["node2 (2)", *boxes["nodes2"][1:]]
    boxes["nodes3"] = ["node9", "eth1 192.168.56.99/24", "MTU 1500"]
    assert problems(plan, boxes) == ["nodes2 says 2 nodes and names 1", "node9 is named but is no node of the plan",
                                     "node3 is named by 0 node boxes"]


# ---------------------------------------------------------------- 50 nodes


def test_fifty_nodes_share_three_boxes_that_name_every_node_and_address():
    plan = lab_plan(inputs=fifty_inputs())
    boxes = drawn(plan, [rendered_ingress()])
    assert problems(plan, boxes) == []
    assert node_boxes(boxes) == {
        "nodes1": [f"node1{RANGE}node44 (44)", "control plane: node1",
                   "eth1 on 192.168.56.0/24 \u00b7 MTU 1500, pod MTU 1450", f"192.168.56.11{RANGE}192.168.56.54",
                   "skipped: eth0 NAT"],
        "nodes2": [f"node45{RANGE}node48 (4)", "eth1 on 192.168.56.0/24 \u00b7 MTU 9000, pod MTU 8950",
                   f"192.168.56.55{RANGE}192.168.56.58", "skipped: eth0 NAT"],
        "nodes3": ["node49, node50 (2)", "ens9 on 192.168.56.0/24 \u00b7 MTU 1500, pod MTU 1450",
                   "192.168.56.59, 192.168.56.60", "skipped: eth0 NAT"]}
    assert boxes["network1"] == ["node network 192.168.56.0/24", "50 nodes"]
    assert problems(plan, mermaid_boxes(picture.mermaid(picture.build(plan, [rendered_ingress()])))) == []


def test_nodes_named_without_runs_are_listed_under_a_count():
    inputs = fifty_inputs()
    inputs["hosts"] = {f"{'abcdefghij'[i % 10]}{name}": host for i, (name, host) in enumerate(inputs["hosts"].items())}
    plan = lab_plan(inputs=inputs)
    boxes = drawn(plan)
    assert problems(plan, boxes) == []
    assert boxes["nodes1"][0] == "44 nodes"
    assert box_names(boxes["nodes1"])[0][:3] == ["anode1", "anode11", "anode21"]


# ---------------------------------------------------------------- api mode: the live cluster


def live_objects(count: int):
    nodes = [live_node(f"k8s-{i}", f"192.168.56.{10 + i}", f"10.244.{i - 1}.0/24") for i in range(1, count + 1)]
    services = [
        service("nginx-ingress", "nginx-ingress", "LoadBalancer", [{"port": 80, "protocol": "TCP", "nodePort": 31080}],
                labels=INGRESS, address="192.168.56.240"),
        service("dns-lb", "kube-system", "LoadBalancer", [{"port": 53, "protocol": "UDP"}], address="192.168.56.245"),
        service("waiting", "shop", "LoadBalancer", [{"port": 80, "protocol": "TCP"}]),
        service("coredns-np", "kube-system", "NodePort", [{"port": 53, "protocol": "UDP", "nodePort": 30053},
                                                          {"port": 53, "protocol": "TCP", "nodePort": 30053}]),
        service("kube-dns", "kube-system", "ClusterIP", [{"port": 53, "protocol": "UDP"}])]
    return nodes + services


def test_api_mode_shows_each_nodes_pod_subnet_the_addresses_in_use_and_the_nodeports():
    plan = lab_plan(k8s_apply="api")
    boxes = drawn(plan, live_objects(3))
    assert problems(plan, boxes) == []
    assert boxes["nodes2"][2:4] == ["MTU 1500, pod MTU 1450", "pods 10.244.1.0/24"]
    assert boxes["pods"][2] == "a /24 per node: the Nodes' podCIDR, shown on each"
    assert boxes["pool1"][3:] == ["in use:", "192.168.56.240 nginx-ingress/nginx-ingress (80/TCP)",
                                  "192.168.56.245 kube-system/dns-lb (53/UDP)"]
    assert boxes["lb_other"] == ["other LoadBalancer Services", "shop/waiting: pending"]
    assert boxes["nodeports"] == ["NodePorts on every node", "kube-system/coredns-np 53/UDP \u2192 :30053",
                                  "kube-system/coredns-np 53/TCP \u2192 :30053", f"range 30000{RANGE}32767"]


def test_api_mode_at_fifty_nodes_gives_each_box_its_run_of_pod_subnets():
    plan = lab_plan(inputs=fifty_inputs(k8s_apply="api"))
    boxes = drawn(plan, live_objects(50))
    assert problems(plan, boxes) == []
    assert f"pods 10.244.0.0/24{RANGE}10.244.43.0/24" in boxes["nodes1"]
    assert "pods 10.244.48.0/24, 10.244.49.0/24" in boxes["nodes3"]


# ---------------------------------------------------------------- other exposures and pools


def test_nodeport_ingress_and_a_bgp_pool():
    plan = lab_plan(ingress_exposure="nodeport", ingress_lb_ip=None, ingress_http_nodeport=30080,
                    metallb_pools=[LAB_POOL, {"name": "bgp", "mode": "bgp", "addresses": ["10.10.0.0/28"]}],
                    metallb_bgp_peers=[{"address": "10.0.0.1", "asn": 64512, "my_asn": 64513}])
    model = picture.build(plan)
    boxes = drawn(plan)
    assert problems(plan, boxes) == []
    assert boxes["ingress"][2:] == ["NodePort 80/TCP \u2192 :30080",
                                    "NodePort 443/TCP \u2192 assigned by the API server", "on every node's address"]
    assert boxes["peers"] == ["BGP peers", "10.0.0.1 AS 64512 (ours AS 64513)"]
    assert {(e.tail, e.head, e.label) for e in model.edges} >= {
        ("ingress", "network1", "NodePorts"), ("pool2", "peers", "BGP"), ("pool1", "network1", "L2 (ARP)")}
    assert ("pool2", "network1", "L2 (ARP)") not in {(e.tail, e.head, e.label) for e in model.edges}


def test_hostnetwork_ingress_without_metallb():
    plan = lab_plan(ingress_exposure="hostnetwork", ingress_lb_ip=None, metallb_enabled=False, metallb_pools=[])
    boxes = drawn(plan)
    assert problems(plan, boxes) == []
    assert boxes["ingress"][-1] == ":80 and :443 on every node's address (host network)"
    assert not [b for b in boxes if b.startswith("pool")]


def test_mermaid_text_escapes_what_would_end_a_label():
    model = picture.Picture('say "hi" <b> & #1')
    model.add("nodes", 'node"1', ['a "quoted" <tag> & #hash'])
    text = picture.mermaid(model)
    assert 'nodes1["<b>node#quot;1</b><br/>a #quot;quoted#quot; #lt;tag#gt; #amp; #35;hash"]' in text
    assert mermaid_boxes(text)["nodes1"] == ['node"1', 'a "quoted" <tag> & #hash']
