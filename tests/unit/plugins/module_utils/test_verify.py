"""The verification table: host evidence in render mode, live checks in api mode."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading

from ansible_collections.onprem.k8snet.plugins.module_utils import verify

from tests.unit.planfixtures import REPO

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


def pod_check(kind, what, stdout, *, rc=0, expect="verify-", exact=False, stderr=""):
    return {"item": {"kind": kind, "what": what, "expect": expect, "exact": exact}, "rc": rc, "stdout": stdout,
            "stderr": stderr}


def ext_check(what, stdout, *, rc=0, **item):
    return {"item": {"kind": "external-to-service", "what": what, "expect": "200 verify-", **item}, "rc": rc,
            "stdout": stdout, "stderr": "" if rc == 0 else "no answer: [Errno 111] Connection refused"}


LIVE = {
    "pod": [pod_check("intra-pod", "verify-a client -> web over 127.0.0.1 (HTTP)", "verify-a\n", expect="verify-a"),
            pod_check("pod-to-pod", "verify-a -> verify-b HTTP", "verify-b", expect="verify-b"),
            pod_check("pod-to-pod", "verify-a -> verify-b UDP, a 1450-byte datagram", "1417\n", expect="1417",
                      exact=True),
            pod_check("pod-to-service", "CoreDNS answers verify-svc over UDP", "", rc=9,
                      expect="10.96.0.10", exact=True, stderr=";; connection timed out; no servers could be reached")],
    "external": [ext_check("NodePort 192.168.56.11:31234 (node1)", "200 verify-b"),
                 ext_check("NodePort 192.168.56.12:31234 (node2)", "", rc=1),
                 ext_check("LoadBalancer 192.168.56.240:8080 (MetalLB)", "200 verify-a", arp="192.168.56.240")],
    "arp": [{"item": {"arp": "192.168.56.240"}, "rc": 0,
             "stdout": '[{"dst":"192.168.56.240","dev":"eth0","lladdr":"02:6b:38:02:01:00","state":["REACHABLE"]}]'}],
    "l2_status": [{"status": {"serviceName": "verify-lb", "node": "node2"}}],
}


def test_live_checks_pass_and_fail_with_evidence():
    rows = by_kind(verify.live_rows(LIVE))
    assert rows["intra-pod"]["status"] == verify.PASS and "(verify-a)" in rows["intra-pod"]["evidence"]
    assert rows["pod-to-pod"]["status"] == verify.PASS and "UDP, a 1450-byte datagram: ok (1417)" in \
        rows["pod-to-pod"]["evidence"]
    assert rows["pod-to-service"]["status"] == verify.FAIL
    assert "expected '10.96.0.10', got ';; connection timed out" in rows["pod-to-service"]["evidence"]
    ext = rows["external-to-service"]
    assert ext["status"] == verify.FAIL
    assert "NodePort 192.168.56.12:31234 (node2): FAILED (expected '200 verify-', got 'no answer:" in ext["evidence"]
    assert "LoadBalancer 192.168.56.240:8080 (MetalLB): ok (200 verify-a)" in ext["evidence"]
    assert "ARP for 192.168.56.240: ok (answered by node2 (MetalLB ServiceL2Status), client's neighbour entry " \
           "02:6b:38:02:01:00)" in ext["evidence"]


def test_an_exact_answer_must_be_exact():
    short = by_kind(verify.live_rows({"pod": [pod_check("pod-to-pod", "UDP full size", "141\n", expect="1417",
                                                          exact=True)]}))
    assert short["pod-to-pod"]["status"] == verify.FAIL
    assert "expected '1417', got '141'" in short["pod-to-pod"]["evidence"]


def test_a_kind_without_checks_fails():
    rows = by_kind(verify.live_rows({"pod": [], "external": []}))
    assert all(r["status"] == verify.FAIL and r["evidence"] == "not checked" for r in rows.values())


BATCH_SCRIPT = REPO / "roles/verify/files/batch_checks.sh"


def run_batch(pod, checks, script=None):
    """What k8s_exec returns for roles/verify/tasks/api.yml's one exec per pod, run here with sh."""
    text = script if script is not None else BATCH_SCRIPT.read_text()
    done = subprocess.run(["sh", "-c", text, "sh", *(c["command"] for c in checks)],
                          capture_output=True, text=True, check=False)
    return {"item": [pod, checks], "rc": done.returncode, "stdout": done.stdout, "stderr": done.stderr}


BATCH = [
    {"kind": "intra-pod", "what": "over localhost", "expect": "verify-a", "command": "echo verify-a"},
    {"kind": "pod-to-pod", "what": "two lines", "expect": "verify-b", "command": "printf 'x\\nverify-b\\n'"},
    {"kind": "pod-to-service", "what": "DNS times out", "expect": "10.96.0.10", "exact": True,
     "command": "echo ';; connection timed out' >&2; exit 9"},
    {"kind": "pod-to-pod", "what": "UDP full size", "expect": "1417", "exact": True, "command": "echo 1417"},
]


