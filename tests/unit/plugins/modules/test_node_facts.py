"""The node_facts module end to end, with recorded command output instead of a host.

In the kubernetes.core style: exit_json/fail_json raise, module arguments go
through ansible.module_utils.testing.patch_module_args (so the argument_spec
itself validates them), run_command answers from the recordings in
fixtures/facts_raw_netns/ and files come from a fake file system.
"""

from __future__ import annotations

import gzip
import hashlib

import pytest
import yaml
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args
from ansible_collections.onprem.k8snet.plugins.modules import node_facts

from tests.unit.commands import Commands
from tests.unit.inputs import FIXTURES

NETNS = FIXTURES / "facts_raw_netns"
LAB_CONFIG = gzip.decompress((FIXTURES / "facts_raw_kernel_lab/config.gz").read_bytes()).decode()
LAB_SYS_MODULE = set((FIXTURES / "facts_raw_kernel_lab/sys_module.txt").read_text().split())
FACT_KEYS = {"hostname", "interfaces", "default_routes", "can_reach", "ip_local_port_range",
             "ip_local_reserved_ports", "kernel", "firewall", "packet_filter", "listening", "sysctl", "flannel",
             "checksums"}


class ExitJson(Exception):
    pass


class FailJson(Exception):
    pass


def exit_json(self, **kwargs):
    raise ExitJson(kwargs)


def fail_json(self, msg, **kwargs):
    raise FailJson({"msg": msg, **kwargs})


class Host(Commands):
    """The recorded node: which tools exist, what each command prints, which files exist."""

    def __init__(self):
        super().__init__(tools={"ip", "ss", "nft", "iptables"}, outputs={
            ("ip", "-j", "-d", "addr", "show"): (0, (NETNS / "ip_addr.json").read_text(), ""),
            ("ip", "-j", "route", "show", "default"): (0, (NETNS / "route4.json").read_text(), ""),
            ("ip", "-j", "-6", "route", "show", "default"): (0, (NETNS / "route6.json").read_text(), ""),
            ("ip", "-j", "route", "get", "192.168.56.12"):
                (0, (NETNS / "route_get_192.168.56.12.json").read_text(), ""),
            ("ip", "-j", "route", "get", "198.18.0.1"):
                (2, "", "RTNETLINK answers: Network is unreachable\n"),
            ("ss", "-H", "-l", "-n", "-p", "-t", "-u"): (0, (NETNS / "ss.txt").read_text(), ""),
            ("nft", "-j", "list", "chains"): (0, (NETNS / "nft_chains.json").read_text(), ""),
            ("iptables", "-S", "INPUT"): (0, "-P INPUT ACCEPT\n", ""),
            ("iptables", "--version"): (0, "iptables v1.8.9 (nf_tables)\n", ""),
            ("systemctl", "is-active", "firewalld"): (0, "active\n", ""),
        })
        self.files = {
            "/proc/sys/net/ipv4/ip_local_port_range": "32768\t60999\n",
            "/proc/sys/net/ipv4/ip_local_reserved_ports": "30000-32767\n",
            "/proc/config.gz": LAB_CONFIG,
        }
        self.dirs = {f"/sys/module/{name}" for name in LAB_SYS_MODULE}
        self.release = "6.18.44-fc-v669"

    def read_text(self, path):
        return self.files.get(path)

    def is_dir(self, path):
        return path in self.dirs

    def kernel_release(self):
        return self.release


@pytest.fixture
def host(monkeypatch):
    fake = Host().install(monkeypatch)
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
    for name in ("read_text", "is_dir", "kernel_release"):
        monkeypatch.setattr(node_facts, name, getattr(fake, name))
    return fake


def run_module(args: dict) -> dict:
    with patch_module_args(args), pytest.raises(ExitJson) as result:
        node_facts.main()
    return result.value.args[0]


def fail_module(args: dict) -> dict:
    with patch_module_args(args), pytest.raises(FailJson) as result:
        node_facts.main()
    return result.value.args[0]


def test_checksums_of_files_that_exist_and_null_for_those_that_do_not(host, tmp_path):
    kubeconfig = tmp_path / "admin.conf"
    kubeconfig.write_bytes(b"apiVersion: v1\nkind: Config\n")
    result = run_module({"checksums": [str(kubeconfig), str(tmp_path / "absent.conf")]})
    assert result["facts"]["checksums"] == {str(kubeconfig): hashlib.sha256(kubeconfig.read_bytes()).hexdigest(),
                                            str(tmp_path / "absent.conf"): None}
    assert run_module({})["facts"]["checksums"] == {}


def test_recorded_lab_node(host):
    result = run_module({"can_reach": "192.168.56.12",
                         "ports": [{"port": 443}, {"protocol": "udp", "port": 8472}]})
    facts = result["facts"]
    assert result["changed"] is False and result["notes"] == []
    assert set(facts) == FACT_KEYS
    names = [i["name"] for i in facts["interfaces"]]
    assert names[:3] == ["lo", "eth0", "eth1"] and "flannel.1" in names
    assert facts["default_routes"][0] == {"family": 4, "gateway": "10.0.2.2", "dev": "eth0"}
    assert facts["can_reach"] == {"target": "192.168.56.12", "dev": "eth1", "src": "192.168.56.11"}
    assert facts["ip_local_port_range"] == [32768, 60999]
    assert facts["ip_local_reserved_ports"] == "30000-32767"
    assert facts["kernel"]["features"] == {"br_netfilter": "builtin", "vxlan": "builtin",
                                           "overlay": "builtin", "wireguard": "absent"}
    assert facts["firewall"] == {"kind": "nftables", "detail": "table inet filter, chain input policy drop"}
    assert [(s["protocol"], s["port"], s["process"]) for s in facts["listening"]] == [
        ("udp", 8472, None), ("tcp", 443, "python3")]
    assert facts["flannel"] == {"running": True, "device": "flannel.1", "addresses": ["10.244.0.0/32"]}
    # what node preparation compares with the plan: the drop-in (absent here) and the runtime values
    assert facts["sysctl"]["path"] == "/etc/sysctl.d/90-k8snet.conf" and facts["sysctl"]["file"] is None
    assert facts["sysctl"]["runtime"]["net.ipv4.ip_local_reserved_ports"] == "30000-32767"
    # nftables showed a drop policy: no need to ask iptables; firewalld is not installed
    assert ("iptables", "-S", "INPUT") not in host.calls
    assert not any(call[0] == "systemctl" for call in host.calls)


