"""Flannel v0.28.9 from ``Documentation/kube-flannel.yml`` (not the release asset: docs/CONTRACT.md, "Flannel").

Patched: ``net-conf.json`` (parsed and re-dumped), the flanneld args (``--iface``), images
(registry mirror), and a pod-template annotation with the sha256 of net-conf.json, so that a
changed network configuration rolls the DaemonSet (flanneld reads it only at start).

``net-conf.json`` choices: ``Backend.Type`` is always written (flannel falls back to udp without
it); for vxlan ``VNI`` and ``Port`` are always written too, so the rendered file states what runs
(they equal flannel's defaults unless the inventory changes them); ``Backend.MTU`` only when the
plan fixes the UNDERLAY MTU (vxlan, wireguard; host-gw has no MTU setting); wireguard gets
``ListenPort`` 51820 (and ``ListenPortV6`` 51821 with IPv6); ``EnableNFTables`` is always written: true
when the plan says flannel programs nftables (kube-proxy in nftables mode, or hosts without iptables),
false (iptables, as upstream ships it) otherwise. Keys flannel reads case-insensitively are replaced
whatever their case in the upstream file.
"""

from __future__ import annotations

import hashlib
import json

from ..kube import ManifestError, container, find
from .common import Artifact, finish, load

MANIFEST = "Documentation/kube-flannel.yml"
NAMESPACE = "kube-flannel"
CONFIGMAP = "kube-flannel-cfg"
DAEMONSET = "kube-flannel-ds"
CONTAINER = "kube-flannel"
ANNOTATION_V4 = "flannel.alpha.coreos.com/node-public-ip"
ANNOTATION_V6 = "flannel.alpha.coreos.com/node-public-ipv6"
CONFIG_HASH_ANNOTATION = "k8snet/net-conf-sha256"
WIREGUARD_PORT, WIREGUARD_PORT_V6 = 51820, 51821


def required_files(plan: dict) -> list[str]:
    return [MANIFEST]


def _set(conf: dict, key: str, value) -> None:
    """Set ``key`` in place of any spelling of it (flannel matches JSON keys case-insensitively)."""
    items = []
    for existing, old in conf.items():
        if existing.lower() != key.lower():
            items.append((existing, old))
        elif all(k != key for k, _ in items):
            items.append((key, value))
    if all(k != key for k, _ in items):
        items.append((key, value))
    conf.clear()
    conf.update(items)


def _drop(conf: dict, key: str) -> None:
    for existing in [k for k in conf if k.lower() == key.lower()]:
        del conf[existing]


def backend(plan: dict) -> dict:
    flannel, pod = plan["flannel"], plan["cluster"]["pod_cidr"]
    kind = flannel["backend"]
    result: dict = {"Type": kind}
    if kind == "vxlan":
        result.update({"VNI": flannel["vni"], "Port": flannel["port"]})
    elif kind == "wireguard":
        result["ListenPort"] = WIREGUARD_PORT
        if pod.get("ipv6"):
            result["ListenPortV6"] = WIREGUARD_PORT_V6
    if flannel.get("mtu") and kind in ("vxlan", "wireguard"):
        result["MTU"] = flannel["mtu"]
    return result


def net_conf(plan: dict, shipped: dict) -> dict:
    """The upstream net-conf.json with the plan's networks and backend."""
    pod = plan["cluster"]["pod_cidr"]
    conf = dict(shipped)
    if pod.get("ipv4"):
        _set(conf, "Network", pod["ipv4"])
        _drop(conf, "EnableIPv4")  # default true
    else:
        _drop(conf, "Network")
        _set(conf, "EnableIPv4", False)
    if pod.get("ipv6"):
        _set(conf, "EnableIPv6", True)
        _set(conf, "IPv6Network", pod["ipv6"])
    else:
        _drop(conf, "EnableIPv6")
        _drop(conf, "IPv6Network")
    _set(conf, "Backend", backend(plan))
    _set(conf, "EnableNFTables", bool(plan["flannel"].get("nftables")))
    return conf


