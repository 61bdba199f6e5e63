"""onprem.k8snet.nft_openings through its argument_spec, against a fake nft and files in tmp_path.

The include file (/etc/nftables.d/k8snet.nft in the module) is moved into tmp_path and every
open() of the module is refused outside it, so no test touches this machine's nftables.
"""

from __future__ import annotations

import json

import pytest
import yaml
from ansible_collections.onprem.k8snet.plugins.module_utils import nftables
from ansible_collections.onprem.k8snet.plugins.modules import nft_openings

from tests.unit.commands import Commands, Nft
from tests.unit.inputs import FIXTURES
from tests.unit.planfixtures import run_module

RULESET = json.loads((FIXTURES / "nft_drop_ruleset.json").read_text())   # drop on input and forward, 8472 open
OPENINGS = [{"protocol": "udp", "port": 8472, "why": "flannel vxlan"},
            {"protocol": "tcp", "port": "30000-32767", "why": "NodePort Services"}]
CONFIG = "#!/usr/sbin/nft -f\nflush ruleset\ntable inet filter {\n}\n"
NEW = ["k8snet: tcp 30000-32767 (NodePort Services)", "k8snet: forward saddr 10.244.0.0/16 (pod network)",
       "k8snet: forward daddr 10.244.0.0/16 (pod network)"]


class Host:
    def __init__(self, tmp_path, monkeypatch):
        self.commands = Commands().install(monkeypatch)
        self.nft = Nft(RULESET).attach(self.commands)
        self.include = tmp_path / "nftables.d" / "k8snet.nft"
        self.config = tmp_path / "nftables.conf"
        self.config.write_text(CONFIG)
        monkeypatch.setattr(nftables, "INCLUDE_DIR", str(self.include.parent))
        monkeypatch.setattr(nftables, "INCLUDE_FILE", str(self.include))
        monkeypatch.setattr(nftables, "INCLUDE_LINE", nftables.INCLUDE_LINE.replace("/etc/nftables.d/k8snet.nft",
                                                                                    str(self.include)))

        def only_tmp(path, *args, **kwargs):
            assert str(path).startswith(str(tmp_path)), f"the module opened {path}"
            return open(path, *args, **kwargs)
        monkeypatch.setattr(nft_openings, "open", only_tmp, raising=False)

    def run(self, check_mode=False, diff=False, **args):
        args = {"openings": OPENINGS, "forward_cidrs": ["10.244.0.0/16"], "config": str(self.config), **args}
        return run_module(nft_openings.main, args, check_mode=check_mode, diff=diff)

    def batches(self):
        return self.commands.stdin.get(("nft", "-f", "-"), [])


@pytest.fixture
def host(tmp_path, monkeypatch):
    return Host(tmp_path, monkeypatch)


def test_missing_rules_go_in_at_runtime_and_persist_and_a_second_run_changes_nothing(host):
    first = host.run()
    assert first["failed"] is False and first["changed"] is True
    assert first["chains"] == [{"family": "inet", "table": "filter", "name": "input", "hook": "input"},
                               {"family": "inet", "table": "filter", "name": "forward", "hook": "forward"}]
    assert first["added"] == NEW and first["removed"] == []              # udp 8472 was there already
    (batch,) = host.batches()
    assert batch.splitlines() == [
        'insert rule inet filter input tcp dport 30000-32767 accept comment "k8snet: tcp 30000-32767 (NodePort '
        'Services)"',
        'insert rule inet filter forward ip saddr 10.244.0.0/16 accept comment "k8snet: forward saddr '
        '10.244.0.0/16 (pod network)"',
        'insert rule inet filter forward ip daddr 10.244.0.0/16 accept comment "k8snet: forward daddr '
        '10.244.0.0/16 (pod network)"']
    # the include file holds every wanted rule (the one already live too), the main config loads it last
    kept = host.include.read_text()
    assert "k8snet: udp 8472 (flannel vxlan)" in kept and all(comment in kept for comment in NEW)
    assert host.config.read_text() == CONFIG + nftables.INCLUDE_LINE + "\n"
    assert oct(host.include.stat().st_mode & 0o777) == "0o644"

    files = (host.include.read_text(), host.config.read_text())
    second = host.run()
    assert second["changed"] is False and second["added"] == [] and second["removed"] == []
    assert len(host.batches()) == 1                                       # no second nft -f
    assert (host.include.read_text(), host.config.read_text()) == files


