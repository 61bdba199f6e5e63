"""onprem.k8snet.underlay_probe through its argument_spec, with the probes a real plan gives.

ip, bridge, nft and firewall-cmd answer from tests/unit/commands.py; the pings go to a stub of
run_parallel, the raw-socket ARP sweep (root only) to a stub that records what it was asked; binding,
the detached listener and its pid file are stubbed (nothing forks, nothing binds the plan's ports).
Reaching a port is real where the target is on 127.0.0.1 (a listener of the test's own) and stubbed
for the plan's node addresses. subprocess.Popen fails the test if anything else tries to run a command.
"""

from __future__ import annotations

import copy
import json
import socket
import subprocess
import threading

import pytest
import yaml
from ansible_collections.onprem.k8snet.plugins.module_utils import probe_host
from ansible_collections.onprem.k8snet.plugins.module_utils.plan import build_plan
from ansible_collections.onprem.k8snet.plugins.modules import underlay_probe

from tests.unit.commands import Commands, Nft
from tests.unit.inputs import FIXTURES, lab_inputs
from tests.unit.planfixtures import run_module

RULESET = json.loads((FIXTURES / "nft_drop_ruleset.json").read_text())


def plan_probes(flannel_on_node3: bool = False) -> dict:
    inputs = lab_inputs()
    inputs["hosts"]["node3"]["facts"]["flannel"]["running"] = flannel_on_node3
    plan, problems = build_plan(inputs)
    assert plan is not None, [str(e) for e in problems.errors]
    return plan["probes"]


PROBES = plan_probes()
VXLAN = PROBES["vxlan"]["node1"]          # create_device, device k8snprobe0, vni 2, port 8472, eth1, ...
PORTS = PROBES["ports"]["node1"]          # MetalLB memberlist 7946 tcp+udp to node2 and node3
POOL = ["192.168.56.240", "192.168.56.241", "192.168.56.242"]
ARP = {"dev": "eth1", "targets": [{"peer": "node2", "address": "192.168.56.12"},
                                  {"peer": "node3", "address": "192.168.56.13"}]}
VXLAN_OPENED = 'insert rule inet filter input udp dport 8472 accept comment "k8snet-probe: udp 8472 (vxlan probe)"'
PORTS_OPENED = [f'insert rule inet filter input {proto} dport 7946 accept comment "k8snet-probe: {proto} 7946 '
                f'(MetalLB memberlist)"' for proto in ("tcp", "udp")]
ETH1 = [{"ifname": "eth1", "addr_info": [{"family": "inet", "local": "192.168.56.11", "prefixlen": 24},
                                        {"family": "inet", "local": "192.168.56.99", "prefixlen": 24}]}]