def _patch_configmap(configmap: dict, plan: dict) -> str:
    data = configmap.get("data") or {}
    try:
        shipped = json.loads(data["net-conf.json"])
    except (KeyError, ValueError) as exc:
        raise ManifestError(f"ConfigMap {NAMESPACE}/{CONFIGMAP} has no readable net-conf.json: {exc}") from exc
    text = json.dumps(net_conf(plan, shipped), indent=2) + "\n"
    data["net-conf.json"] = text
    configmap["data"] = data
    return text


def _patch_daemonset(daemonset: dict, plan: dict, conf_text: str) -> None:
    main = container(daemonset, CONTAINER)
    args = [a for a in main.get("args") or [] if not a.startswith(("--iface=", "--iface-regex=",
                                                                   "--iface-can-reach="))]
    if "--healthz-port=8081" not in args:
        raise ManifestError(f"DaemonSet {NAMESPACE}/{DAEMONSET}: expected --healthz-port=8081 in the args")
    iface = plan["flannel"].get("iface_arg")
    if iface:
        args.append(f"--iface={iface}")
    main["args"] = args
    template_meta = daemonset["spec"]["template"].setdefault("metadata", {})
    annotations = template_meta.get("annotations") or {}
    annotations[CONFIG_HASH_ANNOTATION] = hashlib.sha256(conf_text.encode()).hexdigest()
    template_meta["annotations"] = annotations


def build(plan: dict, files: dict[str, str]) -> list[dict]:
    objects = load(files, MANIFEST)
    conf_text = _patch_configmap(find(objects, "ConfigMap", CONFIGMAP, NAMESPACE), plan)
    _patch_daemonset(find(objects, "DaemonSet", DAEMONSET, NAMESPACE), plan, conf_text)
    return finish(objects, plan)


def node_annotations(plan: dict) -> dict[str, dict[str, str]]:
    """node -> the public-ip annotations flanneld reads at start (which also pick its interface)."""
    pod = plan["cluster"]["pod_cidr"]
    result = {}
    for node, data in sorted((plan.get("nodes") or {}).items()):
        iface = data.get("iface") or {}
        annotations = {}
        if pod.get("ipv4") and iface.get("ipv4"):
            annotations[ANNOTATION_V4] = iface["ipv4"]
        if pod.get("ipv6") and iface.get("ipv6"):
            annotations[ANNOTATION_V6] = iface["ipv6"]
        if annotations:
            result[node] = annotations
    return result


def annotation_changes(plan: dict, node_names: dict[str, str], live_nodes: list[dict]) -> list[dict]:
    """The Node patches a run owes (api mode): one per node whose public-ip annotations differ from the
    plan, each ``{host, node, annotations, patch}`` (``patch``: the Node merge patch that sets them).
    A flanneld already running on such a node (a NIC change,
    or a node that joined and got its flannel pod before this run annotated it) holds another address
    and must be restarted; on day 0 the annotations come before flannel's pods."""
    live = {n["metadata"]["name"]: n["metadata"].get("annotations") or {} for n in live_nodes}
    changes = []
    for host, wanted in node_annotations(plan).items():
        node = node_names[host]
        have = live.get(node, {})
        if any(have.get(k) != v for k, v in wanted.items()):
            changes.append({"host": host, "node": node, "annotations": wanted,
                            "patch": {"apiVersion": "v1", "kind": "Node",
                                      "metadata": {"name": node, "annotations": wanted}}})
    return changes


def artifacts(plan: dict, files: dict[str, str]) -> list[Artifact]:
    """With ``flannel.annotate_nodes``: one Node patch per node (merge them, never replace the Node)."""
    if not plan["flannel"].get("annotate_nodes"):
        return []
    comment = ("Patch for an existing Node (merge, e.g. server-side apply or kubectl patch); do not apply it\n"
               "as a whole object. flanneld reads these annotations when it starts.")
    return [Artifact(path=f"node-annotations/{node}.yaml", kind="patch", comment=comment, validate=True,
                     content={"apiVersion": "v1", "kind": "Node",
                              "metadata": {"name": node, "annotations": annotations}})
            for node, annotations in node_annotations(plan).items()]
