"""Existing workloads exposed as NodePort or LoadBalancer Services (``k8s_exposed_services``).

``check_exposed_services`` validates the inventory list and returns it normalized (defaults
filled in); ``live_nodeport_conflicts`` and ``resolve_selectors`` add what only the cluster
knows (api mode); ``build_service`` turns one normalized entry into the Service object.

A normalized entry::

    {name, namespace, type: nodeport|loadbalancer, selector: dict|None, target: str|None,
     ports: [{name: str|None, port, protocol: TCP|UDP|SCTP, target_port: int|str, node_port: int|None}],
     lb_ip: str|None, external_traffic_policy: Cluster|Local}

The names follow what the API server accepts: a Service name is a DNS-1035 label, a namespace
and a Service port name DNS-1123 labels, a named target port an IANA service name (it names a
container port). A fixed NodePort is unique per protocol: 30053/UDP and 30053/TCP may coexist.
"""

from __future__ import annotations

import re

from .addr import AddrError, Span, address_span, parse_address
from .kube import (
    COMPONENT_LABEL,
    DNS1035_LABEL,
    DNS1123_LABEL,
    DNS1123_SUBDOMAIN,
    IANA_SVC_NAME,
    LABEL_NAME,
    LB_IPS_ANNOTATION,
    MANAGED_BY,
    MANAGED_BY_VALUE,
)
from .problems import Problems, names

VARIABLE = "k8s_exposed_services"
COMPONENT = "exposed_services"  # the add-on component (kube.COMPONENT_LABEL)
COMPONENT_NAME = "exposed-service"  # app.kubernetes.io/component of the Services

TYPES = {"nodeport": "NodePort", "loadbalancer": "LoadBalancer"}
PROTOCOLS = ("TCP", "UDP", "SCTP")
POLICIES = ("Cluster", "Local")
ENTRY_KEYS = ("name", "namespace", "type", "selector", "target", "ports", "lb_ip", "external_traffic_policy")
PORT_KEYS = ("name", "port", "protocol", "target_port", "node_port")



def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_port(value: object) -> bool:
    return _is_int(value) and 1 <= value <= 65535


def is_iana_svc_name(value: object) -> bool:
    """A container port name: at most 15 of a-z, 0-9 and inner single '-', with at least one letter."""
    return (isinstance(value, str) and bool(IANA_SVC_NAME.match(value)) and "--" not in value
            and any(c.isalpha() for c in value))


def is_label_key(key: object) -> bool:
    if not isinstance(key, str):
        return False
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not DNS1123_SUBDOMAIN.match(prefix)):
        return False
    return bool(LABEL_NAME.match(name))


def _key_path(where: str, key: object) -> str:
    return f"{where}.{key}" if isinstance(key, str) and re.match(r"^[\w-]+$", key) else f'{where}["{key}"]'


