"""A sysctl.d drop-in owned by this project: content, parsing and the runtime difference.

The file records, on first creation, the runtime values it is about to change
(``# before: key=value``) so that removing it can put the host back as it was.
Pure functions; the module ``onprem.k8snet.sysctl_conf`` does the I/O.
"""

from __future__ import annotations

DEFAULT_PATH = "/etc/sysctl.d/90-k8snet.conf"
# The parameters node preparation may set: node_facts reads them so that a run can tell, before
# connecting again, whether the drop-in or the runtime differ from what the plan wants.
WATCHED = ("net.ipv4.ip_forward", "net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables",
           "net.ipv4.ip_local_reserved_ports", "net.ipv6.conf.all.forwarding")
HEADER = "# Managed by k8snet (onprem.k8snet.sysctl_conf); removed by playbooks/reset.yml."
BEFORE = "# before: "


def proc_path(key: str) -> str:
    return "/proc/sys/" + key.replace(".", "/")


def read_file(path: str) -> str | None:
    """A file's text, or None when it does not exist."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def read_runtime(keys, read=read_file) -> dict:
    """Dotted kernel parameters to their normalized runtime values (None when the kernel does not have one)."""
    values = {}
    for key in keys:
        value = read(proc_path(key))
        values[key] = normalize(value) if value is not None else None
    return values


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


def present(current_text: str | None, runtime: dict, wanted: dict) -> tuple[str, dict]:
    """state=present: (the drop-in's new text, the runtime changes) for the wanted values.

    The drop-in keeps the values it recorded at first creation (``# before:``) and records the current
    runtime value of every new key it changes, so that removing it puts the host back.
    """
    wanted = {k: normalize(v) for k, v in wanted.items()}
    _, before = parse(current_text) if current_text else ({}, {})
    before = {**{k: runtime[k] for k in wanted if k not in before and runtime[k] != wanted[k]}, **before}
    return render(wanted, before), runtime_changes(wanted, runtime)


def pending(gathered: dict | None, wanted: dict, path: str) -> bool:
    """Whether state=present would change anything, judged from what node_facts gathered (its ``sysctl``).

    Unknown is pending: nothing gathered, another path, or a wanted parameter it did not read.
    """
    if not gathered or gathered.get("path") != path:
        return True
    runtime = gathered.get("runtime") or {}
    if any(runtime.get(k) is None for k in wanted):
        return True
    runtime = {k: normalize(runtime[k]) for k in wanted}
    text, changes = present(gathered.get("file"), runtime, wanted)
    return text != gathered.get("file") or bool(changes)