def test_defaults_gather_no_sockets_and_no_route(host):
    facts = run_module({})["facts"]
    assert facts["can_reach"] is None and facts["listening"] == []
    assert not any(call[0] == "ss" or call[3:4] == ("get",) for call in host.calls)
    assert set(facts["kernel"]["features"]) == {"br_netfilter", "vxlan", "overlay", "wireguard"}


def test_unroutable_can_reach_is_reported_not_fatal(host):
    facts = run_module({"can_reach": "198.18.0.1"})["facts"]
    assert facts["can_reach"] == {"target": "198.18.0.1", "dev": None, "src": None,
                                  "error": "RTNETLINK answers: Network is unreachable"}


def test_missing_tools_degrade_with_notes(host):
    host.tools = {"ip"}
    result = run_module({"ports": [{"port": 80}]})
    assert result["facts"]["listening"] == []
    assert result["facts"]["firewall"]["kind"] == "none"
    assert any(note.startswith("ss not found") for note in result["notes"])


def test_packet_filter_tools_and_the_iptables_backend_are_reported(host):
    assert run_module({})["facts"]["packet_filter"] == {"tools": ["nft"], "iptables": "nft"}
    host.tools -= {"iptables"}                                   # a distribution that ships nftables only
    host.calls.clear()
    assert run_module({})["facts"]["packet_filter"] == {"tools": ["nft"], "iptables": None}
    assert ("iptables", "--version") not in host.calls


def test_failing_nft_is_a_note_and_iptables_decides(host):
    host.outputs["nft", "-j", "list", "chains"] = (1, "", "Operation not permitted (you must be root)\n")
    host.outputs["iptables", "-S", "INPUT"] = (0, "-P INPUT DROP\n-A INPUT -i lo -j ACCEPT\n", "")
    result = run_module({})
    assert result["facts"]["firewall"]["kind"] == "iptables"
    assert any("Operation not permitted" in note for note in result["notes"])


def test_active_firewalld_wins(host):
    host.tools.add("firewalld")
    host.tools.add("systemctl")
    facts = run_module({})["facts"]
    assert facts["firewall"]["kind"] == "firewalld"
    assert ("nft", "-j", "list", "chains") not in host.calls


def test_kernel_with_loadable_modules(host):
    release = "6.1.0-18-amd64"
    debian = FIXTURES / "facts_raw_kernel_debian"
    host.files = {f"/lib/modules/{release}/modules.builtin": (debian / "modules.builtin").read_text(),
                  f"/lib/modules/{release}/modules.dep": (debian / "modules.dep").read_text(),
                  f"/boot/config-{release}": (debian / "config").read_text()}
    host.dirs = {"/sys/module/vxlan"}
    host.release = release
    facts = run_module({"kernel_features": ["br_netfilter", "vxlan", "ip_vs", "sctp"]})["facts"]
    assert facts["kernel"] == {"release": release, "features": {"br_netfilter": "module", "vxlan": "loaded",
                                                                "ip_vs": "module", "sctp": "absent"},
                               "cgroup": "unknown"}                       # neither hierarchy in the fake files


@pytest.mark.parametrize(("files", "version"), [
    ({"/sys/fs/cgroup/cgroup.controllers": "cpuset cpu io memory pids\n"}, "v2"),
    ({"/proc/mounts": "cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\n"}, "v1"),
])
def test_the_cgroup_hierarchy_is_reported(host, files, version):
    host.files = files
    assert run_module({})["facts"]["kernel"]["cgroup"] == version


def test_without_ip_the_task_fails_clearly(host):
    host.tools = set()
    assert "install iproute2" in fail_module({})["msg"]


@pytest.mark.parametrize(("args", "words"), [
    ({"ports": [{"protocol": "sctp", "port": 80}]}, "protocol"),
    ({"ports": [{"protocol": "tcp"}]}, "port"),
    ({"ports": [{"port": "http"}]}, "port"),
    ({"kernel_features": "vxlan", "bogus": 1}, "bogus"),
])
def test_argument_spec_rejects_bad_input(host, args, words):
    assert words in fail_module(args)["msg"]
    assert host.calls == []


def test_check_mode_gathers_the_same(host):
    normal = run_module({"can_reach": "192.168.56.12"})
    checked = run_module({"can_reach": "192.168.56.12", "_ansible_check_mode": True})
    assert checked["facts"] == normal["facts"] and checked["changed"] is False


def test_documentation_matches_the_argument_spec():
    doc = yaml.safe_load(node_facts.DOCUMENTATION)
    options = doc["options"]
    assert set(options) == set(node_facts.ARGUMENT_SPEC)
    for name, spec in node_facts.ARGUMENT_SPEC.items():
        assert options[name]["type"] == spec["type"]
        assert options[name].get("default") == spec.get("default")
        for sub, sub_spec in (spec.get("options") or {}).items():
            assert options[name]["suboptions"][sub]["type"] == sub_spec["type"]
    returned = yaml.safe_load(node_facts.RETURN)
    assert set(returned["facts"]["contains"]) == FACT_KEYS
