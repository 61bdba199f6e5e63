"""Pure logic of node preparation: the sysctl drop-in (module_utils/sysctl.py)."""

from __future__ import annotations

from ansible_collections.onprem.k8snet.plugins.module_utils import sysctl


def test_sysctl_file_round_trip_keeps_before_values():
    text = sysctl.render({"net.ipv4.ip_forward": 1, "net.ipv4.ip_local_reserved_ports": "30000-32767"},
                         {"net.ipv4.ip_forward": "0"})
    values, before = sysctl.parse(text)
    assert values == {"net.ipv4.ip_forward": "1", "net.ipv4.ip_local_reserved_ports": "30000-32767"}
    assert before == {"net.ipv4.ip_forward": "0"}
    assert text.splitlines()[0].startswith("# Managed by k8snet")


def test_sysctl_runtime_changes_compare_whitespace_insensitively():
    wanted = {"net.ipv4.ip_local_port_range": "32768 60999", "net.ipv4.ip_forward": "1"}
    runtime = {"net.ipv4.ip_local_port_range": "32768\t60999", "net.ipv4.ip_forward": "0"}
    assert sysctl.runtime_changes(wanted, runtime) == {"net.ipv4.ip_forward": ("0", "1")}


WANTED = {"net.ipv4.ip_forward": 1, "net.ipv4.ip_local_reserved_ports": "30000-32767"}
PATH = sysctl.DEFAULT_PATH


def gathered(file, forward="1", reserved="30000-32767", path=PATH):
    return {"path": path, "file": file,
            "runtime": {"net.ipv4.ip_forward": forward, "net.ipv4.ip_local_reserved_ports": reserved}}


def test_sysctl_first_write_records_what_it_changes_and_is_pending_until_done():
    text, changes = sysctl.present(None, {"net.ipv4.ip_forward": "0", "net.ipv4.ip_local_reserved_ports": ""}, WANTED)
    assert "# before: net.ipv4.ip_forward=0" in text and "net.ipv4.ip_forward = 1" in text
    assert changes == {"net.ipv4.ip_forward": ("0", "1"), "net.ipv4.ip_local_reserved_ports": ("", "30000-32767")}
    assert sysctl.pending(gathered(None, forward="0", reserved=""), WANTED, PATH)
    assert not sysctl.pending(gathered(text), WANTED, PATH)                      # converged: nothing to run


def test_sysctl_pending_when_the_runtime_drifted_or_anything_is_unknown():
    text, _ = sysctl.present(None, {"net.ipv4.ip_forward": "0", "net.ipv4.ip_local_reserved_ports": ""}, WANTED)
    assert sysctl.pending(gathered(text, forward="0"), WANTED, PATH)             # someone turned it off
    assert sysctl.pending(gathered(text, reserved="30000-32767,40000"), WANTED, PATH)
    assert sysctl.pending(gathered(text + "net.core.somaxconn = 1\n"), WANTED, PATH)   # file edited
    assert sysctl.pending(gathered(text, path="/etc/sysctl.d/other.conf"), WANTED, PATH)
    assert sysctl.pending(None, WANTED, PATH)
    assert sysctl.pending(gathered(text), {**WANTED, "net.ipv6.conf.all.forwarding": 1}, PATH)  # not read