class Host:
    """node1 with a drop-policy nftables input chain; the probe device exists once `ip link add` made it."""

    def __init__(self, tmp_path, monkeypatch):
        self.device = False
        self.commands = Commands(tools={"ip", "bridge"}).install(monkeypatch)
        self.nft = Nft(RULESET).attach(self.commands)
        out = self.commands.outputs
        out["ip", "link", "show", "dev", "k8snprobe0"] = lambda _: (0, "5: k8snprobe0: ...", "") if self.device \
            else (1, "", 'Device "k8snprobe0" does not exist.\n')
        out["ip", "link", "add", "k8snprobe0", "type", "vxlan", "id", "2", "dstport", "8472", "local",
            "192.168.56.11", "dev", "eth1", "df", "inherit"] = self.add
        out["ip", "link", "del", "k8snprobe0"] = self.delete
        out["ip", "addr", "add", "198.18.0.1/15", "dev", "k8snprobe0"] = (0, "", "")
        out["ip", "link", "set", "k8snprobe0", "mtu", "1450", "up"] = (0, "", "")
        for peer in ("192.168.56.12", "192.168.56.13"):
            out["bridge", "fdb", "append", "00:00:00:00:00:00", "dev", "k8snprobe0", "dst", peer] = (0, "", "")
        out["ip", "-j", "-4", "addr", "show", "dev", "eth1"] = (0, json.dumps(ETH1), "")
        out["ip", "-j", "-4", "addr", "show", "dev", "eth9"] = (1, "", 'Device "eth9" does not exist.\n')
        out["ip", "-j", "-4", "addr", "show", "dev", "eth2"] = (0, json.dumps([{"ifname": "eth2", "addr_info": []}]),
                                                                "")
        self.pings: dict = {}
        self.answers: dict = {}                 # (target index, "large"|"small") -> rc; default 0
        self.events: list = []                  # the listener's life
        self.busy: list[str] = []               # ports this node cannot bind
        self.reached: list[dict] = []           # the ports probe's targets, in order
        self.down: set[str] = set()             # peers whose ports do not answer
        self.sweeps: list[tuple] = []
        self.arp_answers = {"192.168.56.241": "52:54:00:12:34:56", "192.168.56.12": "52:54:00:00:00:12"}
        self.arp_error: OSError | None = None
        real_check_port = probe_host.check_port

        def run_parallel(commands):
            self.pings = dict(commands)
            return {key: (self.answers.get(key, 0), "") for key in commands}

        def arp_sweep(dev, source, targets):
            self.sweeps.append((dev, source, list(targets)))
            if self.arp_error:
                raise self.arp_error
            return {t: mac for t, mac in self.arp_answers.items() if t in targets}

        def bind_listeners(ports):
            self.events.append(("bind", [(p["protocol"], p["port"]) for p in ports]))
            return [f"socket {p['protocol']}/{p['port']}" for p in ports
                    if f"{p['protocol']}/{p['port']}" not in self.busy], list(self.busy)

        def daemonize(sockets, lifetime):
            self.events.append(("serve", sockets, lifetime))
            return 4242

        def stop_listeners():
            self.events.append(("stop",))
            return any(e[0] == "serve" for e in self.events)

        def check_port(target):
            if target["address"].startswith("127."):
                return real_check_port(target, timeout=1.0)
            self.reached.append(target)
            return {**target, "ok": target["peer"] not in self.down}

        def no_processes(*args, **kwargs):
            raise AssertionError(f"the test tried to run {args}")

        for name, fake in (("run_parallel", run_parallel), ("arp_sweep", arp_sweep),
                           ("bind_listeners", bind_listeners), ("daemonize", daemonize),
                           ("stop_listeners", stop_listeners), ("check_port", check_port)):
            monkeypatch.setattr(underlay_probe, name, fake)
        monkeypatch.setattr(subprocess, "Popen", no_processes)
        monkeypatch.setattr(probe_host, "FIREWALLD_NOTE", str(tmp_path / "k8snet-probe-firewalld"))
        self.note = tmp_path / "k8snet-probe-firewalld"

    def add(self, _):
        self.device = True
        return 0, "", ""

    def delete(self, _):
        self.device = False
        return 0, "", ""

    def run(self, state, check_mode=False, **args):
        return run_module(underlay_probe.main, {"state": state, **copy.deepcopy(args)}, check_mode=check_mode)


@pytest.fixture
def host(tmp_path, monkeypatch):
    return Host(tmp_path, monkeypatch)


# ---------------------------------------------------------------- present

def test_present_builds_the_device_the_plan_describes_and_opens_its_port_for_the_run(host):
    result = host.run("present", vxlan=VXLAN)
    assert result == {"failed": False, "changed": False, "opened": [VXLAN_OPENED], "busy": [], "pid": None}
    assert host.commands.calls == [
        ("ip", "link", "show", "dev", "k8snprobe0"),
        ("ip", "link", "add", "k8snprobe0", "type", "vxlan", "id", "2", "dstport", "8472", "local", "192.168.56.11",
         "dev", "eth1", "df", "inherit"),
        ("ip", "addr", "add", "198.18.0.1/15", "dev", "k8snprobe0"),
        ("ip", "link", "set", "k8snprobe0", "mtu", "1450", "up"),
        ("bridge", "fdb", "append", "00:00:00:00:00:00", "dev", "k8snprobe0", "dst", "192.168.56.12"),
        ("bridge", "fdb", "append", "00:00:00:00:00:00", "dev", "k8snprobe0", "dst", "192.168.56.13"),
        ("nft", "-j", "list", "ruleset"), ("nft", "-f", "-")]
    assert host.nft.comments("k8snet-probe:") == ["k8snet-probe: udp 8472 (vxlan probe)"]
    assert host.events == []                                              # no ports: no listener


