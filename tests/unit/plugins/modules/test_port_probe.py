"""onprem.k8snet.port_probe through its argument_spec, with the ports a real plan gives.

Binding, the detached listener and its pid file are stubbed (nothing forks, nothing binds the
plan's ports); nft answers from tests/unit/commands.py. Reaching a port is real where the target
is on 127.0.0.1 (a listener of the test's own) and stubbed for the plan's node addresses.
"""

from __future__ import annotations

import copy
import json
import socket
import threading

import pytest
import yaml
from ansible_collections.onprem.k8snet.plugins.module_utils import probe_host
from ansible_collections.onprem.k8snet.plugins.module_utils.plan import build_plan
from ansible_collections.onprem.k8snet.plugins.modules import port_probe

from tests.unit.commands import Commands, Nft
from tests.unit.inputs import FIXTURES, lab_inputs
from tests.unit.planfixtures import run_module

RULESET = json.loads((FIXTURES / "nft_drop_ruleset.json").read_text())
PLAN, _ = build_plan(lab_inputs())
NODE1 = PLAN["probes"]["ports"]["node1"]               # MetalLB memberlist 7946 tcp+udp to node2 and node3
OPENED = [f'insert rule inet filter input {proto} dport 7946 accept comment "k8snet-probe: {proto} 7946 '
          f'(MetalLB memberlist)"' for proto in ("tcp", "udp")]


class Host:
    def __init__(self, tmp_path, monkeypatch):
        self.commands = Commands().install(monkeypatch)
        self.nft = Nft(RULESET).attach(self.commands)
        self.events: list = []
        self.busy: list[str] = []
        self.reached: list[dict] = []
        self.down: set[str] = set()                            # peers whose ports do not answer
        real_check_port = probe_host.check_port

        def bind_listeners(ports):
            self.events.append(("bind", [(p["protocol"], p["port"]) for p in ports]))
            return [f"socket {p['protocol']}/{p['port']}" for p in ports
                    if f"{p['protocol']}/{p['port']}" not in self.busy], list(self.busy)

        def daemonize(sockets, lifetime):
            self.events.append(("serve", sockets, lifetime))
            return 4242

        def stop_listeners():
            self.events.append(("stop",))
            return True

        def check_port(target):
            if target["address"].startswith("127."):
                return real_check_port(target, timeout=1.0)
            self.reached.append(target)
            return {**target, "ok": target["peer"] not in self.down}

        for name, fake in (("bind_listeners", bind_listeners), ("daemonize", daemonize),
                           ("stop_listeners", stop_listeners), ("check_port", check_port)):
            monkeypatch.setattr(port_probe, name, fake)
        monkeypatch.setattr(probe_host, "FIREWALLD_NOTE", str(tmp_path / "k8snet-probe-firewalld"))
        monkeypatch.setattr(probe_host, "LISTENER_PIDFILE", str(tmp_path / "k8snet-port-probe.pid"))

    def run(self, state, check_mode=False, **args):
        return run_module(port_probe.main, {"state": state, **args}, check_mode=check_mode)


@pytest.fixture
def host(tmp_path, monkeypatch):
    return Host(tmp_path, monkeypatch)


def test_listening_stops_an_old_listener_binds_opens_and_serves_for_the_lifetime(host):
    result = host.run("listening", ports=NODE1["listen"], lifetime=30)
    assert result == {"failed": False, "changed": False, "busy": [], "pid": 4242, "opened": OPENED}
    assert host.events == [("stop",), ("bind", [("tcp", 7946), ("udp", 7946)]),
                           ("serve", ["socket tcp/7946", "socket udp/7946"], 30)]
    assert host.nft.comments("k8snet-probe:") == ["k8snet-probe: tcp 7946 (MetalLB memberlist)",
                                                  "k8snet-probe: udp 7946 (MetalLB memberlist)"]


def test_listening_again_opens_nothing_twice_and_ports_in_use_are_reported_busy(host):
    host.run("listening", ports=NODE1["listen"])
    host.busy = ["tcp/7946", "udp/7946"]
    again = host.run("listening", ports=NODE1["listen"])
    assert again["opened"] == [] and again["busy"] == ["tcp/7946", "udp/7946"]
    assert again["pid"] is None and host.events[-1][0] == "bind"            # nothing bound: no listener


def test_check_mode_listens_the_same(host):
    assert host.run("listening", check_mode=True, ports=NODE1["listen"])["pid"] == 4242
    assert host.events[-1] == ("serve", ["socket tcp/7946", "socket udp/7946"], 120)


def test_probe_reaches_every_target_and_skips_udp_to_a_port_the_peer_could_not_bind(host):
    host.down = {"node3"}
    result = host.run("probe", targets=NODE1["targets"], busy={"node2": ["udp/7946"], "node3": []})
    skipped, *reached = result["results"]
    assert skipped == {**NODE1["targets"][1], "ok": False, "skipped": "port in use on the peer; UDP not provable"}
    assert [(r["peer"], r["protocol"], r["ok"]) for r in reached] == [
        ("node2", "tcp", True), ("node3", "tcp", False), ("node3", "udp", False)]
    assert [(t["peer"], t["protocol"]) for t in host.reached] == [("node2", "tcp"), ("node3", "tcp"),
                                                                 ("node3", "udp")]
    assert host.commands.calls == [] and result["changed"] is False


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
        result = host.run("probe", targets=targets)
        thread.join(timeout=5)
    opened, refused, echoed = result["results"]
    assert opened["ok"] is True and echoed["ok"] is True
    assert refused["ok"] is False and refused["error"] == "Connection refused"


def test_absent_stops_the_listener_and_removes_only_the_probe_openings(host):
    host.run("listening", ports=NODE1["listen"])
    result = host.run("absent")
    assert result["stopped"] is True and len(result["removed"]) == 2
    assert all(line.startswith("delete rule inet filter input handle ") for line in result["removed"])
    assert host.nft.comments("k8snet-probe:") == []
    assert host.nft.comments("k8snet:") == ["k8snet: udp 8472 (flannel vxlan)"]
    assert host.run("absent")["removed"] == []


@pytest.mark.parametrize(("args", "named"), [({"state": "open"}, "state"), ({"lifetime": "long"}, "lifetime"),
                                             ({"busy": ["udp/7946"]}, "busy"), ({"ports": [7946]}, "ports")])
def test_the_argument_spec_refuses_bad_input_naming_it_before_anything_runs(host, args, named):
    result = run_module(port_probe.main, {"state": "listening", **args})
    assert result["failed"] is True and named in result["msg"]
    assert host.events == [] and host.commands.calls == []


def test_the_results_return_documents(host):
    assert set(yaml.safe_load(port_probe.RETURN)) == {"busy", "results"}
    assert "busy" in host.run("listening", ports=copy.deepcopy(NODE1["listen"]))
    (result,) = host.run("probe", targets=NODE1["targets"][:1])["results"]
    assert set(result) == {"peer", "address", "protocol", "port", "why", "ok"}
