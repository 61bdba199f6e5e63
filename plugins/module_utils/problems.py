"""Problems found while checking the inventory, the hosts or the cluster.

Every check reports through a :class:`Problems` collector so that a run lists
everything that is wrong at once, each problem naming the variable (with list
index or host), the value, why it is wrong and how to fix it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

ERROR = "error"
WARNING = "warning"
SHOW = 5  # items (hosts, pools) named in one message before "and N more"


def names(items: list) -> str:
    """The first SHOW items, then how many more: "node1, node2, node3, node4, node5 and 45 more"."""
    shown = ", ".join(str(item) for item in items[:SHOW])
    return shown + (f" and {len(items) - SHOW} more" if len(items) > SHOW else "")


@dataclass(frozen=True)
class Problem:
    severity: str
    variable: str
    value: object
    why: str
    fix: str

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        value = self.value if isinstance(self.value, str) else repr(self.value)
        return f"{self.variable} = {value}: {self.why}. Fix: {self.fix}"


@dataclass
class Problems:
    items: list[Problem] = field(default_factory=list)

    def error(self, variable: str, value: object, why: str, fix: str) -> None:
        self.items.append(Problem(ERROR, variable, value, why, fix))

    def warning(self, variable: str, value: object, why: str, fix: str) -> None:
        self.items.append(Problem(WARNING, variable, value, why, fix))

    def extend(self, other: Problems) -> None:
        self.items.extend(other.items)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.items if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.items if p.severity == WARNING]

    def __bool__(self) -> bool:
        return bool(self.errors)

    def report(self) -> str:
        """Human-readable listing: errors first, then warnings, numbered."""
        lines = []
        for title, group in (("error", self.errors), ("warning", self.warnings)):
            if group:
                lines.append(f"{len(group)} {title}{'s' if len(group) > 1 else ''}:")
                lines.extend(f"  {i}. {p}" for i, p in enumerate(group, 1))
        return "\n".join(lines)
