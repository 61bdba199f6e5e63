"""The molecule `day2` scenario links committed inventories: they must be what the lab tool writes for
its 4-node layout, with and without node4 in the cluster."""

from __future__ import annotations

import yaml

from tests.integration.harness import REPO, lab_tool


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