class _Checker:
    """One pass over the list; node ports and addresses seen so far are remembered to name both sides."""

    def __init__(self, *, nodeport_range, metallb_enabled, pool_spans, reserved_nodeports, used_lb_ips,
                 apply_mode):
        self.problems = Problems()
        self.nodeport_range = nodeport_range
        self.metallb_enabled = metallb_enabled
        self.pool_spans = pool_spans
        self.apply_mode = apply_mode
        self.reserved = {(str(proto).upper(), port): owner for (proto, port), owner in reserved_nodeports.items()}
        self.lb_ips = {_canonical(a) or a: owner for a, owner in used_lb_ips.items()}
        self.node_ports: dict[int, tuple[str, set[str], str]] = {}    # number -> (Service, protocols, where)
        self.services: dict[tuple[str, str], int] = {}

    def run(self, value: object) -> list[dict]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.problems.error(VARIABLE, value, "is not a list",
                                "give a list of {name, namespace, type, selector, ports}")
            return []
        entries = []
        for i, raw in enumerate(value):
            where = f"{VARIABLE}[{i}]"
            if not isinstance(raw, dict):
                self.problems.error(where, raw, "is not a mapping",
                                    "write {name: ..., namespace: ..., type: nodeport, selector: {...}, ports: [...]}")
                continue
            entries.append(self.entry(i, raw))
        return entries

    def entry(self, i: int, raw: dict) -> dict:
        where = f"{VARIABLE}[{i}]"
        for key in sorted(set(raw) - set(ENTRY_KEYS), key=str):
            self.problems.warning(f"{where}.{key}", raw[key], "is not a setting of an exposed Service",
                                  f"remove it (known: {', '.join(ENTRY_KEYS)})")
        name, namespace = self.identity(i, raw)
        kind = self.service_type(where, raw.get("type"))
        entry = {"name": name, "namespace": namespace, "type": kind}
        entry["selector"], entry["target"] = self.selection(where, raw, name)
        entry["ports"] = self.ports(where, raw.get("ports"), f"{namespace}/{name}")
        entry["lb_ip"] = self.lb_ip(where, raw.get("lb_ip"), kind)
        entry["external_traffic_policy"] = self.policy(where, raw.get("external_traffic_policy", "Cluster"))
        return entry

    # ------------------------------------------------------------ identity and type
    def identity(self, i: int, raw: dict) -> tuple[object, object]:
        where = f"{VARIABLE}[{i}]"
        name, namespace = raw.get("name"), raw.get("namespace", "default")
        if not isinstance(name, str) or not DNS1035_LABEL.match(name):
            self.problems.error(f"{where}.name", name, "is not a valid Service name (a DNS-1035 label)",
                                "use at most 63 lower-case letters, digits and '-', starting with a letter")
        if not isinstance(namespace, str) or not DNS1123_LABEL.match(namespace):
            self.problems.error(f"{where}.namespace", namespace, "is not a namespace name (a DNS-1123 label)",
                                "use at most 63 lower-case letters, digits and '-', e.g. kube-system")
        key = (namespace, name)
        if isinstance(name, str) and isinstance(namespace, str):
            if key in self.services:
                self.problems.error(f"{where}.name", name, f"is also {VARIABLE}[{self.services[key]}] in "
                                    f"namespace {namespace}", "give every Service of a namespace its own name")
            else:
                self.services[key] = i
        return name, namespace

    def service_type(self, where: str, value: object) -> object:
        kind = value.lower() if isinstance(value, str) else value
        if kind not in TYPES:
            self.problems.error(f"{where}.type", value, "is not a Service type of this project",
                                "use nodeport or loadbalancer")
        elif kind == "loadbalancer" and not self.metallb_enabled:
            self.problems.error(f"{where}.type", value, "needs MetalLB to give the Service an address, and "
                                "metallb_enabled is false (the Service would stay <pending>)",
                                "set metallb_enabled: true with a pool in metallb_pools, or use type: nodeport")
        return kind

    # ------------------------------------------------------------ selector or target
    def selection(self, where: str, raw: dict, name: object) -> tuple[dict | None, str | None]:
        has_selector, has_target = raw.get("selector") is not None, raw.get("target") is not None
        if has_selector == has_target:
            given = "both selector and target" if has_selector else "neither selector nor target"
            self.problems.error(where, given, "an exposed Service needs exactly one of selector (labels of "
                                "the pods) and target (an existing Service to copy the selector from)",
                                "give selector: {app: web}" + (" or target: <service>" if self.apply_mode == "api"
                                                                 else ""))
            return (self.selector(where, raw["selector"]) if has_selector else None), None
        if has_selector:
            return self.selector(where, raw["selector"]), None
        return None, self.target(where, raw["target"], name)

    def selector(self, where: str, value: object) -> dict | None:
        where = f"{where}.selector"
        if not isinstance(value, dict) or not value:
            self.problems.error(where, value, "is not a non-empty mapping of pod labels",
                                "e.g. selector: {k8s-app: kube-dns} (kubectl get pods --show-labels)")
            return None
        for key, label in value.items():
            if not is_label_key(key):
                self.problems.error(_key_path(where, key), key, "is not a label key",
                                    "use [prefix/]name, the name at most 63 of letters, digits, '-', '_', '.'")
            elif not isinstance(label, str):
                self.problems.error(_key_path(where, key), label, "is not a string; label values are strings",
                                    f'quote it: {key}: "{str(label).lower() if isinstance(label, bool) else label}"')
            elif label and not LABEL_NAME.match(label):
                self.problems.error(_key_path(where, key), label, "is not a label value",
                                    "use at most 63 of letters, digits, '-', '_', '.', starting and ending "
                                    "with a letter or digit")
        return dict(value)

    def target(self, where: str, value: object, name: object) -> str | None:
        where = f"{where}.target"
        if self.apply_mode != "api":
            self.problems.error(where, value, f"reads the target Service from the cluster, which k8s_apply "
                                f"{self.apply_mode} does not talk to",
                                "use selector: with the target's labels (kubectl -n <namespace> get service "
                                f"{value} -o jsonpath='{{.spec.selector}}')")
        elif not isinstance(value, str) or not DNS1035_LABEL.match(value):
            self.problems.error(where, value, "is not a Service name", "name an existing Service of the namespace")
        elif value == name:
            self.problems.error(where, value, "is the Service itself", "name the Service whose pods to expose")
        return value if isinstance(value, str) else None

    # ------------------------------------------------------------ ports
    def ports(self, where: str, value: object, service: str) -> list[dict]:
        where = f"{where}.ports"
        if not isinstance(value, list) or not value:
            self.problems.error(where, value, "is empty or not a list",
                                "list the ports, e.g. [{name: dns, port: 53, protocol: UDP}]")
            return []
        ports = []
        names: dict[str, int] = {}
        numbers: dict[tuple[object, str], int] = {}
        for j, raw in enumerate(value):
            at = f"{where}[{j}]"
            if not isinstance(raw, dict):
                self.problems.error(at, raw, "is not a mapping", "write {name: http, port: 80}")
                continue
            port = self.port(at, raw, named=len(value) > 1)
            self.unique(at, port, j, names, numbers)
            self.node_port(at, port, service)
            ports.append(port)
        return ports

    def port(self, at: str, raw: dict, *, named: bool) -> dict:
        for key in sorted(set(raw) - set(PORT_KEYS), key=str):
            self.problems.warning(f"{at}.{key}", raw[key], "is not a port setting",
                                  f"remove it (known: {', '.join(PORT_KEYS)})")
        number, protocol = raw.get("port"), raw.get("protocol", "TCP")
        if not _is_port(number):
            self.problems.error(f"{at}.port", number, "is not a port number 1..65535", "e.g. 53")
        protocol = protocol.upper() if isinstance(protocol, str) else protocol
        if protocol not in PROTOCOLS:
            self.problems.error(f"{at}.protocol", raw.get("protocol"), "is not a protocol of Services",
                                f"use one of {', '.join(PROTOCOLS)}")
        target = raw.get("target_port", number)
        if "target_port" in raw and not (_is_port(target) or is_iana_svc_name(target)):
            self.problems.error(f"{at}.target_port", target, "is neither a port number 1..65535 nor a container "
                                "port name", "give the container's port number, or its port name (at most 15 "
                                "lower-case letters, digits and '-', with a letter)")
        name = raw.get("name")
        if name is None and named:
            self.problems.error(f"{at}.name", None, "is required when a Service has several ports",
                                "name every port, e.g. dns and dns-tcp")
        elif name is not None and (not isinstance(name, str) or not DNS1123_LABEL.match(name)):
            self.problems.error(f"{at}.name", name, "is not a port name (a DNS-1123 label)",
                                "use at most 63 lower-case letters, digits and '-'")
        node_port = raw.get("node_port")
        if node_port is not None and not _is_int(node_port):
            self.problems.error(f"{at}.node_port", node_port, "is not a port number", "e.g. 30053, or leave it unset")
            node_port = None
        return {"name": name, "port": number, "protocol": protocol, "target_port": target, "node_port": node_port}

    def unique(self, at: str, port: dict, j: int, names: dict, numbers: dict) -> None:
        name = port["name"]
        if isinstance(name, str):
            if name in names:
                self.problems.error(f"{at}.name", name, f"is also the name of ports[{names[name]}] of this Service",
                                    "give every port its own name")
            names.setdefault(name, j)
        key = (port["port"], port["protocol"])
        if _is_port(port["port"]) and port["protocol"] in PROTOCOLS:
            if key in numbers:
                self.problems.error(f"{at}.port", port["port"], f"{key[0]}/{key[1]} is also ports[{numbers[key]}] "
                                    "of this Service", "list each port and protocol once")
            numbers.setdefault(key, j)

    def node_port(self, at: str, port: dict, service: str) -> None:
        value, protocol = port["node_port"], port["protocol"]
        if value is None:
            return
        where = f"{at}.node_port"
        if not _is_port(value):
            self.problems.error(where, value, "is not a port number 1..65535", "pick a port inside k8s_nodeport_range")
            return
        if self.nodeport_range and not self.nodeport_range[0] <= value <= self.nodeport_range[1]:
            low, high = self.nodeport_range
            self.problems.error(where, value, f"is outside k8s_nodeport_range {low}-{high}",
                                "pick a port inside the NodePort range, or leave it unset for any free one")
            return
        if protocol not in PROTOCOLS:
            return
        # The API allocates a NodePort number to one Service, whatever the protocol: one Service may use it
        # for TCP and UDP (DNS), two Services never, not even one on TCP and the other on UDP.
        reserved = next((owner for (_, number), owner in self.reserved.items() if number == value), None)
        other = self.node_ports.get(value)
        if reserved is not None:
            self.problems.error(where, value, f"{value} is already {reserved}", "pick another NodePort")
        elif other is not None and (other[0] != service or protocol in other[1]):
            why = f"{value}/{protocol} is also {other[2]}" if other[0] == service else \
                f"{value} is also {other[2]}: the API gives a NodePort number to one Service, whatever the protocol"
            self.problems.error(where, value, why, "give every Service its own NodePorts (one Service may use a "
                                "number for TCP and UDP)")
        elif other is not None:
            other[1].add(protocol)
        else:
            self.node_ports[value] = (service, {protocol}, f"{where} ({service})")

    # ------------------------------------------------------------ address and policy
    def lb_ip(self, where: str, value: object, kind: object) -> str | None:
        if value is None:
            return None
        where = f"{where}.lb_ip"
        try:
            address = address_span(parse_address(value))
        except AddrError as exc:
            self.problems.error(where, value, exc.why, exc.fix)
            return None
        if kind != "loadbalancer":
            self.problems.error(where, value, "is only used by type: loadbalancer",
                                "remove it, or use type: loadbalancer")
        elif self.metallb_enabled:
            self.in_pool(where, value, address)
        text = address.label
        if text in self.lb_ips:
            self.problems.error(where, value, f"is also {self.lb_ips[text]}", "give every Service its own address")
        else:
            self.lb_ips[text] = where
        return text

    def in_pool(self, where: str, value: object, address: Span) -> None:
        if any(span.contains(address) for span, _ in self.pool_spans):
            return
        pools = [f"{label} {span.text}" for span, label in self.pool_spans]
        why = f"is not inside any MetalLB pool ({names(pools)})" if pools else "is not inside a MetalLB pool " \
            "(metallb_pools is empty)"
        self.problems.error(where, value, why, "pick an address from a pool in metallb_pools (or add it to one)")

    def policy(self, where: str, value: object) -> object:
        canonical = value.capitalize() if isinstance(value, str) else value
        if canonical not in POLICIES:
            self.problems.error(f"{where}.external_traffic_policy", value, "is not Cluster or Local",
                                "use Cluster (any node forwards) or Local (keeps the client address)")
        return canonical


