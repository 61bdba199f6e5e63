"""A valid network plan (docs/ARCHITECTURE.md shape) for tests of code that reads plans.

``make_plan(**overrides)`` returns the lab plan: three nodes whose chosen NIC is eth1 on
192.168.56.0/24, one L2 pool, F5 ingress behind MetalLB. Overrides are merged deeply by
section, e.g. ``make_plan(flannel={"mtu": 9000}, ingress={"exposure": "nodeport"})``; a value
of :data:`DELETE` removes the key. Lists are replaced, not merged. ``probes`` is what build_plan
gives that lab for the underlay probes. tests/unit/test_planfixtures.py keeps this plan's keys and
value types equal to a real build_plan output's.

``upstream_files()`` gives the ``files`` argument of the add-on builders from the local mirror
of pinned manifests (``K8SNET_UPSTREAM_MIRROR``, default ``../shared/upstream`` beside the repo),
skipping the test loudly when there is none.
"""

from __future__ import annotations

import copy
import csv
import functools
import os
from pathlib import Path

import pytest
from ansible_collections.onprem.k8snet.plugins.module_utils.addons.registry import ADDONS, COMPONENT_PROJECTS

DELETE = object()
REPO = Path(__file__).resolve().parents[2]


def node(index: int, *, iface: str = "eth1", ipv6: str | None = None, control_plane: bool = False) -> dict:
    address = f"192.168.56.{10 + index}"
    return {
        "address": address,
        "control_plane": control_plane,
        "iface": {"name": iface, "ipv4": address, "ipv6": ipv6, "prefix4": 24, "prefix6": 64 if ipv6 else None,
                  "mtu": 1500, "method": "inventory_address", "reason": f"{iface}: holds {address}",
                  "first_address": True, "skipped": {"eth0": "NAT"}},
        "pod_mtu": 1450,
        "ephemeral_ports": {"start": 32768, "end": 60999},
        "reserved_ports": "30000-32767",
        "host_ports": [{"protocol": "udp", "port": "8472", "why": "flannel vxlan"}],
        "kernel_modules": [],
        "firewall": {"kind": "none", "detail": ""},
    }


def pool(name: str = "lab-pool", addresses=("192.168.56.200-192.168.56.220",), mode: str = "l2",
         interfaces: dict | None = None, **extra) -> dict:
    if interfaces is None:
        interfaces = {f"node{i}": "eth1" for i in (1, 2, 3)} if mode == "l2" else {}
    return {"name": name, "mode": mode, "auto_assign": True, "avoid_buggy_ips": False,
            "addresses": list(addresses), "ranges": [], "interfaces": interfaces, **extra}


def peer(name: str = "peer-0", address: str = "10.0.0.1", asn: int = 64512, my_asn: int = 64513, **extra) -> dict:
    base = {"name": name, "address": address, "asn": asn, "my_asn": my_asn, "port": 179, "hold_time": None,
            "keepalive_time": None, "password_secret": None, "node_selectors": None}
    base.update(extra)
    return base


def probes(node_count: int = 3, pool_addresses=tuple(f"192.168.56.{i}" for i in range(200, 221))) -> dict:
    """What the underlay probes send where in the lab plan (full mesh; the L2 pool swept from node1)."""
    names = [f"node{i}" for i in range(1, node_count + 1)]
    memberlist = [{"protocol": proto, "port": 7946, "why": "MetalLB memberlist"} for proto in ("tcp", "udp")]
    return {
        "mode": f"full mesh ({node_count} nodes, {node_count * (node_count - 1)} directed pairs)",
        "vxlan": {f"node{i}": {
            "create_device": True, "device": "k8snprobe0", "vni": 2, "port": 8472, "local": f"192.168.56.{10 + i}",
            "dev": "eth1", "address": f"198.18.0.{i}/15", "mtu": 1450,
            "targets": [{"peer": f"node{j}", "kind": "device", "address": f"198.18.0.{j}", "size": 1450,
                         "underlay": f"192.168.56.{10 + j}", "peer_dev": "eth1"}
                        for j in range(1, node_count + 1) if j != i]} for i in range(1, node_count + 1)},
        "arp": {},
        "ports": {host: {"listen": copy.deepcopy(memberlist),
                         "targets": [{"peer": peer, "address": f"192.168.56.{10 + int(peer[4:])}", **port}
                                     for peer in names if peer != host for port in memberlist]} for host in names},
        "policy": "changes",
        "pools": {"node1": {"dev": "eth1", "addresses": list(pool_addresses),
                            "pools": dict.fromkeys(pool_addresses, "lab-pool"), "truncated": 0}},
        "pools_unprobed": [],
    }


