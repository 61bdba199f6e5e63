"""The README's phase table names exactly the tags the playbooks have, phase by phase."""

from __future__ import annotations

import html
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def readme_tags() -> set[str]:
    lines = (ROOT / "README.md").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| phase | tag |")) + 2
    tags = set()
    for row in lines[start:]:
        if not row.startswith("| "):                        # the table ends at its first other line
            break
        cell = row.split("|")[2]
        if "always" in cell:
            tags.add("always")
        tags |= set(re.findall(r"`([a-z_]+)`", cell))
    return tags


def playbook_tags() -> set[str]:
    plays = yaml.safe_load((ROOT / "playbooks" / "site.yml").read_text())
    return {tag for play in plays for tag in play.get("tags", [])}


def test_the_readme_phase_table_names_the_tags_site_yml_has():
    assert readme_tags() == playbook_tags()
    assert {"addons", "verify"} <= playbook_tags()              # the reader of the table meets real names


def test_every_play_of_site_yml_has_a_tag_so_tags_never_drop_a_phase_silently():
    plays = yaml.safe_load((ROOT / "playbooks" / "site.yml").read_text())
    assert [p["name"] for p in plays if not p.get("tags")] == []


def test_the_contract_page_names_every_contract_variable():
    from ansible_collections.onprem.k8snet.plugins.module_utils.contract import CONTRACT

    page = (ROOT / "docs" / "CONTRACT.md").read_text()
    assert [name for name in CONTRACT if f"`{name}`" not in page] == []


def test_the_readme_shows_the_lab_network_as_make_demo_drew_it():
    """The picture the quick start shows exists and is the lab's: every node, the pool and the chosen NIC."""
    readme = (ROOT / "README.md").read_text()
    picture = ROOT / "docs" / "images" / "network-lab.svg"
    assert f"]({picture.relative_to(ROOT)})" in readme
    svg = html.unescape(picture.read_text())
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    for name in ("node1", "node2", "node3", "lab-l2", "eth1 192.168.56.11/24", "192.168.56.240"):
        assert name in svg, name
    assert "```mermaid" in readme
