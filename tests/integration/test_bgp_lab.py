"""MetalLB in BGP mode, proven with a real router (tools/lab.py create --cluster --router, inventory/lab-bgp).

What MetalLB's own e2e suite asserts against its FRR peers, here against the lab's FRR, read from FRR
itself (`vtysh -c 'show ... json'`) and from a client that reaches the cluster only through it:

- site.yml in api mode: the router has an Established session with the speaker of every node and,
  for every allocated address (the ingress controller's, an exposed Service's), a route whose next
  hops are the nodes; the remote client gets the ingress controller over HTTP and CoreDNS over UDP
  on those addresses; verify's four kinds PASS, the LoadBalancer with MetalLB's BGP evidence;
- failover: one node's speaker stopped, the router withdraws that next hop within the hold time
  (9 s in the lab inventory) and the remote client keeps getting answers (both times printed);
- negative controls: with the router's view of the speakers' AS changed, the sessions do not come up,
  the routes go, and verify fails naming the peer and the session state MetalLB's speaker reports;
  a peer address nobody answers on is reported by verify with each speaker's connect error;
- day 2: a pool added with an exposed Service moved into it moves only that route (no session is
  reset), a new hold_time is negotiated by every session, what is dropped is withdrawn.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest
from k8snet_lab import router

from tests.integration.harness import wait_until
from tests.integration.renders import traffic_lines

pytestmark = [pytest.mark.lab, pytest.mark.cluster, pytest.mark.upstream]

DNS_QUERY = Path(__file__).with_name("dns_query.py")
NAME = "kubernetes.default.svc.cluster.local"
DNS_LB = {"name": "coredns-bgp", "namespace": "kube-system", "type": "loadbalancer", "target": "kube-dns",
          "lb_ip": "172.16.10.5", "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}]}
HOLD_TIME = 9
# The lab inventory's own pool and peer (inventory/lab-bgp), for the runs that pass them with changes.
POOLS = [{"name": "lab-bgp", "addresses": ["172.16.10.0/28"], "mode": "bgp"}]
PEER = {"name": "lab-router", "address": router.ROUTER_IP, "asn": router.ROUTER_ASN, "my_asn": router.SPEAKER_ASN,
        "hold_time": HOLD_TIME}


@pytest.fixture(scope="module")
def bgp_lab(lab_manager):
    return lab_manager.get(cluster=True, router=True)


def established(lab) -> set[str]:
    """The node addresses the router has an Established BGP session with."""
    peers = router.show("show bgp ipv4 unicast summary").get("peers", {})
    return {address for address, peer in peers.items() if peer.get("state") == "Established"}


def next_hops(prefix: str) -> set[str]:
    """The next hops of the router's installed route to `prefix` (a /32), empty when it has none."""
    routes = router.show(f"show ip route {prefix}").get(prefix, [])
    return {hop["ip"] for route in routes if route.get("installed") for hop in route.get("nexthops", [])
            if hop.get("active")}


def announcing(lab, service: str) -> set[str]:
    """The addresses of the nodes MetalLB says advertise `service` (its ServiceBGPStatus objects); kubeadm's
    control-plane node is excluded from external load balancers, so it is not among them."""
    statuses = lab.kube_json("get", "servicebgpstatuses.metallb.io", "-n", "metallb-system",
                             "-l", f"metallb.io/service-name={service}")["items"]
    return {lab.addresses[s["status"]["node"]] for s in statuses if "lab-router" in s["status"].get("peers", [])}


def ingress_address(lab) -> str:
    service = lab.kube_json("get", "service", "-n", "nginx-ingress", "nginx-ingress")
    return service["status"]["loadBalancer"]["ingress"][0]["ip"]


def remote_http(lab, address: str):
    """From the remote client (172.16.9.2, behind the router): the ingress controller's answer."""
    return lab.client_exec(["curl", "-sS", "-m", "3", "-o", "/dev/null", "-w", "%{http_code}", f"http://{address}/"],
                           check=False, netns=router.NS_REMOTE)


def remote_dns(lab, address: str):
    return lab.client_exec([sys.executable, str(DNS_QUERY), address, "53", NAME, "udp"], check=False,
                           netns=router.NS_REMOTE)