def test_present_with_ports_stops_an_old_listener_binds_and_opens_everything_in_one_nft_batch(host):
    result = host.run("present", vxlan=VXLAN, ports=PORTS, lifetime=30)
    assert result["opened"] == [VXLAN_OPENED, *PORTS_OPENED] and result["busy"] == [] and result["pid"] == 4242
    assert host.events == [("stop",), ("bind", [("tcp", 7946), ("udp", 7946)]),
                           ("serve", ["socket tcp/7946", "socket udp/7946"], 30)]
    assert host.commands.calls.count(("nft", "-f", "-")) == 1
    assert host.nft.comments("k8snet-probe:") == ["k8snet-probe: udp 8472 (vxlan probe)",
                                                  "k8snet-probe: tcp 7946 (MetalLB memberlist)",
                                                  "k8snet-probe: udp 7946 (MetalLB memberlist)"]


def test_present_again_replaces_a_leftover_device_opens_nothing_twice_and_reports_ports_in_use(host):
    host.run("present", vxlan=VXLAN, ports=PORTS)
    host.busy = ["tcp/7946", "udp/7946"]
    again = host.run("present", vxlan=VXLAN, ports=PORTS)
    assert again["opened"] == [] and again["busy"] == ["tcp/7946", "udp/7946"]
    assert again["pid"] is None and host.events[-1][0] == "bind"         # nothing bound: no listener
    assert host.commands.calls.count(("ip", "link", "del", "k8snprobe0")) == 1
    assert len(host.nft.comments("k8snet-probe:")) == 3


def test_check_mode_sets_up_the_same(host, tmp_path, monkeypatch):
    host.run("present", check_mode=True, vxlan=VXLAN, ports=PORTS)
    other = Host(tmp_path, monkeypatch)
    other.run("present", vxlan=VXLAN, ports=PORTS)
    assert host.commands.calls == other.commands.calls and host.device
    assert host.events[-1] == ("serve", ["socket tcp/7946", "socket udp/7946"], 120)


def test_where_flannel_runs_no_device_is_made_and_nothing_opened(host):
    result = host.run("present", vxlan={**VXLAN, "create_device": False})
    assert result["opened"] == [] and host.commands.calls == [("ip", "link", "show", "dev", "k8snprobe0")]


@pytest.mark.parametrize("missing", ["vni", "port", "local", "dev", "address", "mtu"])
def test_a_device_without_its_settings_fails_naming_the_missing_one(host, missing):
    result = host.run("present", vxlan={**VXLAN, missing: None})
    assert result["failed"] is True and result["msg"] == f"vxlan.{missing} is required to create the probe device"
    assert not host.device


def test_a_refused_ip_command_fails_with_what_ip_said(host):
    host.commands.outputs["ip", "addr", "add", "198.18.0.1/15", "dev", "k8snprobe0"] = \
        (2, "", "Error: ipv4: Address already assigned.\n")
    result = host.run("present", vxlan=VXLAN)
    assert result["failed"] is True and result["msg"] == "Error: ipv4: Address already assigned."
    assert result["rc"] == 2


# ---------------------------------------------------------------- probe

def test_probe_pings_each_target_at_its_size_with_dont_fragment_and_small(host):
    targets = [*plan_probes(flannel_on_node3=True)["vxlan"]["node1"]["targets"],
               {"peer": "node9", "kind": "device", "address": "198.18.0.10", "size": 1450, "underlay": "192.168.56.11"}]
    assert [(t["kind"], t["address"], t["size"]) for t in targets[:2]] == [
        ("device", "198.18.0.2", 1450), ("underlay", "192.168.56.13", 1500)]
    host.answers = {(0, "large"): 1}                    # node2: small pings pass, full-size ones are lost
    result = host.run("probe", vxlan={**VXLAN, "targets": targets})
    assert host.pings == {
        (0, "large"): ["ping", "-n", "-q", "-c", "3", "-i", "0.2", "-w", "3", "-I", "k8snprobe0", "-M", "do",
                       "-s", "1422", "198.18.0.2"],
        (0, "small"): ["ping", "-n", "-q", "-c", "3", "-i", "0.2", "-w", "3", "-I", "k8snprobe0", "198.18.0.2"],
        (1, "large"): ["ping", "-n", "-q", "-c", "3", "-i", "0.2", "-w", "3", "-I", "eth1", "-M", "do",
                       "-s", "1472", "192.168.56.13"],
        (1, "small"): ["ping", "-n", "-q", "-c", "3", "-i", "0.2", "-w", "3", "-I", "eth1", "192.168.56.13"]}
    assert [(r["peer"], r["large"], r["small"], r["same_address"]) for r in result["vxlan"]] == [
        ("node2", False, True, False), ("node3", True, True, False), ("node9", False, False, True)]
    assert result["arp"] is None and result["ports"] is None and result["pools"] is None
    assert result["changed"] is False and host.commands.calls == []