def _canonical(address: object) -> str | None:
    try:
        return address_span(parse_address(address)).label
    except AddrError:
        return None


def check_exposed_services(value: object, *, nodeport_range: tuple[int, int] | None, metallb_enabled: bool,
                           pool_spans: list[tuple[Span, str]], reserved_nodeports: dict[tuple[str, int], str],
                           used_lb_ips: dict[str, str], apply_mode: str) -> tuple[list[dict], Problems]:
    """The normalized entries of ``k8s_exposed_services`` and every problem with them.

    ``pool_spans``: (span, "metallb_pools[i].addresses[j]") of every pool entry;
    ``reserved_nodeports``: (protocol, nodePort) -> owner variable, e.g. ("TCP", 30080): "ingress_http_nodeport";
    ``used_lb_ips``: address -> owner variable, e.g. {"192.168.56.240": "ingress_lb_ip"}.
    Entries that are not mappings are left out of the result (they are errors).
    """
    checker = _Checker(nodeport_range=nodeport_range, metallb_enabled=metallb_enabled, pool_spans=pool_spans,
                       reserved_nodeports=reserved_nodeports, used_lb_ips=used_lb_ips, apply_mode=apply_mode)
    entries = checker.run(value)
    return entries, checker.problems


# ---------------------------------------------------------------- api mode: what the cluster holds