def test_bgp_sessions_routes_and_the_remote_client(bgp_lab, run_playbook):
    lab = bgp_lab
    result = run_playbook("site.yml", lab.inventory, extravars={"k8s_exposed_services": [DNS_LB]})
    assert result.rc == 0, result.why()
    lines = traffic_lines(result)
    for kind in ("intra-pod", "pod-to-pod", "pod-to-service", "external-to-service"):
        assert any(line.startswith(kind) and " PASS " in line for line in lines), lines
    assert any("BGP" in line and "lab-router" in line for line in lines), lines   # MetalLB's BGP evidence

    nodes = set(lab.addresses.values())
    wait_until(lambda: established(lab) == nodes, 60, "an Established session with every speaker")
    address = ingress_address(lab)
    assert address.startswith("172.16.10."), address                       # from the BGP pool
    for prefix, service in ((f"{address}/32", "nginx-ingress"), (f"{DNS_LB['lb_ip']}/32", DNS_LB["name"])):
        speakers = announcing(lab, service)
        assert speakers and speakers <= nodes, speakers
        wait_until(lambda p=prefix, s=speakers: next_hops(p) == s, 60,
                   f"a route to {prefix} via every node MetalLB says advertises it ({sorted(speakers)})")
    # Only the router leads there: the remote client has nothing but its default route to it.
    assert remote_http(lab, address).stdout == "404"                      # nginx answers (no Ingress for /)
    answer = remote_dns(lab, DNS_LB["lb_ip"])
    assert answer.returncode == 0 and "10.96.0.1" in answer.stdout, answer.stdout + answer.stderr


def test_a_stopped_speaker_is_withdrawn_within_the_hold_time_and_the_client_keeps_answers(bgp_lab):
    lab = bgp_lab
    address = DNS_LB["lb_ip"]                         # externalTrafficPolicy Cluster: every worker advertises it
    prefix = f"{address}/32"
    nodes = announcing(lab, DNS_LB["name"])
    assert len(nodes) >= 2 and next_hops(prefix) == nodes, (nodes, next_hops(prefix))
    victim = next(n for n in lab.nodes if lab.addresses[n] in nodes)
    # As if the node's speaker died without a goodbye: its packets to the router stop (no TCP reset),
    # so only the hold time can tell the router.
    lab.exec(victim, "nft add table inet k8snet_test; nft add chain inet k8snet_test out "
                     "'{ type filter hook output priority 0; }'; "
                     f"nft add rule inet k8snet_test out ip daddr {router.ROUTER_IP} tcp dport 179 drop")
    try:
        started = time.monotonic()
        answers = misses = 0
        while lab.addresses[victim] in next_hops(prefix):
            assert time.monotonic() - started < HOLD_TIME + 6, f"{victim} still a next hop after {HOLD_TIME + 6} s"
            ok = remote_dns(lab, address).returncode == 0
            answers, misses = answers + ok, misses + (not ok)
            time.sleep(0.5)
        withdrawn = time.monotonic() - started
        print(f"\n{victim}'s next hop withdrawn {withdrawn:.1f} s after its speaker went silent "
              f"(hold time {HOLD_TIME} s); meanwhile {answers} DNS answers, {misses} misses")
        assert withdrawn <= HOLD_TIME + 3
        assert next_hops(prefix) == nodes - {lab.addresses[victim]}
        for _ in range(10):                                                # every query answered now
            assert remote_dns(lab, address).returncode == 0
    finally:
        lab.exec(victim, "nft delete table inet k8snet_test", check=False)
    wait_until(lambda: next_hops(prefix) == nodes, 60, f"{victim} back as a next hop")


def test_a_wrong_asn_is_reported_by_verify_with_the_session_state(bgp_lab, run_playbook):
    lab = bgp_lab
    router.configure("router bgp 64500", f"neighbor speakers remote-as {router.SPEAKER_ASN + 1}")
    try:
        wait_until(lambda: not established(lab), 60, "the sessions to drop")
        result = run_playbook("playbooks/verify.yml", lab.inventory)
        assert result.rc != 0
        lines = traffic_lines(result)
        line = next(line for line in lines if line.startswith("external-to-service"))
        assert " FAIL " in line, lines
        assert "lab-router" in " ".join(lines) and "session" in " ".join(lines), lines
    finally:
        router.configure("router bgp 64500", f"neighbor speakers remote-as {router.SPEAKER_ASN}")
    wait_until(lambda: established(lab) == set(lab.addresses.values()), 90, "the sessions back up")


