"""onprem.k8snet.vxlan_probe through its argument_spec, with the arguments a real plan gives.

ip, bridge, nft and firewall-cmd answer from tests/unit/commands.py; the pings go to a stub of
run_parallel; subprocess.Popen fails the test if anything else tries to run a command.
"""

from __future__ import annotations

import copy
import json
import subprocess

import pytest
import yaml
from ansible_collections.onprem.k8snet.plugins.module_utils import probe_host
from ansible_collections.onprem.k8snet.plugins.module_utils.plan import build_plan
from ansible_collections.onprem.k8snet.plugins.modules import vxlan_probe

from tests.unit.commands import Commands, Nft
from tests.unit.inputs import FIXTURES, lab_inputs
from tests.unit.planfixtures import run_module

RULESET = json.loads((FIXTURES / "nft_drop_ruleset.json").read_text())


def plan_probes(flannel_on_node3: bool = False) -> dict:
    inputs = lab_inputs()
    inputs["hosts"]["node3"]["facts"]["flannel"]["running"] = flannel_on_node3
    plan, problems = build_plan(inputs)
    assert plan is not None, [str(e) for e in problems.errors]
    return plan["probes"]["vxlan"]


NODE1 = plan_probes()["node1"]               # create_device, device k8snprobe0, vni 2, port 8472, eth1, ...
OPENED = 'insert rule inet filter input udp dport 8472 accept comment "k8snet-probe: udp 8472 (vxlan probe)"'


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
        self.pings: dict = {}
        self.answers: dict = {}                             # (target index, "large"|"small") -> rc; default 0

        def run_parallel(commands):
            self.pings = dict(commands)
            return {key: (self.answers.get(key, 0), "") for key in commands}

        def no_processes(*args, **kwargs):
            raise AssertionError(f"the test tried to run {args}")

        monkeypatch.setattr(vxlan_probe, "run_parallel", run_parallel)
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
        return run_module(vxlan_probe.main, {**copy.deepcopy(NODE1), "state": state, **args}, check_mode=check_mode)


@pytest.fixture
def host(tmp_path, monkeypatch):
    return Host(tmp_path, monkeypatch)


def test_present_builds_the_device_the_plan_describes_and_opens_its_port_for_the_run(host):
    result = host.run("present")
    assert result == {"failed": False, "changed": False, "opened": [OPENED]}
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


def test_present_again_replaces_a_leftover_device_and_opens_the_port_once(host):
    host.run("present")
    again = host.run("present")
    assert again["opened"] == []
    assert host.commands.calls.count(("ip", "link", "del", "k8snprobe0")) == 1
    assert host.nft.comments("k8snet-probe:") == ["k8snet-probe: udp 8472 (vxlan probe)"]


def test_check_mode_runs_the_same_commands(host, tmp_path, monkeypatch):
    host.run("present", check_mode=True)
    other = Host(tmp_path, monkeypatch)
    other.run("present")
    assert host.commands.calls == other.commands.calls and host.device


def test_where_flannel_runs_no_device_is_made_and_nothing_opened(host):
    result = host.run("present", create_device=False)
    assert result["opened"] == [] and host.commands.calls == [("ip", "link", "show", "dev", "k8snprobe0")]


@pytest.mark.parametrize("missing", ["vni", "port", "local", "dev", "address", "mtu"])
def test_a_device_without_its_settings_fails_naming_the_missing_one(host, missing):
    result = host.run("present", **{missing: None})
    assert result["failed"] is True and result["msg"] == f"{missing} is required to create the probe device"
    assert not host.device


def test_a_refused_ip_command_fails_with_what_ip_said(host):
    host.commands.outputs["ip", "addr", "add", "198.18.0.1/15", "dev", "k8snprobe0"] = \
        (2, "", "Error: ipv4: Address already assigned.\n")
    result = host.run("present")
    assert result["failed"] is True and result["msg"] == "Error: ipv4: Address already assigned."
    assert result["rc"] == 2


