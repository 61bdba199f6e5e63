"""Pure logic of node preparation: the nftables openings (module_utils/nftables.py)."""

from __future__ import annotations

import json

from ansible_collections.onprem.k8snet.plugins.module_utils import nftables

from tests.unit.inputs import FIXTURES

OPENINGS = [{"protocol": "udp", "port": "8472", "why": "flannel vxlan"},
            {"protocol": "tcp", "port": "30000-32767", "why": "NodePort Services"}]


def ruleset():
    return json.loads((FIXTURES / "nft_drop_ruleset.json").read_text())


def test_drop_chains_found_only_with_drop_policy():
    chains = nftables.drop_chains(ruleset())
    assert chains == [{"family": "inet", "table": "filter", "name": "input", "hook": "input"},
                      {"family": "inet", "table": "filter", "name": "forward", "hook": "forward"}]


def test_changes_keep_existing_rule_and_add_missing_ones():
    rs = ruleset()
    wanted = nftables.wanted_rules(nftables.drop_chains(rs), OPENINGS, ["10.244.0.0/16", "fd00:10::/56"])
    to_add, to_delete = nftables.plan_changes(rs, wanted)
    comments = [r["comment"] for r in to_add]
    assert "k8snet: udp 8472 (flannel vxlan)" not in comments  # already in the fixture
    assert "k8snet: tcp 30000-32767 (NodePort Services)" in comments
    assert "k8snet: forward saddr 10.244.0.0/16 (pod network)" in comments
    assert "k8snet: forward daddr fd00:10::/56 (pod network)" in comments
    assert to_delete == []
    assert all(r["expr"].endswith("accept") for r in wanted)


def test_stale_rule_is_removed_and_nothing_else_is_touched():
    rs = ruleset()
    to_add, to_delete = nftables.plan_changes(rs, [])
    assert [r["comment"] for r in to_delete] == ["k8snet: udp 8472 (flannel vxlan)"]
    assert nftables.delete_command(to_delete[0]) == "delete rule inet filter input handle 7"
    assert to_add == []


def test_ipv4_cidr_is_not_put_in_an_ip6_table():
    chains = [{"family": "ip6", "table": "f", "name": "fwd", "hook": "forward"}]
    rules = nftables.wanted_rules(chains, [], ["10.244.0.0/16", "fd00::/56"])
    assert {r["expr"] for r in rules} == {"ip6 saddr fd00::/56 accept", "ip6 daddr fd00::/56 accept"}


def test_include_line_is_appended_once_and_removed():
    config = "flush ruleset\ntable inet filter {\n}\n"
    once = nftables.with_include(config)
    assert nftables.with_include(once) == once
    assert once.rstrip().endswith(nftables.INCLUDE_LINE)
    assert nftables.without_include(once) == config
