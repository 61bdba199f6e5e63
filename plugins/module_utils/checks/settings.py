"""Cluster-wide settings and the inventory: the values every other checker reads."""

from __future__ import annotations

from .. import contract, kube
from ..problems import Problems, names
from . import Context

# The minors upstream still supports on the project's date (the three newest; 1.34 reached its end of
# life on 2026-10-27): objects are validated against the OpenAPI schema of the one given.
SUPPORTED_K8S_VERSIONS = ("1.35", "1.36", "1.37")
# render mode without k8s_version (api mode takes the cluster's): the newest.
DEFAULT_K8S_VERSION = SUPPORTED_K8S_VERSIONS[-1]
# Variables with a closed set of values (the others are checked by the checker of their concern).
CHOICES = {"k8s_apply": ("api", "render"), "metallb_bgp_implementation": ("native", "frr-k8s"),
           "k8s_probe_scope": ("changes", "all")}
# Ansible's spellings of booleans (what `| bool` accepts).
_TRUE = {"true", "yes", "on", "1", "y", "t"}
_FALSE = {"false", "no", "off", "0", "n", "f"}
# Integer variables that are unset by default (their default says nothing of their type).
_OPTIONAL_INTS = {"ingress_http_nodeport", "ingress_https_nodeport"}


def resolve(hosts: dict, problems: Problems) -> Context:
    """Cluster-wide values: the same on every host, else an error naming the hosts that differ."""
    values = contract.defaults()
    for name, var in contract.CONTRACT.items():
        if var.per_host:
            # Per-host variables reach NIC selection with each host's vars; there is no cluster value.
            values[name] = None
            continue
        seen: dict[str, list[str]] = {}
        first = None
        for host, data in hosts.items():
            if name in data.get("vars", {}):
                value = data["vars"][name]
                if first is None:
                    first = value
                # Equality first: most hosts share the cluster value, and == is cheaper than repr.
                key = repr(first) if value == first else repr(value)
                seen.setdefault(key, []).append(host)
        if first is not None:
            values[name] = coerce(problems, name, first, var.default)
        if len(seen) > 1:
            variants = "; ".join(f"{k} on {names(v)}" for k, v in seen.items())
            problems.error(name, first, f"differs between hosts ({variants}); it is cluster-wide",
                           "set it once for the whole cluster (group_vars/k8s_cluster)")
        elif seen and sum(len(v) for v in seen.values()) != len(hosts):
            missing = [h for h in hosts if name not in hosts[h].get("vars", {})]
            problems.error(name, first, f"is set on some hosts but not on {names(missing)}",
                           "set it once for the whole cluster (group_vars/k8s_cluster)")
    return Context(values, problems)


def coerce(problems: Problems, name: str, value: object, default: object) -> object:
    """`-e name=value` gives strings: read them as the boolean or integer the variable is."""
    if not isinstance(value, str):
        return value
    if isinstance(default, bool):
        lowered = value.strip().lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE
        problems.error(name, value, "is not a boolean", "use true or false")
        return default
    if (isinstance(default, int) or default == "auto" or name in _OPTIONAL_INTS) and value.strip().isdigit():
        return int(value)
    return value


def check_unknown_variables(ctx: Context, unknown: dict) -> None:
    """A variable of no role that looks like a misspelt contract variable is a warning naming that one."""
    for name, hosts in sorted(unknown.items()):
        suggestion = contract.closest(name)
        if suggestion:
            ctx.problems.warning(name, "(defined)", f"is not a variable of this project (set on "
                                 f"{names(sorted(hosts))}); it looks like a misspelling of {suggestion}",
                                 f"rename it to {suggestion}")


def check_choices(ctx: Context) -> None:
    for var, choices in CHOICES.items():
        if ctx.s[var] not in choices:
            ctx.problems.error(var, ctx.s[var], "is not a known value", f"use {' or '.join(choices)}")


def check_kube_version(ctx: Context, server_version: str | None) -> None:
    """k8s_version resolved in place: as set, else the API server's minor (api mode reads it), else the newest
    supported. A set value the cluster contradicts, and a minor outside the supported ones, are refused: objects
    are validated against the schema of that minor."""
    wanted = ctx.s["k8s_version"]
    wanted = None if wanted is None else str(wanted)
    try:
        live = kube.major_minor(server_version) if server_version else None
    except kube.SchemaUnavailable:
        live = None
    if wanted and live and wanted != live:
        ctx.problems.error("k8s_version", wanted, f"is not the cluster's minor (its API server is {server_version})",
                           f"set k8s_version: {live}, or leave it unset in api mode (the cluster's minor is read)")
    elif live and not wanted and live not in SUPPORTED_K8S_VERSIONS:
        ctx.problems.error("k8s_version", f"(unset, the cluster's {live})", f"the cluster's API server is "
                           f"{server_version}, not a minor this project supports",
                           f"upgrade the cluster to one of {', '.join(SUPPORTED_K8S_VERSIONS)} first")
    elif wanted and wanted not in SUPPORTED_K8S_VERSIONS:
        ctx.problems.error("k8s_version", wanted, "is not a supported Kubernetes version",
                           f"use one of {', '.join(SUPPORTED_K8S_VERSIONS)}")
    ctx.s["k8s_version"] = wanted or live or DEFAULT_K8S_VERSION


def check_inventory(ctx: Context, hosts: dict) -> dict[str, str | None]:
    """The groups the plan needs, one address per host. Returns host -> inventory address."""
    control = [h for h, d in hosts.items() if "kube_control_plane" in d.get("groups", [])]
    workers = [h for h, d in hosts.items() if "kube_node" in d.get("groups", [])]
    if not control:
        ctx.problems.error("kube_control_plane", [], "has no hosts",
                           "put the control-plane node(s) in group kube_control_plane, a child of k8s_cluster")
    if not workers:
        ctx.problems.error("kube_node", [], "has no hosts",
                           "put the worker nodes (or, in a one-node cluster, the control-plane node) "
                           "in group kube_node, a child of k8s_cluster")
    by_address: dict[str, list[str]] = {}
    addresses: dict[str, str | None] = {}
    for host, data in hosts.items():
        address = data.get("address")
        addresses[host] = address
        if address:
            by_address.setdefault(address, []).append(host)
    for address, holders in by_address.items():
        if len(holders) > 1:
            ctx.problems.error(f"ansible_host (hosts {names(holders)})", address,
                               "is the address of several hosts", "give every host its own address")
    return addresses


def check_facts(ctx: Context, hosts: dict) -> dict[str, dict]:
    """Every host's node facts (the plan needs all of them). Returns host -> facts ({} when missing)."""
    missing = [h for h, d in hosts.items() if not d.get("facts")]
    if missing:
        ctx.problems.error("hosts", names(missing), "have no network facts (unreachable, or left out "
                           "by --limit); the plan needs every node of k8s_cluster",
                           "make the hosts reachable and run without --limit")
    return {h: d.get("facts") or {} for h, d in hosts.items()}
