"""The add-on registry (plugins/module_utils/addons/registry.py) is the one list of add-ons.

What reads it directly (the builders, contract, the cluster_addon role through the onprem.k8snet.addons
lookup, the tests) cannot disagree with it; what has to name the add-ons statically (site.yml's plays,
whose tags a computed list would lose, and k8s_manifests' documentation) is compared with it here, and
no other file holds a list of the add-ons.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from ansible_collections.onprem.k8snet.plugins.module_utils import addons, contract
from ansible_collections.onprem.k8snet.plugins.module_utils.addons.registry import ADDONS, COMPONENTS
from ansible_collections.onprem.k8snet.plugins.modules import k8s_manifests

REPO = Path(__file__).resolve().parents[2]
# Files that may name the add-ons together: the registry, the package importing the builder modules by
# name, k8s_manifests (its documented choices are compared below) and this test (its negative control).
ALLOWED = {"plugins/module_utils/addons/registry.py", "plugins/module_utils/addons/__init__.py",
           "plugins/modules/k8s_manifests.py", "tests/unit/test_registry.py"}
SKIP_DIRS = {".venv", "collections", ".git", "rendered", ".cache", "reports"}


def add_on_lists(text: str) -> list[int]:
    """Lines that name four or more add-ons in a list, tuple or call."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        named = {n for n in COMPONENTS if re.search(rf"(?<![\w-]){n}(?![\w-])", line)}
        if len(named) >= 4 and re.search(r"[\[(,]", line):
            found.append(number)
    return found


def test_no_other_file_lists_the_add_ons():
    offenders = []
    for path in REPO.rglob("*"):
        relative = path.relative_to(REPO)
        if SKIP_DIRS & set(relative.parts) or path.suffix not in (".py", ".yml", ".yaml", ".j2"):
            continue
        if str(relative) not in ALLOWED and path.is_file():
            offenders += [f"{relative}:{n}" for n in add_on_lists(path.read_text(errors="replace"))]
    assert offenders == []


def test_the_list_finder_finds_a_list():
    """Negative control: the old default of cluster_addon_components is found."""
    assert add_on_lists("x: 1\ncluster_addon_components: [flannel, metallb, ingress, gateway, exposed_services]\n") \
        == [2]


def test_every_add_on_has_its_role_pins_and_builders():
    for addon in ADDONS.values():
        role = REPO / "roles" / addon.role
        assert (role / "tasks" / "main.yml").is_file(), addon.role
        assert (role / "tasks" / "pins.yml").is_file() == bool(addon.pins), addon.role
        if addon.pins:
            defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text())
            role_vars = (role / "vars" / "main.yml").read_text()
            for table, project in addon.pins.items():
                assert defaults[f"{table}_version"] and defaults[f"{table}_manifests"], (addon.role, table)
                assert f"'project': '{project}'" in role_vars, (addon.role, project)
        for builder in addon.builders.values():
            assert builder in addons.BUILDERS, (addon.name, builder)
        assert set(addon.variables) <= set(contract.ROLE_VARIABLE_PREFIXES)


def site_plays() -> list[dict]:
    return yaml.safe_load((REPO / "playbooks" / "site.yml").read_text())


def test_site_yml_names_the_add_on_roles_in_the_registry_order():
    plays = {play["name"]: play for play in site_plays()}
    fetch = plays["Compare with the last applied plan, refuse disruptive changes, build every add-on's objects"]
    pinned = [t["ansible.builtin.import_role"]["name"] for t in fetch["tasks"]
              if t.get("ansible.builtin.import_role", {}).get("tasks_from") == "pins.yml"]
    assert pinned == [a.role for a in ADDONS.values() if a.pins]
    fetched = next(t["vars"]["cluster_addon_pins"] for t in fetch["tasks"] if "vars" in t)
    assert fetched == "{{ " + " + ".join(f"{role}_pins" for role in pinned) + " }}"
    install = plays["Install the cluster add-ons (flannel, MetalLB, ingress, exposed Services)"]
    imported = [t["ansible.builtin.import_role"] for t in install["tasks"]]
    assert [i["name"] for i in imported] == [*(a.role for a in ADDONS.values() if a.pre_steps), "cluster_addon"]
    assert all(i["rolespec_validate"] is False for i in imported)         # the early pass checked their arguments


def test_k8s_manifests_documents_the_registry_as_its_choices():
    options = yaml.safe_load(k8s_manifests.DOCUMENTATION)["options"]
    assert options["component"]["choices"] == list(COMPONENTS)
    assert options["components"]["choices"] == list(COMPONENTS)