def _ns_name(obj: dict) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return meta.get("namespace") or "default", meta.get("name") or ""


def live_nodeport_conflicts(entries: list[dict], live_services: list[dict]) -> Problems:
    """Fixed NodePorts already held by another Service of the cluster.

    ``entries`` as ``check_exposed_services`` returned them for a valid list (so position i is
    ``k8s_exposed_services[i]``); ``live_services`` as kubernetes.core.k8s_info lists them. The Service
    an entry manages itself (same namespace and name) is not a conflict: applying replaces its ports.
    """
    held: dict[int, tuple[str, str]] = {}                # number -> (Service, protocol): one Service per number
    for svc in live_services:
        for port in (svc.get("spec") or {}).get("ports") or []:
            if port.get("nodePort"):
                namespace, name = _ns_name(svc)
                held.setdefault(port["nodePort"], (f"{namespace}/{name}", port.get("protocol") or "TCP"))
    problems = Problems()
    for i, entry in enumerate(entries):
        own = f"{entry['namespace']}/{entry['name']}"
        for j, port in enumerate(entry["ports"]):
            holder, protocol = held.get(port["node_port"], (None, None))
            if port["node_port"] is not None and holder is not None and holder != own:
                problems.error(f"{VARIABLE}[{i}].ports[{j}].node_port", port["node_port"],
                               f"{port['node_port']} is already held by Service {holder} ({port['node_port']}/"
                               f"{protocol}) in the cluster; the API gives a NodePort number to one Service, "
                               "whatever the protocol", "pick another NodePort, or free it in that Service first")
    return problems