def base_plan(node_count: int = 3) -> dict:
    return {
        "schema": 1,
        "project_version": "0.1.0",
        "cluster": {
            "inventory_name": "lab", "apply": "render", "render_dir": "/tmp/rendered/lab",
            "report_dir": "/tmp/rendered/lab", "kubeconfig": None,
            "kube_version": "1.35", "allow_disruptive": False, "adopt_existing": False,
            "upstream_mirror": None, "registry_mirror": None,
            "pod_cidr": {"ipv4": "10.244.0.0/16", "ipv6": None},
            "service_cidr": {"ipv4": "10.96.0.0/12", "ipv6": None},
            "node_pod_prefix": {"ipv4": 24, "ipv6": 64},
            "pod_subnets": {"ipv4": {"capacity": 256, "used": node_count, "headroom": 256 - node_count}},
            "nodeport_range": {"start": 30000, "end": 32767},
            "control_plane": ["node1"],
            "kube_proxy_mode": "iptables",
        },
        "flannel": {"backend": "vxlan", "vni": 1, "port": 8472, "mtu": None, "iface_arg": "eth1",
                    "annotate_nodes": False, "nftables": False, "hosts_without_iptables": []},
        "metallb": {"enabled": True, "bgp_implementation": "native", "manage_kube_proxy": True,
                    "pools": [pool()], "bgp_peers": []},
        "ingress": {"enabled": True, "controller": "nginx", "exposure": "loadbalancer", "lb_ip": None,
                    "http_nodeport": None, "https_nodeport": None, "default_class": True, "kind": "deployment",
                    "custom_resources": True, "external_traffic_policy": "Local", "status_address": None},
        "gateway_api": {"enabled": False},
        "exposed_services": [],
        "nodes": {f"node{i}": node(i, control_plane=i == 1) for i in range(1, node_count + 1)},
        "warnings": [],
        "probes": probes(node_count),
    }


def _merge(target: dict, overrides: dict) -> None:
    for key, value in overrides.items():
        if value is DELETE:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def make_plan(node_count: int = 3, **sections) -> dict:
    """The lab plan with ``sections`` merged in (``cluster={...}``, ``ingress={...}``, ``nodes={...}``)."""
    plan = base_plan(node_count)
    _merge(plan, sections)
    return plan


# ------------------------------------------------------------------ upstream mirror


ROLE_PINS = {  # role -> (pin table, upstream project) of each pin table in roles/<role>/defaults
    a.role: list(a.pins.items()) for a in ADDONS.values() if a.pins}
INTERNET_MIRROR = REPO / ".cache" / "upstream-mirror"


def role_pins(role: str) -> list[dict]:
    """The pins of a role's defaults, as upstream_fetch takes them."""
    import yaml

    defaults = yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text())
    return [{**item, "project": project, "version": defaults[f"{prefix}_version"]}
            for prefix, project in ROLE_PINS[role] for item in defaults[f"{prefix}_manifests"]]


def _is_mirror(path: Path) -> bool:
    return (path / "MANIFEST.tsv").is_file()


@functools.lru_cache(maxsize=1)
def _internet_mirror(directory: Path = INTERNET_MIRROR) -> tuple[Path | None, str]:
    """Download every role pin from upstream into ``directory`` (a mirror with MANIFEST.tsv)."""
    from ansible_collections.onprem.k8snet.plugins.module_utils import upstream

    rows = []
    try:
        for role in ROLE_PINS:
            pins = role_pins(role)
            upstream.fetch(pins, mirror=None, cache_dir=str(directory), timeout=15)
            rows += [upstream.Pin.from_dict(p) for p in pins]
    except upstream.UpstreamError as exc:
        return None, str(exc).splitlines()[0]
    lines = ["project\tversion\trelative_path\tsha256\tupstream_url"]
    lines += [f"{p.project}\t{p.version}\t{p.relpath}\t{p.sha256}\t{p.upstream_url}" for p in rows]
    (directory / "MANIFEST.tsv").write_text("\n".join(lines) + "\n")
    return directory, ""


