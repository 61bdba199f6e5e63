"""Fixtures for tests against the systemd-nspawn lab (see docs/LAB.md and harness.py).

- `lab`: the default lab (vagrant layout, 3 nodes), created once per session and destroyed
  at its end, also when tests fail. K8SNET_LAB_KEEP=1 reuses a healthy lab of that shape
  that is already up and leaves the lab up afterwards.
- `lab_cluster(layout="vagrant", nodes=3)`: the lab as a kubeadm cluster on day 0 (no CNI);
  it replaces the running lab, like `lab_layout`.
- `lab_layout(layout, nodes=3)`: a lab of another layout; it replaces the running lab. The
  next test using `lab` gets the default lab back (a fresh one: one more boot), so put
  layout tests after the others, and never switch inside a module whose fixtures set up
  state on `lab`.
- `run_playbook(...)`: ansible-runner from the repository root (see harness.run_playbook).
- `clean_nodes`: the default lab with its nodes as before any run (sysctls, reserved ports,
  firewall), around the test; `harness.clean_node_state(lab)` does the same for any layout.

Tests marked `lab` fail (never skip) when the machine cannot run the lab.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.integration import harness
from tests.integration.harness import Lab, LabManager, PlaybookResult


def pytest_runtest_setup(item):
    """Before any fixture of the test (a module's cluster fixture too): may it make a lab cluster?"""
    harness.CLUSTER_ALLOWED = item.get_closest_marker("cluster") is not None


@pytest.fixture(autouse=True)
def _lab_guard(request):
    if request.node.get_closest_marker("lab") and (problem := harness.preflight_problem()):
        pytest.fail(problem, pytrace=False)
    if "lab" in request.fixturenames:        # an earlier test may have switched the layout
        request.getfixturevalue("lab_manager").get(harness.DEFAULT_LAYOUT, harness.DEFAULT_NODES)


@pytest.fixture(scope="session")
def lab_manager():
    if problem := harness.preflight_problem():
        pytest.fail(problem, pytrace=False)
    manager = LabManager(keep=os.environ.get("K8SNET_LAB_KEEP") == "1")
    yield manager
    manager.finish()


@pytest.fixture(scope="session")
def lab(lab_manager) -> Lab:
    return lab_manager.get(harness.DEFAULT_LAYOUT, harness.DEFAULT_NODES)


@pytest.fixture
def lab_layout(lab_manager):
    def get(layout: str, nodes: int = harness.DEFAULT_NODES) -> Lab:
        return lab_manager.get(layout, nodes)
    return get


@pytest.fixture
def lab_cluster(lab_manager):
    """A kubeadm lab cluster of a layout (tools/lab.py create --cluster); it replaces the running lab."""
    def get(layout: str = harness.DEFAULT_LAYOUT, nodes: int = harness.DEFAULT_NODES) -> Lab:
        return lab_manager.get(layout, nodes, cluster=True)
    return get


@pytest.fixture
def clean_nodes(lab) -> Iterator[Lab]:
    """The default lab with every node as before any run, before and after the test (harness.clean_node_state)."""
    harness.clean_node_state(lab)
    yield lab
    harness.clean_node_state(lab)


@pytest.fixture(scope="session")
def run_playbook():
    def run(playbook, inventory, **kwargs) -> PlaybookResult:
        return harness.run_playbook(playbook, inventory, **kwargs)
    return run