def resolve_selectors(entries: list[dict], live_services: list[dict]) -> tuple[list[dict | None], Problems]:
    """The pod selector of every entry: its own, or (``target``) the live target Service's ``spec.selector``."""
    by_name = {_ns_name(svc): svc for svc in live_services}
    selectors: list[dict | None] = []
    problems = Problems()
    for i, entry in enumerate(entries):
        if entry.get("selector") or not entry.get("target"):
            selectors.append(entry.get("selector"))
            continue
        where, wanted = f"{VARIABLE}[{i}].target", (entry["namespace"], entry["target"])
        selector = ((by_name.get(wanted) or {}).get("spec") or {}).get("selector")
        if wanted not in by_name:
            problems.error(where, entry["target"], f"is not a Service in namespace {entry['namespace']}",
                           f"name an existing Service (kubectl -n {entry['namespace']} get services)")
        elif not selector:
            problems.error(where, entry["target"], "has no pod selector to copy (its endpoints are managed "
                           "by hand or it is an ExternalName Service)", "give selector: with the pods' labels")
        selectors.append(dict(selector) if selector else None)
    return selectors, problems


# ---------------------------------------------------------------- the object


def _service_port(port: dict) -> dict:
    out = {"name": port["name"]} if port.get("name") else {}
    out.update(protocol=port["protocol"], port=port["port"], targetPort=port["target_port"])
    if port.get("node_port") is not None:
        out["nodePort"] = port["node_port"]
    return out


def build_service(entry: dict, selector: dict | None = None) -> dict:
    """The v1 Service of one normalized entry; ``selector`` is the target's (api mode) when the entry has none."""
    chosen = entry.get("selector") or selector
    if not chosen:
        raise ValueError(f"{entry['namespace']}/{entry['name']}: no selector; resolve the target first "
                         "(resolve_selectors) and pass its selector")
    metadata = {"name": entry["name"], "namespace": entry["namespace"],
                "labels": {MANAGED_BY: MANAGED_BY_VALUE, "app.kubernetes.io/component": COMPONENT_NAME,
                           COMPONENT_LABEL: COMPONENT}}
    if entry["type"] == "loadbalancer" and entry.get("lb_ip"):
        # spec.loadBalancerIP is deprecated since Kubernetes 1.24; MetalLB reads this annotation.
        metadata["annotations"] = {LB_IPS_ANNOTATION: entry["lb_ip"]}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata,
        "spec": {
            "type": TYPES[entry["type"]],
            "selector": dict(chosen),
            "ports": [_service_port(p) for p in entry["ports"]],
            "externalTrafficPolicy": entry.get("external_traffic_policy") or "Cluster",
        },
    }
