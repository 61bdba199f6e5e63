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


def test_day2_inventories_are_the_4_node_lab_with_and_without_node4_in_the_cluster():
    scenario_dir = REPO / "molecule" / "day2"
    config = yaml.safe_load((scenario_dir / "molecule.yml").read_text())
    assert config["provisioner"]["env"]["K8SNET_LAB_NODES"] == "4"
    assert config["provisioner"]["inventory"]["links"]["hosts"] == "three/hosts.yml"
    four = lab_tool("inventory", "--nodes", "4").stdout
    assert (scenario_dir / "four/hosts.yml").read_text() == four
    three = yaml.safe_load((scenario_dir / "three/hosts.yml").read_text())
    expected = yaml.safe_load(four)
    del expected["all"]["children"]["k8s_cluster"]["children"]["kube_node"]["hosts"]["node4"]
    assert three == expected           # node4 is a lab host, not yet in the cluster