def test_probe_pings_each_target_at_its_size_with_dont_fragment_and_small(host):
    targets = [*plan_probes(flannel_on_node3=True)["node1"]["targets"],
               {"peer": "node9", "kind": "device", "address": "198.18.0.10", "size": 1450, "underlay": "192.168.56.11"}]
    assert [(t["kind"], t["address"], t["size"]) for t in targets[:2]] == [
        ("device", "198.18.0.2", 1450), ("underlay", "192.168.56.13", 1500)]
    host.answers = {(0, "large"): 1}                    # node2: small pings pass, full-size ones are lost
    result = host.run("probe", targets=targets)
    assert host.pings == {
        (0, "large"): ["ping", "-n", "-q", "-c", "3", "-i", "0.2", "-w", "3", "-I", "k8snprobe0", "-M", "do",
                       "-s", "1422", "198.18.0.2"],
        (0, "small"): ["ping", "-n", "-q", "-c", "3", "-i", "0.2", "-w", "3", "-I", "k8snprobe0", "198.18.0.2"],
        (1, "large"): ["ping", "-n", "-q", "-c", "3", "-i", "0.2", "-w", "3", "-I", "eth1", "-M", "do",
                       "-s", "1472", "192.168.56.13"],
        (1, "small"): ["ping", "-n", "-q", "-c", "3", "-i", "0.2", "-w", "3", "-I", "eth1", "192.168.56.13"]}
    assert [(r["peer"], r["large"], r["small"], r["same_address"]) for r in result["results"]] == [
        ("node2", False, True, False), ("node3", True, True, False), ("node9", False, False, True)]
    assert result["changed"] is False and host.commands.calls == []


def test_absent_removes_the_device_and_the_probe_openings_and_then_finds_nothing(host):
    host.run("present")
    (handle,) = [r["handle"] for r in host.nft.rules() if r.get("comment", "").startswith("k8snet-probe:")]
    removed = host.run("absent")["removed"]
    assert removed == ["k8snprobe0", f"delete rule inet filter input handle {handle}"]
    assert not host.device and host.nft.comments("k8snet-probe:") == []
    assert host.nft.comments("k8snet:") == ["k8snet: udp 8472 (flannel vxlan)"]      # node preparation's, kept
    assert host.run("absent")["removed"] == []


def test_firewalld_gets_a_runtime_port_that_absent_takes_back(host):
    host.commands.tools = {"ip", "bridge", "firewall-cmd"}                       # no nft on this host
    host.commands.outputs.update({("firewall-cmd", "--state"): (0, "running\n", ""),
                                  ("firewall-cmd", "--query-port", "8472/udp"): (1, "no\n", ""),
                                  ("firewall-cmd", "--add-port", "8472/udp"): (0, "success\n", ""),
                                  ("firewall-cmd", "--remove-port", "8472/udp"): (0, "success\n", "")})
    assert host.run("present")["opened"] == ["firewalld runtime 8472/udp"]
    assert host.note.read_text() == "8472/udp\n"
    assert host.run("absent")["removed"] == ["k8snprobe0", "firewalld runtime 8472/udp"]
    assert not host.note.exists()


@pytest.mark.parametrize(("args", "named"), [({"state": "up"}, "state"), ({"state": None}, "state"),
                                             ({"mtu": "big"}, "mtu"), ({"targets": "node2"}, "targets")])
def test_the_argument_spec_refuses_bad_input_naming_it_before_any_command(host, args, named):
    result = host.run(**{"state": "present", **args})
    assert result["failed"] is True and named in result["msg"]
    assert host.commands.calls == []


def test_the_results_return_documents(host):
    documented = yaml.safe_load(vxlan_probe.RETURN)
    assert set(documented) == {"results", "removed"}
    assert set(host.run("probe")["results"][0]) >= {"peer", "kind", "address", "size", "large", "small",
                                                    "same_address"}
    assert "removed" in host.run("absent")
