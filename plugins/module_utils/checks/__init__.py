"""The network plan's checkers, one concern each; ``plan.build_plan`` runs them in order.

- ``settings``: cluster-wide values of the contract variables, misspelt variables, enumerations,
  the inventory's groups and addresses;
- ``networks``: pod and service networks, node pod prefixes, overlaps with host networks;
- ``metallb``: address pools (against each other, the cluster networks and the nodes) and BGP peers;
- ``ports``: the NodePort range, fixed NodePorts, the ports each node opens;
- ``addons``: flannel's and the ingress controller's settings, exposed Services;
- ``hosts``: kernel features, listeners in the way, each node's plan (MTU).

Every checker reads the resolved settings and reports to one ``Problems`` through a
:class:`Context`; list entries (pools, peers) are checked against declared :class:`Field` s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..problems import Problems

REQUIRED = object()  # a Field without a default: checked even when the key is missing


@dataclass
class Context:
    """What every checker reads and where it reports."""

    s: dict              # contract variable -> its cluster-wide value (settings.resolve)
    problems: Problems


@dataclass(frozen=True)
class Field:
    """One key of a list entry: its default, the check its value must pass, what the error says.

    A key that is given is always checked; a missing key takes the default, and only a REQUIRED one
    (no default) is checked, so that the error names the missing value.
    """

    check: Callable[[object], bool]
    why: str
    fix: str
    default: object = REQUIRED


def check_entry(ctx: Context, where: str, entry: dict, fields: dict[str, Field], *, what: str,
                passthrough: tuple[str, ...] = ()) -> dict:
    """The entry's declared keys (defaults filled in), every bad value an error at ``where.key``;
    keys neither declared nor in ``passthrough`` are warnings naming ``what`` the entry is."""
    values = {}
    for key, declared in fields.items():
        value = entry.get(key, None if declared.default is REQUIRED else declared.default)
        if (key in entry or declared.default is REQUIRED) and not declared.check(value):
            ctx.problems.error(f"{where}.{key}", value, declared.why, declared.fix)
        values[key] = value
    known = (*fields, *passthrough)
    for key in sorted(set(entry) - set(known), key=str):
        ctx.problems.warning(f"{where}.{key}", entry[key], f"is not a {what} setting of this project",
                             f"remove it (known: {', '.join(known)})")
    return values


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def int_between(low: int, high: int) -> Callable[[object], bool]:
    return lambda value: is_int(value) and low <= value <= high
