"""The nftables commands the project generates, loaded by the real nft in a scratch network namespace."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from ansible_collections.onprem.k8snet.plugins.module_utils import nftables

DROP_RULESET = """flush ruleset
table inet filter {
  chain input { type filter hook input priority 0; policy drop; tcp dport 22 accept; }
  chain forward { type filter hook forward priority 0; policy drop; }
}
"""


@pytest.fixture
def netns():
    if os.geteuid() != 0 or not shutil.which("nft"):
        pytest.fail("needs root and nft (make deps installs nftables)")
    name = f"k8snet-t{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def nft(ns, *args, data=None):
    return subprocess.run(["ip", "netns", "exec", ns, "nft", *args], input=data, text=True,
                          capture_output=True, check=True).stdout


def test_generated_rules_load_and_round_trip(netns, tmp_path: Path):
    nft(netns, "-f", "-", data=DROP_RULESET)
    openings = [{"protocol": "udp", "port": "8472", "why": "flannel vxlan"},
                {"protocol": "tcp", "port": "30000-32767", "why": "NodePort Services"}]
    ruleset = json.loads(nft(netns, "-j", "list", "ruleset"))
    wanted = nftables.wanted_rules(nftables.drop_chains(ruleset), openings, ["10.244.0.0/16"])
    to_add, _ = nftables.plan_changes(ruleset, wanted)
    nft(netns, "-f", "-", data="\n".join(nftables.insert_command(r) for r in to_add) + "\n")
    after = json.loads(nft(netns, "-j", "list", "ruleset"))
    assert nftables.plan_changes(after, wanted) == ([], [])          # idempotent: nothing left to do
    text = nft(netns, "list", "chain", "inet", "filter", "input")
    assert text.index("udp dport 8472 accept") < text.index("tcp dport 22 accept")  # inserted at the top
    # The persistent include file loads on top of the main config, as at boot.
    main = tmp_path / "nftables.conf"
    main.write_text(nftables.with_include(DROP_RULESET).replace(nftables.INCLUDE_FILE, str(tmp_path / "k.nft")))
    (tmp_path / "k.nft").write_text(nftables.persistent_file(wanted))
    nft(netns, "-f", str(main))
    rebooted = json.loads(nft(netns, "-j", "list", "ruleset"))
    assert nftables.plan_changes(rebooted, wanted) == ([], [])
    # Removing ours leaves the host's own rules.
    _, to_delete = nftables.plan_changes(rebooted, [])
    nft(netns, "-f", "-", data="\n".join(nftables.delete_command(r) for r in to_delete) + "\n")
    assert "tcp dport 22 accept" in nft(netns, "list", "ruleset")
    assert "k8snet" not in nft(netns, "list", "ruleset")