def test_probe_sends_every_kind_at_once_and_returns_each_by_name(host):
    result = host.run("probe", vxlan=VXLAN, arp=ARP, ports=PORTS, pools={"dev": "eth1", "addresses": POOL})
    assert [r["peer"] for r in result["vxlan"]] == ["node2", "node3"]
    assert result["arp"]["answers"] == {"192.168.56.12": "52:54:00:00:00:12"}
    assert result["pools"]["answers"] == {"192.168.56.241": "52:54:00:12:34:56"}
    assert all(isinstance(result[k]["duration"], float) and result[k]["duration"] >= 0 for k in ("arp", "pools"))
    assert sorted(host.sweeps) == [("eth1", "192.168.56.11", ["192.168.56.12", "192.168.56.13"]),
                                   ("eth1", "192.168.56.11", POOL)]
    assert [(r["peer"], r["protocol"], r["ok"]) for r in result["ports"]] == [
        ("node2", "tcp", True), ("node2", "udp", True), ("node3", "tcp", True), ("node3", "udp", True)]
    # the NIC's address was asked once, for both sweeps, and nothing else ran a command
    assert host.commands.calls == [("ip", "-j", "-4", "addr", "show", "dev", "eth1")]


def test_probe_reaches_every_port_and_skips_udp_to_a_port_the_peer_could_not_bind(host):
    host.down = {"node3"}
    result = host.run("probe", ports=PORTS, busy={"node2": ["udp/7946"], "node3": []})
    skipped, *reached = result["ports"]
    assert skipped == {**PORTS["targets"][1], "ok": False, "skipped": "port in use on the peer; UDP not provable"}
    assert [(r["peer"], r["protocol"], r["ok"]) for r in reached] == [
        ("node2", "tcp", True), ("node3", "tcp", False), ("node3", "udp", False)]
    assert [(t["peer"], t["protocol"]) for t in host.reached] == [("node2", "tcp"), ("node3", "tcp"),
                                                                 ("node3", "udp")]


def test_probe_on_loopback_tells_an_open_port_a_closed_one_and_an_echo(host):
    with socket.socket() as listening, socket.socket() as closed, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as echo:
        listening.bind(("127.0.0.1", 0))
        listening.listen(1)
        closed.bind(("127.0.0.1", 0))                          # bound, never listening: refused
        echo.bind(("127.0.0.1", 0))
        echo.settimeout(3)

        def answer_once():
            try:
                data, peer = echo.recvfrom(64)
                echo.sendto(data, peer)
            except OSError:
                pass
        thread = threading.Thread(target=answer_once, daemon=True)
        thread.start()
        targets = [{"peer": "self", "address": "127.0.0.1", "protocol": protocol, "port": s.getsockname()[1],
                    "why": "test"} for protocol, s in (("tcp", listening), ("tcp", closed), ("udp", echo))]
        result = host.run("probe", ports={"targets": targets})
        thread.join(timeout=5)
    opened, refused, echoed = result["ports"]
    assert opened["ok"] is True and echoed["ok"] is True
    assert refused["ok"] is False and refused["error"] == "Connection refused"


def test_a_pool_sweep_without_addresses_sends_nothing(host):
    assert host.run("probe", pools={"dev": "eth1", "addresses": []})["pools"]["answers"] == {}
    assert host.sweeps == []


def test_check_mode_probes_the_same(host):
    args = {"arp": ARP, "pools": {"dev": "eth1", "addresses": POOL}}
    checked, ran = host.run("probe", check_mode=True, **args), host.run("probe", **args)
    assert (checked["arp"]["answers"], checked["pools"]["answers"]) == (ran["arp"]["answers"], ran["pools"]["answers"])
    assert sorted(host.sweeps[:2]) == sorted(host.sweeps[2:])