def test_check_mode_reports_the_change_and_changes_nothing(host):
    checked = host.run(check_mode=True, diff=True)
    assert checked["changed"] is True and checked["added"] == NEW
    assert host.batches() == [] and not host.include.exists() and host.config.read_text() == CONFIG
    include, config, runtime = checked["diff"]
    assert include["before"] == "" and "k8snet: udp 8472 (flannel vxlan)" in include["after"]
    assert config["after"].endswith(nftables.INCLUDE_LINE + "\n")
    assert runtime["after"].count("+ insert rule") == 3
    # what check mode announced is what the real run then does
    assert host.run()["added"] == checked["added"]


def test_a_stale_k8snet_rule_is_deleted_by_handle_and_other_rules_are_left_alone(host):
    result = host.run(openings=OPENINGS[1:], forward_cidrs=[])
    assert result["removed"] == ["k8snet: udp 8472 (flannel vxlan)"]
    assert result["added"] == ["k8snet: tcp 30000-32767 (NodePort Services)"]
    assert host.batches()[0].splitlines()[0] == "delete rule inet filter input handle 7"
    assert [r["handle"] for r in host.nft.rules() if "comment" not in r] == [4, 5, 6]   # ssh, lo, established


def test_absent_removes_the_rules_the_include_file_and_the_include_line(host):
    host.run()
    gone = host.run(state="absent")
    assert gone["changed"] is True and gone["added"] == []
    assert sorted(gone["removed"]) == sorted(["k8snet: udp 8472 (flannel vxlan)", *NEW])
    assert host.nft.comments("k8snet:") == []
    assert not host.include.exists() and host.config.read_text() == CONFIG
    assert host.run(state="absent")["changed"] is False


def test_without_a_drop_policy_chain_nothing_is_opened_or_written(host, tmp_path):
    for item in host.nft.ruleset["nftables"]:
        if "chain" in item:
            item["chain"]["policy"] = "accept"
    host.nft.ruleset["nftables"] = [i for i in host.nft.ruleset["nftables"] if "rule" not in i or
                                    not i["rule"].get("comment")]
    result = host.run(config=str(tmp_path / "absent.conf"))
    assert result == {"failed": False, "changed": False, "chains": [], "added": [], "removed": []}
    assert host.batches() == [] and not host.include.exists()


def test_drop_policy_without_the_boot_config_fails_naming_config_and_changes_nothing(host, tmp_path):
    missing = tmp_path / "etc-nftables.conf"
    result = host.run(config=str(missing))
    assert result["failed"] is True
    assert result["msg"].startswith(f"2 nftables chain(s) drop by default but {missing} does not exist")
    assert "Point 'config' at the file your ruleset is loaded from" in result["msg"]
    assert 'insert rule inet filter input tcp dport 30000-32767 accept' in result["msg"]
    assert host.batches() == [] and not host.include.exists()


def test_nft_refusing_the_batch_fails_before_any_file_is_written(host):
    host.nft.refuse = "Error: Could not process rule: No such file or directory"
    result = host.run()
    assert result["failed"] is True
    assert result["msg"] == ("nft refused the openings (nothing was changed): Error: Could not process rule: "
                             "No such file or directory")
    assert "insert rule inet filter input tcp dport 30000-32767" in result["batch"]
    assert not host.include.exists() and host.config.read_text() == CONFIG


def test_nft_that_cannot_list_the_ruleset_or_is_missing_fails_clearly(host):
    host.commands.outputs["nft", "-j", "list", "ruleset"] = (1, "", "Operation not permitted (you must be root)\n")
    assert host.run()["msg"] == "nft -j list ruleset failed: Operation not permitted (you must be root)"
    host.commands.tools.discard("nft")
    assert 'Failed to find required executable "nft"' in host.run()["msg"]


@pytest.mark.parametrize(("args", "named"), [
    ({"state": "gone"}, "state"),
    ({"forward_cidrs": {"a": 1}}, "forward_cidrs"),
    ({"openings": ["udp/8472"]}, "openings"),
    ({"openings": [{"port": 8472}]}, "protocol"),                        # once a KeyError, now named
    ({"openings": [{"protocol": "udp"}]}, "port"),
    ({"openings": [{"protocol": "icmp", "port": 1}]}, "protocol"),
    ({"bogus": 1}, "bogus"),
])
def test_the_argument_spec_refuses_bad_input_naming_it_before_any_command(host, args, named):
    result = host.run(**args)
    assert result["failed"] is True and named in result["msg"]
    assert host.commands.calls == []


def test_every_result_carries_what_return_documents(host):
    documented = set(yaml.safe_load(nft_openings.RETURN))
    assert documented <= set(host.run(check_mode=True)) and documented <= set(host.run())
