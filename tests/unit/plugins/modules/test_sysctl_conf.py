"""onprem.k8snet.sysctl_conf through its argument_spec, with /proc/sys and the drop-in in tmp_path.

proc_path (in module_utils/sysctl.py and in the module) points into a fake /proc/sys under
tmp_path, and every open() of the module is refused outside tmp_path: no test reads or sets
this machine's kernel parameters.
"""

from __future__ import annotations

import pytest
import yaml
from ansible_collections.onprem.k8snet.plugins.module_utils import sysctl
from ansible_collections.onprem.k8snet.plugins.modules import sysctl_conf

from tests.unit.planfixtures import run_module

WANTED = {"net.ipv4.ip_forward": 1, "net.ipv4.ip_local_reserved_ports": "30000-32767"}


class Host:
    """A fake /proc/sys: ip_forward off, no reserved ports, no br_netfilter (net.bridge.* missing)."""

    def __init__(self, tmp_path, monkeypatch):
        self.proc = tmp_path / "proc" / "sys"
        self.dropin = tmp_path / "sysctl.d" / "90-k8snet.conf"
        self.dropin.parent.mkdir()
        self.set("net.ipv4.ip_forward", "0")
        self.set("net.ipv4.ip_local_reserved_ports", "")
        self.set("net.ipv4.ip_local_port_range", "32768\t60999")

        def proc_path(key):
            return str(self.proc / key.replace(".", "/"))

        self.refuse: set[str] = set()                       # parameters whose writes the kernel refuses

        def only_tmp(path, mode="r", *args, **kwargs):
            assert str(path).startswith(str(tmp_path)), f"the module opened {path}"
            if "w" in mode and any(path == proc_path(key) for key in self.refuse):
                raise OSError(22, "Invalid argument")
            return open(path, mode, *args, **kwargs)

        monkeypatch.setattr(sysctl, "proc_path", proc_path)
        monkeypatch.setattr(sysctl_conf, "proc_path", proc_path)
        monkeypatch.setattr(sysctl_conf, "open", only_tmp, raising=False)
        monkeypatch.setattr(sysctl, "open", only_tmp, raising=False)

    def set(self, key, value):
        path = self.proc / key.replace(".", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value + "\n")

    def get(self, key):
        return (self.proc / key.replace(".", "/")).read_text().rstrip("\n")

    def run(self, values=None, check_mode=False, diff=False, **args):
        args = {"path": str(self.dropin), "values": WANTED if values is None else values, **args}
        return run_module(sysctl_conf.main, args, check_mode=check_mode, diff=diff)


@pytest.fixture
def host(tmp_path, monkeypatch):
    return Host(tmp_path, monkeypatch)


def test_present_writes_the_dropin_sets_the_runtime_and_a_second_run_changes_nothing(host):
    first = host.run()
    assert first == {"failed": False, "changed": True, "path": str(host.dropin), "runtime_changes": {
        "net.ipv4.ip_forward": ["0", "1"], "net.ipv4.ip_local_reserved_ports": ["", "30000-32767"]}}
    assert host.get("net.ipv4.ip_forward") == "1"
    assert host.get("net.ipv4.ip_local_reserved_ports") == "30000-32767"
    text = host.dropin.read_text()
    assert text.splitlines() == [sysctl.HEADER, "# before: net.ipv4.ip_forward=0",
                                 "# before: net.ipv4.ip_local_reserved_ports=",
                                 "net.ipv4.ip_forward = 1", "net.ipv4.ip_local_reserved_ports = 30000-32767"]
    assert oct(host.dropin.stat().st_mode & 0o777) == "0o644"

    second = host.run()
    assert second["changed"] is False and second["runtime_changes"] == {}
    assert host.dropin.read_text() == text


def test_check_mode_reports_file_and_runtime_changes_and_writes_neither(host):
    checked = host.run(check_mode=True, diff=True)
    assert checked["changed"] is True
    assert checked["runtime_changes"] == {"net.ipv4.ip_forward": ["0", "1"],
                                          "net.ipv4.ip_local_reserved_ports": ["", "30000-32767"]}
    assert not host.dropin.exists() and host.get("net.ipv4.ip_forward") == "0"
    dropin, runtime = checked["diff"]
    assert dropin["before"] == "" and "net.ipv4.ip_forward = 1" in dropin["after"]
    assert runtime["after"] == "net.ipv4.ip_forward = 0 -> 1\nnet.ipv4.ip_local_reserved_ports =  -> 30000-32767\n"


def test_a_runtime_value_someone_changed_back_is_set_again_and_the_first_before_is_kept(host):
    host.run()
    host.set("net.ipv4.ip_forward", "0")
    again = host.run()
    assert again["changed"] is True and again["runtime_changes"] == {"net.ipv4.ip_forward": ["0", "1"]}
    assert host.get("net.ipv4.ip_forward") == "1"
    assert host.dropin.read_text().count("# before: net.ipv4.ip_forward=0") == 1


def test_values_compare_as_sysctl_prints_them(host):
    result = host.run({"net.ipv4.ip_local_port_range": "32768 60999"})
    assert result["runtime_changes"] == {}                                # tab in /proc, space in the value
    assert result["changed"] is True                                      # the drop-in is new


def test_absent_removes_the_dropin_and_puts_the_recorded_values_back(host):
    host.run()
    gone = host.run(state="absent")
    assert gone["changed"] is True
    assert gone["runtime_changes"] == {"net.ipv4.ip_forward": ["1", "0"],
                                       "net.ipv4.ip_local_reserved_ports": ["30000-32767", ""]}
    assert not host.dropin.exists()
    assert host.get("net.ipv4.ip_forward") == "0" and host.get("net.ipv4.ip_local_reserved_ports") == ""
    assert host.run(state="absent")["changed"] is False


def test_a_parameter_the_kernel_does_not_have_fails_naming_it_and_nothing_is_written(host):
    result = host.run({**WANTED, "net.bridge.bridge-nf-call-iptables": 1})
    assert result["failed"] is True
    assert result["msg"] == (f"kernel parameter net.bridge.bridge-nf-call-iptables does not exist on this host "
                             f"({host.proc}/net/bridge/bridge-nf-call-iptables is missing)")
    assert not host.dropin.exists() and host.get("net.ipv4.ip_forward") == "0"


def test_a_value_the_kernel_refuses_fails_naming_the_parameter(host):
    host.refuse.add("net.ipv4.ip_forward")
    result = host.run()
    assert result["failed"] is True
    assert result["msg"] == "cannot set net.ipv4.ip_forward = 1: [Errno 22] Invalid argument"


@pytest.mark.parametrize(("args", "named"), [
    ({"state": "gone"}, "state"),
    ({"values": ["net.ipv4.ip_forward"]}, "values"),
    ({"bogus": 1}, "bogus"),
])
def test_the_argument_spec_refuses_bad_input_naming_it(host, args, named):
    result = host.run(**args)
    assert result["failed"] is True and named in result["msg"]
    assert not host.dropin.exists() and host.get("net.ipv4.ip_forward") == "0"


def test_every_result_carries_what_return_documents(host):
    documented = set(yaml.safe_load(sysctl_conf.RETURN))
    assert documented <= set(host.run(check_mode=True)) and documented <= set(host.run())