def test_an_unreachable_peer_is_reported_by_verify_with_the_speakers_error(bgp_lab, run_playbook):
    lab = bgp_lab
    nowhere = {"name": "nowhere", "address": "192.168.56.99", "asn": 64501, "my_asn": router.SPEAKER_ASN}
    try:
        result = run_playbook("site.yml", lab.inventory, extravars={"metallb_bgp_peers": [PEER, nowhere]})
        assert result.rc != 0                                             # verify stops the run
        evidence = " ".join(traffic_lines(result))
        for node in lab.nodes:                                            # every speaker says why, by itself
            said = re.search(rf"BGP session {node} -> nowhere 192\.168\.56\.99: FAILED \(([^)]*)", evidence)
            assert said and "failed to connect to peer" in said.group(1), evidence
            assert f"BGP session {node} -> lab-router {router.ROUTER_IP}: ok (established" in evidence, evidence
    finally:
        restored = run_playbook("site.yml", lab.inventory, skip_tags="verify")
        assert restored.rc == 0, restored.why()


def sessions_up_since(lab) -> dict[str, int]:
    """How long each Established session has been up (ms): a reset session starts again from 0."""
    peers = router.show("show bgp ipv4 unicast summary").get("peers", {})
    return {a: p["peerUptimeMsec"] for a, p in peers.items() if p.get("state") == "Established"}


def test_day2_pools_change_only_their_routes_and_a_new_hold_time_takes_effect(bgp_lab, run_playbook):
    lab = bgp_lab
    ingress = f"{ingress_address(lab)}/32"
    ingress_hops = next_hops(ingress)
    moved = {**DNS_LB, "lb_ip": "172.16.10.20"}
    second = {"name": "lab-bgp-2", "addresses": ["172.16.10.16/28"], "mode": "bgp"}

    def site(**extravars):
        result = run_playbook("site.yml", lab.inventory, extravars=extravars, skip_tags="verify")
        assert result.rc == 0, result.why()

    def nothing_else_moved(up_before: dict[str, int]) -> None:
        assert next_hops(ingress) == ingress_hops
        up_after = sessions_up_since(lab)
        assert set(up_after) == set(up_before) and all(up_after[a] > up_before[a] for a in up_before), (
            up_before, up_after)                                         # no session was reset

    # A pool added and the exposed Service moved into it: its route moves, nothing else.
    up = sessions_up_since(lab)
    site(metallb_pools=[*POOLS, second], k8s_exposed_services=[moved])
    wait_until(lambda: next_hops("172.16.10.20/32") == announcing(lab, DNS_LB["name"]), 60,
               "a route to the Service's address in the new pool")
    wait_until(lambda: not next_hops(f"{DNS_LB['lb_ip']}/32"), 60, "the old address withdrawn")
    nothing_else_moved(up)
    # The router has the route once a speaker announces it; kube-proxy answers on the new address once its next
    # sync has the Service's new status (a cold CI run asked in between and timed out).
    wait_until(lambda: remote_dns(lab, "172.16.10.20").returncode == 0, 30, "CoreDNS to answer on 172.16.10.20")

    # The peer's hold time down to 6 s: BGP takes the smaller of both ends' (the router offers 9 s). The later
    # steps keep it: going back to the default would reset every session again.
    peers = [{**PEER, "hold_time": 6}]
    site(metallb_pools=[*POOLS, second], k8s_exposed_services=[moved], metallb_bgp_peers=peers)

    def hold_times() -> set[int]:
        neighbors = router.show("show bgp neighbors")
        return {n.get("bgpTimerHoldTimeMsecs") for n in neighbors.values() if n.get("bgpState") == "Established"}
    wait_until(lambda: hold_times() == {6000} and len(established(lab)) == len(lab.nodes), 60,
               "every session negotiated with the new 6 s hold time")

    # The Service dropped (its route goes), then the pool, which no Service uses any more (nothing moves).
    site(metallb_pools=[*POOLS, second], metallb_bgp_peers=peers)
    wait_until(lambda: not next_hops("172.16.10.20/32"), 60, "the dropped Service's route withdrawn")
    up = sessions_up_since(lab)
    assert set(up) == set(lab.addresses.values()), up                    # dropping a Service reset no session
    site(metallb_pools=POOLS, metallb_bgp_peers=peers)
    nothing_else_moved(up)