def test_an_unknown_nic_or_one_without_ipv4_fails_naming_it_before_anything_is_sent(host):
    assert host.run("probe", vxlan=VXLAN, pools={"dev": "eth9", "addresses": POOL})["msg"] == \
        'no interface eth9: Device "eth9" does not exist.'
    assert host.run("probe", arp={**ARP, "dev": "eth2"})["msg"] == "eth2 has no IPv4 address to send ARP requests from"
    assert host.sweeps == [] and host.pings == {}


def test_a_socket_error_fails_naming_the_probe_and_the_nic(host):
    host.arp_error = PermissionError(1, "Operation not permitted")
    result = host.run("probe", pools={"dev": "eth1", "addresses": POOL})
    assert result["failed"] is True
    assert result["msg"] == "pools probe on eth1 failed: [Errno 1] Operation not permitted"


# ---------------------------------------------------------------- absent

def test_absent_removes_the_device_the_listener_and_only_the_probe_openings_then_finds_nothing(host):
    host.run("present", vxlan=VXLAN, ports=PORTS)
    handles = [r["handle"] for r in host.nft.rules() if r.get("comment", "").startswith("k8snet-probe:")]
    result = host.run("absent", vxlan=VXLAN)
    assert result["removed"] == ["k8snprobe0", *(f"delete rule inet filter input handle {h}" for h in handles)]
    assert result["stopped"] is True and len(handles) == 3
    assert not host.device and host.nft.comments("k8snet-probe:") == []
    assert host.nft.comments("k8snet:") == ["k8snet: udp 8472 (flannel vxlan)"]      # node preparation's, kept
    assert host.run("absent")["removed"] == []


def test_firewalld_gets_a_runtime_port_that_absent_takes_back(host):
    host.commands.tools = {"ip", "bridge", "firewall-cmd"}                       # no nft on this host
    host.commands.outputs.update({("firewall-cmd", "--state"): (0, "running\n", ""),
                                  ("firewall-cmd", "--query-port", "8472/udp"): (1, "no\n", ""),
                                  ("firewall-cmd", "--add-port", "8472/udp"): (0, "success\n", ""),
                                  ("firewall-cmd", "--remove-port", "8472/udp"): (0, "success\n", "")})
    assert host.run("present", vxlan=VXLAN)["opened"] == ["firewalld runtime 8472/udp"]
    assert host.note.read_text() == "8472/udp\n"
    assert host.run("absent")["removed"] == ["k8snprobe0", "firewalld runtime 8472/udp"]
    assert not host.note.exists()


# ---------------------------------------------------------------- the contract

@pytest.mark.parametrize(("args", "named"), [
    ({"state": "up"}, "state"), ({"state": None}, "state"),
    ({"vxlan": {**VXLAN, "mtu": "big"}}, "mtu"), ({"vxlan": {**VXLAN, "targets": "node2"}}, "targets"),
    ({"vxlan": {**VXLAN, "vlan": 3}}, "vlan"), ({"arp": {"dev": "eth1"}}, "targets"),
    ({"pools": {"addresses": POOL}}, "dev"), ({"ports": {"listen": [7946]}}, "listen"),
    ({"lifetime": "long"}, "lifetime"), ({"busy": ["udp/7946"]}, "busy")])
def test_the_argument_spec_refuses_bad_input_naming_it_before_anything_runs(host, args, named):
    result = run_module(underlay_probe.main, {"state": "present", **args})
    assert result["failed"] is True and named in result["msg"]
    assert host.commands.calls == [] and host.events == [] and host.sweeps == []


def test_every_result_carries_what_return_documents(host):
    documented = {name: spec["returned"] for name, spec in yaml.safe_load(underlay_probe.RETURN).items()}
    for state, args in (("present", {"vxlan": VXLAN, "ports": PORTS}), ("probe", {"vxlan": VXLAN}),
                        ("absent", {})):
        assert {n for n, when in documented.items() if when == f"state={state}"} <= set(host.run(state, **args))
    (port,) = host.run("probe", ports={"targets": PORTS["targets"][:1]})["ports"]
    assert set(port) == {"peer", "address", "protocol", "port", "why", "ok"}
    assert set(host.run("probe", vxlan=VXLAN)["vxlan"][0]) >= {"peer", "kind", "address", "size", "large", "small",
                                                               "same_address"}
