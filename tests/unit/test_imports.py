"""plugins/module_utils imports as a graph without cycles (every import counts, also those inside functions)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "plugins" / "module_utils"
PREFIX = "ansible_collections.onprem.k8snet.plugins.module_utils"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def known_modules() -> dict[str, Path]:
    return {module_name(p): p for p in ROOT.rglob("*.py")}


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package else []
                base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join([*base, *([node.module] if node.module else [])])
            elif (node.module or "").startswith(PREFIX):
                target = node.module[len(PREFIX):].lstrip(".")
            else:
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}" if target else alias.name
                found.add(sub if sub in modules else target)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(PREFIX):
                    found.add(alias.name[len(PREFIX):].lstrip("."))
    return {m for m in found if m in modules and m != name}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                found.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def graph() -> dict[str, set[str]]:
    modules = known_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def test_module_utils_imports_have_no_cycle():
    edges = graph()
    assert edges["plan"] >= {"checks.settings", "checks.metallb"}, edges["plan"]     # the graph sees imports
    assert "addons.common" in edges["addons.flannel"], edges["addons.flannel"]
    assert cycles(edges) == []


def test_the_cycle_check_finds_a_cycle():
    """Negative control: the builders importing the package that imports them (as they once did)."""
    edges = graph()
    edges["addons.flannel"] = {*edges["addons.flannel"], "addons"}
    assert ["addons", "addons.flannel", "addons"] in cycles(edges)
