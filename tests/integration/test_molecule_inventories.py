"""The molecule scenarios on other layouts link committed inventories: they must be what the lab tool
writes for that layout, and each scenario must boot the layout its inventory was made for."""

from __future__ import annotations

import pytest
import yaml

from tests.integration.harness import REPO, lab_tool

SCENARIOS = {"renamed": "renamed", "multi": "multi"}     # molecule scenario -> lab layout


@pytest.mark.parametrize(("scenario", "layout"), SCENARIOS.items())
def test_scenario_inventory_is_the_lab_inventory_of_its_layout(scenario, layout):
    scenario_dir = REPO / "molecule" / scenario
    config = yaml.safe_load((scenario_dir / "molecule.yml").read_text())
    assert config["provisioner"]["env"]["K8SNET_LAB_LAYOUT"] == layout
    hosts = scenario_dir / config["provisioner"]["inventory"]["links"]["hosts"]
    assert hosts.read_text() == lab_tool("inventory", "--layout", layout).stdout, \
        f"regenerate it: tools/lab.py inventory --layout {layout} > {hosts.relative_to(REPO)}"
