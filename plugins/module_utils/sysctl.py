"""A sysctl.d drop-in owned by this project: content, parsing and the runtime difference.

The file records, on first creation, the runtime values it is about to change
(``# before: key=value``) so that removing it can put the host back as it was.
Pure functions; the module ``onprem.k8snet.sysctl_conf`` does the I/O.
"""

from __future__ import annotations

HEADER = "# Managed by k8snet (onprem.k8snet.sysctl_conf); removed by playbooks/reset.yml."
BEFORE = "# before: "


def proc_path(key: str) -> str:
    return "/proc/sys/" + key.replace(".", "/")


def normalize(value: object) -> str:
    """sysctl prints tabs between numbers (ip_local_port_range); compare on single spaces."""
    return " ".join(str(value).split())


def render(values: dict, before: dict) -> str:
    lines = [HEADER]
    lines += [f"{BEFORE}{key}={normalize(before[key])}" for key in sorted(before)]
    lines += [f"{key} = {normalize(values[key])}" for key in sorted(values)]
    return "\n".join(lines) + "\n"


def parse(text: str) -> tuple[dict, dict]:
    """(values, before) from a file written by render()."""
    values, before = {}, {}
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith(BEFORE):
            key, _, value = line[len(BEFORE):].partition("=")
            before[key.strip()] = value.strip()
        elif line and not line.startswith(("#", ";")) and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = normalize(value)
    return values, before


def runtime_changes(wanted: dict, runtime: dict) -> dict:
    """Keys whose runtime value differs from the wanted one: {key: (current, wanted)}."""
    return {key: (runtime.get(key), normalize(value)) for key, value in sorted(wanted.items())
            if normalize(runtime.get(key, "")) != normalize(value)}