def mirror_dir() -> tuple[Path | None, str]:
    """(mirror directory or None, why there is none)."""
    configured = os.environ.get("K8SNET_UPSTREAM_MIRROR")
    if configured:
        path = Path(configured)
        return (path, "") if _is_mirror(path) else (None, f"K8SNET_UPSTREAM_MIRROR={configured} has no MANIFEST.tsv")
    default = REPO.parent / "shared" / "upstream"
    if _is_mirror(default):
        return default, ""
    if _is_mirror(INTERNET_MIRROR):
        return INTERNET_MIRROR, ""
    found, why = _internet_mirror()
    return found, f"no local mirror at {default} and the internet failed: {why}"


def require_mirror() -> Path:
    found, why = mirror_dir()
    if found is None:
        pytest.skip(f"SKIPPED LOUDLY: the pinned upstream manifests are unavailable ({why}). Set "
                    "K8SNET_UPSTREAM_MIRROR to a directory laid out as <project>/<version>/<path> with "
                    "MANIFEST.tsv (CI has ../shared/upstream); these tests check the real upstream files.")
    return found


def manifest_rows() -> list[dict]:
    """MANIFEST.tsv of the mirror: project, version, relative_path, sha256, upstream_url."""
    with open(require_mirror() / "MANIFEST.tsv", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def upstream_files(*projects: str) -> dict[str, str]:
    """Pin path -> mirror file for the given projects (all when none given)."""
    root = require_mirror()
    files = {}
    for row in manifest_rows():
        if projects and row["project"] not in projects:
            continue
        path = row["relative_path"].split("/", 2)[2]
        if path in files and path != "LICENSE":
            raise ValueError(f"{path} is pinned by several of {projects or 'all projects'}; ask for fewer")
        files[path] = str(root / row["relative_path"])
    return files


# The add-ons with pinned upstream files (the others build from the inventory alone).
PINNED = tuple(a.name for a in ADDONS.values() if a.pins)


def component_files(component: str) -> dict[str, str]:
    return upstream_files(*COMPONENT_PROJECTS[component])


# ------------------------------------------------------------------ running a module in-process


class ModuleExit(Exception):
    def __init__(self, result: dict):
        super().__init__(result.get("msg", ""))
        self.result = result


def run_module(main, args: dict, *, check_mode: bool = False, diff: bool = False) -> dict:
    """Run a module's ``main()`` with ``args`` through its real argument_spec; return its result.

    ``exit_json``/``fail_json`` are replaced so the result comes back as a dict (``failed`` is
    true for fail_json), in the style of kubernetes.core's unit tests.
    """
    from unittest import mock

    from ansible.module_utils import basic
    from ansible.module_utils.testing import patch_module_args

    args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)

    def exit_json(self, **kwargs):
        raise ModuleExit({"failed": False, **kwargs})

    def fail_json(self, msg, **kwargs):
        raise ModuleExit({"failed": True, "msg": msg, **kwargs})

    with patch_module_args(args), mock.patch.multiple(basic.AnsibleModule, exit_json=exit_json,
                                                      fail_json=fail_json):
        try:
            main()
        except ModuleExit as done:
            return done.result
    raise AssertionError("the module returned without exit_json or fail_json")


# ------------------------------------------------------------------ building add-ons from the mirror


def build_component(component: str, plan: dict):
    """addons.build() with the mirror's files for that component."""
    from ansible_collections.onprem.k8snet.plugins.module_utils import addons

    return addons.build(component, plan, component_files(component))


def schema_errors(bundle, version: str) -> list[str]:
    """Every schema error of a build's objects and validated artifacts, as strings."""
    from ansible_collections.onprem.k8snet.plugins.module_utils import kube

    checked = bundle.objects + [a.content for a in bundle.artifacts if a.validate]
    return [str(p) for p in kube.validate_objects(checked, version)]


def by_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o["kind"] == kind]


def one(objects: list[dict], kind: str, name: str | None = None) -> dict:
    found = [o for o in by_kind(objects, kind) if name is None or o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]