def test_one_exec_per_pod_splits_into_one_result_per_check():
    results = verify.split_batch(run_batch("verify-a", BATCH))
    assert [(r["item"]["what"], r["rc"], r["stdout"], r["stderr"]) for r in results] == [
        ("over localhost", 0, "verify-a", ""),
        ("two lines", 0, "x\nverify-b", ""),
        ("DNS times out", 9, "", ";; connection timed out"),
        ("UDP full size", 0, "1417", ""),
    ]
    rows = by_kind(verify.live_rows({"pod": [run_batch("verify-a", BATCH)]}))
    assert rows["intra-pod"]["status"] == verify.PASS and rows["pod-to-pod"]["status"] == verify.PASS
    assert "expected '10.96.0.10', got ';; connection timed out'" in rows["pod-to-service"]["evidence"]


def test_checks_an_exec_did_not_reach_fail_with_the_exec_error():
    failed = {"item": ["verify-a", BATCH[:2]], "failed": True, "msg": "pods \"verify-a\" not found"}
    results = verify.split_batch(failed)
    assert [(r["rc"], r["stderr"]) for r in results] == [(None, 'pods "verify-a" not found')] * 2
    rows = by_kind(verify.live_rows({"pod": [failed]}))
    assert rows["intra-pod"]["status"] == verify.FAIL and "not found" in rows["intra-pod"]["evidence"]


def test_a_batch_whose_marks_the_reader_does_not_know_passes_nothing():
    # negative control: the same checks, the script printing a mark of another spelling
    other = BATCH_SCRIPT.read_text().replace("@@k8snet-check", "@@check")
    rows = by_kind(verify.live_rows({"pod": [run_batch("verify-a", BATCH, other)]}))
    assert rows["intra-pod"]["status"] == verify.FAIL and rows["pod-to-pod"]["status"] == verify.FAIL


SPEAKER_LOG = [
    '{"caller":"bgp_controller.go:235","event":"peerAdded","level":"info","peer":"192.168.56.4"}',
    '{"caller":"native.go:123","event":"sessionUp","level":"info","msg":"BGP session established",'
    '"peer":"192.168.56.4","peerASN":64500}',
    "not json: a line of another logger",
]
DOWN = '{"event":"sessionDown","level":"warn","msg":"BGP session down","peer":"192.168.56.4"}'
REFUSED = ('{"level":"error","op":"connect","msg":"failed to connect to peer","peer":"192.168.56.4:179",'
           '"error":"read OPEN: peer sent notification: bad peer AS"}')


def test_the_speakers_last_session_event_per_peer_is_its_state():
    assert verify.session_state(SPEAKER_LOG, "192.168.56.4") == "established"
    assert verify.session_state([*SPEAKER_LOG, DOWN], "192.168.56.4") == "down"
    assert verify.session_state([*SPEAKER_LOG, REFUSED], "192.168.56.4") == (
        "failed to connect to peer: read OPEN: peer sent notification: bad peer AS")
    assert verify.session_state(SPEAKER_LOG, "192.168.56.9") == "no session event in the speaker's log"


def test_a_bgp_pool_is_evidenced_by_servicebgpstatus_and_every_speakers_session():
    live = {"arp": [{"item": {"arp": "172.16.10.1"}, "stdout": "[]"}],
            "bgp_status": [{"status": {"serviceName": "verify-lb", "node": n, "peers": ["lab-router"]}}
                           for n in ("node2", "node3")],
            "bgp_peers": [{"name": "lab-router", "address": "192.168.56.4"}],
            "bgp_logs": {"node2": SPEAKER_LOG, "node3": [*SPEAKER_LOG, REFUSED]}}
    rows = {r["what"]: r for r in verify.live_checks(live)["external-to-service"]}
    assert rows["BGP for 172.16.10.1"]["ok"] and "advertised by node2, node3 to lab-router" in \
        rows["BGP for 172.16.10.1"]["detail"]
    assert "ARP for 172.16.10.1" not in rows                                # no L2 evidence asked for BGP
    assert rows["BGP session node2 -> lab-router 192.168.56.4"]["ok"]
    node3 = rows["BGP session node3 -> lab-router 192.168.56.4"]
    assert not node3["ok"] and "bad peer AS" in node3["detail"]             # the negative control


def test_the_clients_checks_run_as_one_batch_and_are_judged_one_by_one():
    """roles/verify/files/http_get.py --batch against a local server, its output split by live_checks."""
    class Hostname(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = f"verify-a for {self.headers.get('Host')}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hostname)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/hostname"
    checks = [{"kind": "external-to-service", "what": "NodePort", "url": url, "expect": "200 verify-"},
              {"kind": "external-to-service", "what": "refused", "url": "http://127.0.0.1:1/", "expect": "200 verify-"},
              {"kind": "external-to-service", "what": "Ingress", "url": url, "host": "verify.k8snet.test",
               "expect": "200 verify-a for verify.k8snet.test"}]
    try:
        done = subprocess.run([sys.executable, str(REPO / "roles/verify/files/http_get.py"), "--batch",
                               json.dumps(checks)], capture_output=True, text=True, check=True, timeout=30)
    finally:
        server.shutdown()
    batch = {"item": ["client", checks], "rc": done.returncode, "stdout": done.stdout}
    judged = {c["what"]: c for c in verify.live_checks({"external": [batch]})["external-to-service"]}
    assert judged["NodePort"]["ok"] and judged["Ingress"]["ok"]
    assert not judged["refused"]["ok"] and "no answer" in judged["refused"]["detail"]
