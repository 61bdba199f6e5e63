"""onprem.k8snet.network_picture through its argument_spec: network.svg from a render directory, check mode,
re-runs, and a controller without Graphviz (the Mermaid block alone, one warning naming what to install)."""

from __future__ import annotations

import sys

import pytest
import yaml
from ansible_collections.onprem.k8snet.plugins.modules import network_picture

from tests.unit.pictures import mermaid_boxes, problems, svg_boxes
from tests.unit.planfixtures import run_module
from tests.unit.plugins.module_utils.test_picture import lab_plan, needs_dot, rendered_ingress


@pytest.fixture
def rendered(tmp_path):
    """A render directory holding the ingress Service as render mode writes it, and nothing else to read."""
    (tmp_path / "rendered" / "ingress").mkdir(parents=True)
    (tmp_path / "rendered" / "ingress" / "50-service-nginx-ingress-nginx-ingress.yaml").write_text(
        yaml.safe_dump(rendered_ingress()))
    (tmp_path / "rendered" / "ACCESS.md").write_text("# not an object\n")
    return tmp_path / "rendered"


def draw(rendered, check_mode=False, plan=None):
    return run_module(network_picture.main, {"plan": plan or lab_plan(), "directory": str(rendered),
                                             "dest": str(rendered / "network.svg")}, check_mode=check_mode)


def test_it_writes_network_svg_naming_every_node_and_pool_then_changes_nothing(rendered):
    needs_dot()
    plan = lab_plan()
    first = draw(rendered, plan=plan)
    assert (first["failed"], first["changed"], first["drawn"]) == (False, True, True)
    svg = (rendered / "network.svg").read_text()
    assert problems(plan, svg_boxes(svg)) == []
    assert "192.168.56.240 nginx-ingress/nginx-ingress (80/TCP, 443/TCP)" in svg_boxes(svg)["pool1"]
    assert first["dot"].startswith("digraph network {")
    assert "nodes1 [label=<<b>node1 (control plane)</b>" in first["dot"]
    assert first["markdown"].startswith("\n## The network\n\nThe same picture, drawn by Graphviz: network.svg")
    assert f"```mermaid\n{first['mermaid']}```\n" in first["markdown"]
    assert mermaid_boxes(first["mermaid"]) == svg_boxes(svg)
    again = draw(rendered, plan=plan)
    assert (again["changed"], (rendered / "network.svg").read_text()) == (False, svg)


def test_check_mode_writes_nothing_and_says_whether_it_would(rendered):
    needs_dot()
    result = draw(rendered, check_mode=True)
    assert (result["changed"], result["drawn"]) == (True, True)
    assert not (rendered / "network.svg").exists()
    draw(rendered)
    (rendered / "network.svg").write_text("<svg>an older picture</svg>")
    result = draw(rendered, check_mode=True)
    assert result["changed"] is True
    assert (rendered / "network.svg").read_text() == "<svg>an older picture</svg>"
    draw(rendered)
    assert draw(rendered, check_mode=True)["changed"] is False


def test_without_dot_it_warns_naming_the_package_and_still_gives_the_mermaid_block(rendered, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "no-graphviz-here"))
    result = draw(rendered)
    assert (result["failed"], result["changed"], result["drawn"]) == (False, False, False)
    assert result["warnings"] == [
        "network.svg not drawn: Graphviz's dot command is missing on the controller: install the package graphviz "
        "(apt-get install graphviz, dnf install graphviz); the Mermaid block in the report shows the same picture"]
    assert not (rendered / "network.svg").exists()
    assert "network.svg was not drawn (Graphviz's dot command is missing" in result["markdown"]
    assert problems(lab_plan(), mermaid_boxes(result["mermaid"])) == []
    assert result["dot"].startswith("digraph network {")
    (rendered / "network.svg").write_text("<svg>an older picture</svg>")
    assert draw(rendered)["warnings"][0].startswith("network.svg not drawn (the network.svg there is from an earlier "
                                                    "run): Graphviz's dot command is missing")


def test_without_the_python_package_it_warns_the_same_way(rendered, monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)          # import graphviz raises ImportError
    result = draw(rendered)
    assert (result["failed"], result["drawn"], result["dot"]) == (False, False, "")
    assert result["warnings"] == [
        "network.svg not drawn: the Python package graphviz is missing on the controller (pip install -r "
        "requirements.txt); the Mermaid block in the report shows the same picture"]
    assert "```mermaid\nflowchart LR\n" in result["markdown"]


def test_a_missing_render_directory_fails_naming_it(tmp_path):
    result = draw(tmp_path / "nothing")
    assert result["failed"] is True
    assert result["msg"] == f"{tmp_path / 'nothing'} is not a directory (nothing rendered yet?)"
