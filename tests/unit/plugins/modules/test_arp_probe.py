"""onprem.k8snet.arp_probe through its argument_spec; `ip` answers from tests/unit/commands.py and
the raw-socket sweep (probe_host.arp_sweep, root only) is a stub that records what it was asked."""

from __future__ import annotations

import json

import pytest
import yaml
from ansible_collections.onprem.k8snet.plugins.modules import arp_probe

from tests.unit.commands import Commands
from tests.unit.planfixtures import run_module

ETH1 = [{"ifname": "eth1", "addr_info": [{"family": "inet", "local": "192.168.56.11", "prefixlen": 24},
                                        {"family": "inet", "local": "192.168.56.99", "prefixlen": 24}]}]
POOL = ["192.168.56.240", "192.168.56.241", "192.168.56.242"]


class Host:
    def __init__(self, monkeypatch):
        self.commands = Commands().install(monkeypatch)
        self.commands.outputs["ip", "-j", "-4", "addr", "show", "dev", "eth1"] = (0, json.dumps(ETH1), "")
        self.commands.outputs["ip", "-j", "-4", "addr", "show", "dev", "eth9"] = \
            (1, "", 'Device "eth9" does not exist.\n')
        self.commands.outputs["ip", "-j", "-4", "addr", "show", "dev", "eth2"] = \
            (0, json.dumps([{"ifname": "eth2", "addr_info": []}]), "")
        self.sweeps: list[tuple] = []
        self.answers = {"192.168.56.241": "52:54:00:12:34:56"}     # someone already holds .241
        self.error: OSError | None = None

        def arp_sweep(dev, source, targets, timeout, rounds):
            self.sweeps.append((dev, source, list(targets), timeout, rounds))
            if self.error:
                raise self.error
            return {t: mac for t, mac in self.answers.items() if t in targets}

        monkeypatch.setattr(arp_probe, "arp_sweep", arp_sweep)

    def run(self, check_mode=False, **args):
        return run_module(arp_probe.main, {"dev": "eth1", "targets": POOL, **args}, check_mode=check_mode)


@pytest.fixture
def host(monkeypatch):
    return Host(monkeypatch)


def test_answers_come_back_by_address_sent_from_the_first_ipv4_of_the_nic(host):
    result = host.run()
    assert result["failed"] is False and result["changed"] is False
    assert result["answers"] == {"192.168.56.241": "52:54:00:12:34:56"}
    assert isinstance(result["duration"], float) and result["duration"] >= 0
    assert host.sweeps == [("eth1", "192.168.56.11", POOL, 1.0, 2)]


def test_a_given_source_timeout_and_rounds_are_used_as_given(host):
    host.run(source="192.168.56.99", timeout="0.5", rounds=3)
    assert host.sweeps == [("eth1", "192.168.56.99", POOL, 0.5, 3)]
    assert host.commands.calls == []                                  # no need to ask ip for an address


def test_check_mode_sweeps_the_same(host):
    assert host.run(check_mode=True)["answers"] == host.run()["answers"]
    assert host.sweeps[0] == host.sweeps[1]


def test_no_targets_no_sweep(host):
    assert host.run(targets=[])["answers"] == {} and host.sweeps == []


def test_an_unknown_nic_or_one_without_ipv4_fails_naming_it(host):
    assert host.run(dev="eth9")["msg"] == 'no interface eth9: Device "eth9" does not exist.'
    assert host.run(dev="eth2")["msg"] == "eth2 has no IPv4 address to send ARP requests from"
    assert host.sweeps == []


def test_a_socket_error_fails_naming_the_nic(host):
    host.error = PermissionError(1, "Operation not permitted")
    result = host.run()
    assert result["failed"] is True and result["msg"] == "ARP probe on eth1 failed: [Errno 1] Operation not permitted"


@pytest.mark.parametrize(("args", "named"), [({"targets": POOL}, "dev"), ({"dev": "eth1"}, "targets"),
                                             ({"dev": "eth1", "targets": POOL, "rounds": "twice"}, "rounds"),
                                             ({"dev": "eth1", "targets": POOL, "timeout": "soon"}, "timeout")])
def test_the_argument_spec_refuses_bad_input_naming_it(host, args, named):
    result = run_module(arp_probe.main, args)
    assert result["failed"] is True and named in result["msg"]
    assert host.sweeps == [] and host.commands.calls == []


def test_every_result_carries_what_return_documents(host):
    assert set(yaml.safe_load(arp_probe.RETURN)) <= set(host.run())
