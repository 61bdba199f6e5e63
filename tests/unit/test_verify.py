"""The verification table: host evidence in render mode, live checks in api mode."""

from __future__ import annotations

from ansible_collections.onprem.k8snet.plugins.module_utils import verify

PLAN = {"cluster": {"nodeport_range": {"start": 30000, "end": 32767}, "inventory_name": "lab", "apply": "render"},
        "flannel": {"backend": "vxlan"}, "metallb": {"enabled": True, "pools": [{"name": "p"}]}}


def host(rc=0, fwd="1", nf="1", ports="30000-32767", vxlan=({"large": True},)):
    return {"loopback_rc": rc, "forwarding": fwd, "bridge_nf": nf, "reserved_ports": ports, "vxlan": list(vxlan)}


def by_kind(rows):
    return {r["kind"]: r for r in rows}


def test_render_mode_passes_what_hosts_prove_and_names_what_needs_a_cluster():
    rows = by_kind(verify.host_rows(PLAN, {"node1": host(), "node2": host()}))
    assert rows["intra-pod"]["status"] == verify.PASS
    assert rows["pod-to-pod"]["status"] == verify.NEEDS_CLUSTER
    assert "2/2 node pairs passed VXLAN" in rows["pod-to-pod"]["evidence"]
    assert "MetalLB pool addresses free" in rows["external-to-service"]["evidence"]
    text = verify.markdown(list(rows.values()), "lab", "render")
    assert "| intra-pod | PASS |" in text and "need a live cluster" in text


def test_render_mode_failures_name_the_node():
    rows = by_kind(verify.host_rows(PLAN, {"node1": host(rc=1), "node2": host(fwd="0", ports=""),
                                           "node3": host(vxlan=({"large": False},))}))
    assert rows["intra-pod"]["status"] == verify.FAIL and "node1" in rows["intra-pod"]["evidence"]
    assert rows["pod-to-service"]["status"] == verify.FAIL and "node2" in rows["pod-to-service"]["evidence"]
    assert rows["external-to-service"]["status"] == verify.FAIL
    assert rows["pod-to-pod"]["status"] == verify.FAIL and "2/3" in rows["pod-to-pod"]["evidence"]


def test_render_mode_says_which_pairs_this_run_probed_when_it_probed_fewer_than_all():
    scope = "only the pairs of node4 (new, changed NIC or not prepared)"
    rows = by_kind(verify.host_rows(PLAN, {"node1": host(), "node4": host()}, scope))
    assert rows["pod-to-pod"]["evidence"] == f"host side: 2/2 node pairs passed VXLAN pings at the pod MTU ({scope})"
    none = "none: nothing the probes depend on changed since the last applied run, whose probes passed"
    rows = by_kind(verify.host_rows(PLAN, {"node1": host(vxlan=()), "node2": host(vxlan=())}, none))
    assert rows["pod-to-pod"]["status"] == verify.NEEDS_CLUSTER
    assert rows["pod-to-pod"]["evidence"] == f"host side: no VXLAN pair probed in this run ({none})"
    rows = by_kind(verify.host_rows(PLAN, {"node1": host()}, "all pairs and pool addresses (nothing applied yet)"))
    assert rows["pod-to-pod"]["evidence"] == "host side: 1/1 node pairs passed VXLAN pings at the pod MTU"


def test_live_checks_pass_and_fail_with_evidence():
    live = {"intra": {"rc": 0, "stdout": "verify-a\n"}, "pod": {"rc": 0, "stdout": "verify-b"},
            "service": {"rc": 1, "stdout": "", "msg": "wget: download timed out"},
            "nodeports": [{"status": 200, "url": "http://192.168.56.11:31234/"},
                          {"status": -1, "url": "http://192.168.56.12:31234/", "msg": "Connection refused"}],
            "loadbalancer": {"status": 200, "url": "http://192.168.56.240:8080/"}, "ingress": None}
    rows = by_kind(verify.live_rows(live))
    assert rows["intra-pod"]["status"] == verify.PASS and "(verify-a)" in rows["intra-pod"]["evidence"]
    assert rows["pod-to-service"]["status"] == verify.FAIL and "timed out" in rows["pod-to-service"]["evidence"]
    ext = rows["external-to-service"]
    assert ext["status"] == verify.FAIL
    assert "NodePort http://192.168.56.12:31234/: FAILED (Connection refused)" in ext["evidence"]
    assert "LoadBalancer http://192.168.56.240:8080/: ok (HTTP 200)" in ext["evidence"]
