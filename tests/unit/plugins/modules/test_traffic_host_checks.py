"""onprem.k8snet.traffic_host_checks through its argument_spec, with subprocess.run stubbed (no
namespace is made, nothing is pinged) and /proc/sys in tmp_path."""

from __future__ import annotations

import os
import subprocess

import pytest
import yaml
from ansible_collections.onprem.k8snet.plugins.module_utils import sysctl
from ansible_collections.onprem.k8snet.plugins.modules import traffic_host_checks

from tests.unit.planfixtures import run_module


class Host:
    def __init__(self, tmp_path, monkeypatch):
        self.proc = tmp_path / "proc" / "sys"
        self.set("net.ipv4.ip_forward", "1")
        self.set("net.ipv4.ip_local_reserved_ports", "30000-32767")
        self.set("net.ipv4.ip_local_port_range", "32768\t60999")      # no net.bridge.*: br_netfilter not loaded
        self.runs: list[list[str]] = []
        self.rc: dict[str, int] = {}                                    # step (argv[1:3] joined) -> rc

        def run(argv, **kwargs):
            self.runs.append(list(argv))
            step = " ".join(argv[1:3])
            rc = self.rc.get(step, 0)
            out = "1 packets transmitted, 1 received, 0% packet loss" if argv[2:3] == ["exec"] and not rc else ""
            return subprocess.CompletedProcess(argv, rc, out, "" if not rc else f"{step} failed")

        monkeypatch.setattr(subprocess, "run", run)
        monkeypatch.setattr(sysctl, "proc_path", lambda key: str(self.proc / key.replace(".", "/")))

    def set(self, key, value):
        path = self.proc / key.replace(".", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value + "\n")

    def run(self, check_mode=False, **args):
        return run_module(traffic_host_checks.main, args, check_mode=check_mode)


@pytest.fixture
def host(tmp_path, monkeypatch):
    return Host(tmp_path, monkeypatch)


def test_loopback_in_a_fresh_namespace_and_the_default_parameters(host):
    result = host.run()
    name = f"k8snet-verify-{os.getpid()}"
    assert result == {"failed": False, "changed": False, "loopback_rc": 0,
                      "loopback_output": "1 packets transmitted, 1 received, 0% packet loss",
                      "sysctls": {"net.ipv4.ip_forward": "1", "net.bridge.bridge-nf-call-iptables": None,
                                  "net.ipv4.ip_local_reserved_ports": "30000-32767"}}
    assert host.runs == [["ip", "netns", "add", name], ["ip", "-n", name, "link", "set", "lo", "up"],
                         ["ip", "netns", "exec", name, "ping", "-n", "-q", "-c", "1", "-W", "1", "127.0.0.1"],
                         ["ip", "netns", "del", name]]


def test_a_failed_setup_step_is_reported_and_the_namespace_still_removed(host):
    host.rc["netns add"] = 1
    result = host.run()
    assert result["loopback_rc"] == 1 and result["loopback_output"] == "netns add failed"
    assert [argv[1:3] for argv in host.runs] == [["netns", "add"], ["netns", "del"]]


def test_the_parameters_asked_for_are_read_as_sysctl_prints_them(host):
    result = host.run(sysctls=["net.ipv4.ip_local_port_range"])
    assert result["sysctls"] == {"net.ipv4.ip_local_port_range": "32768 60999"}


def test_check_mode_checks_the_same(host):
    assert host.run(check_mode=True) == host.run()


def test_the_argument_spec_refuses_unknown_options(host):
    result = host.run(sysctl=["net.ipv4.ip_forward"])
    assert result["failed"] is True and "sysctl" in result["msg"] and host.runs == []


def test_every_result_carries_what_return_documents_and_the_documented_default(host):
    assert set(yaml.safe_load(traffic_host_checks.RETURN)) <= set(host.run())
    doc = yaml.safe_load(traffic_host_checks.DOCUMENTATION)
    assert list(host.run()["sysctls"]) == doc["options"]["sysctls"]["default"]
