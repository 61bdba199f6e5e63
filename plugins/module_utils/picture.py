"""A picture of the network: the plan, with what the cluster or the render directory says, as boxes and edges.

``build(plan, objects)`` makes a small graph model (a :class:`Picture` of boxes, each a title and
lines, and labelled edges) from the plan and Kubernetes objects: the live Nodes (their pod subnets)
and Services in api mode, the rendered Services in render mode. ``dot`` writes the model as Graphviz
source (through the ``graphviz`` package's Digraph), ``mermaid`` as a Mermaid flowchart with the same
boxes and edges, for Git hosts, and ``markdown`` as the section ACCESS.md carries. All of that is
pure; ``svg`` runs Graphviz's ``dot`` on the source, and raises :class:`GraphvizMissing`, saying what
to install, where the package or the command is missing (onprem.k8snet.network_picture then writes
the Mermaid block alone).

Left to right: the clients; the ingress address or ports, each MetalLB pool with the LoadBalancer
addresses in use, the NodePorts; the node networks (the chosen NICs' subnets); the nodes, with the
NIC chosen, its address and MTU, the other NICs and why each was skipped, the pod subnet where the
Nodes say it; the pod network. Up to ``EACH_NODE`` nodes get a box each. A larger cluster gets one
box per NIC choice (same NIC name, subnet and MTU) naming its nodes and addresses compactly: runs of
three or more as the first and the last joined by an en dash (``RANGE``), as in "node01-node48 (48)"
(:func:`compact_names`). A node left out splits the run, so the box names every node it stands for and
no other.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import dataclass, field

import netaddr

from .access import lb_addresses
from .addr import address_span, parse_range_entry
from .kube import COMPONENT_LABEL, MANAGED_BY, MANAGED_BY_VALUE, node_names

EACH_NODE = 8           # clusters up to this many nodes show each node; larger ones group them
RANGE = "\u2013"        # en dash between the first and last of a run (host names may hold hyphens)
SHOWN = 12              # entries a box lists before "... and N more"
WIDTH = 56              # characters of one line of a listing
FONT = "Helvetica,Arial,sans-serif"
CONTROLLERS = {"nginx": "F5 NGINX Ingress Controller", "ingress-nginx": "ingress-nginx (community)"}
# Fill and border per kind of box, shared by the DOT and the Mermaid output.
COLOURS = {"clients": ("#ffffff", "#6b7280"), "ingress": ("#fce7f3", "#9d174d"), "pool": ("#fef3c7", "#92400e"),
           "peers": ("#fef3c7", "#92400e"), "other": ("#fef3c7", "#92400e"), "nodeports": ("#ede9fe", "#5b21b6"),
           "network": ("#e5e7eb", "#374151"), "nodes": ("#dbeafe", "#1e3a8a"), "pods": ("#dcfce7", "#166534")}


@dataclass(frozen=True)
class Box:
    id: str
    kind: str                       # a key of COLOURS
    title: str
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class Edge:
    tail: str
    head: str
    label: str = ""


@dataclass
class Picture:
    title: str
    boxes: list[Box] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    def add(self, kind: str, title: str, lines=(), box_id: str | None = None) -> str:
        box = Box(box_id or f"{kind}{sum(b.kind == kind for b in self.boxes) + 1}", kind, title, tuple(lines))
        self.boxes.append(box)
        return box.id

    def link(self, tail: str, head: str, label: str = "") -> None:
        self.edges.append(Edge(tail, head, label))


# ---------------------------------------------------------------- compact listings


_NUMBERED = re.compile(r"^(.*?)(\d+)(\D*)$")


def _runs(items: list, continues) -> list[list]:
    """``items`` (sorted) cut into runs; ``continues(run, item)`` says whether ``item`` extends ``run``."""
    runs: list[list] = []
    for item in items:
        if runs and continues(runs[-1], item):
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def _listed(runs: list[list], text) -> list[str]:
    """Runs of three or more as their first and last item joined by RANGE, shorter ones item by item."""
    out: list[str] = []
    for run in runs:
        out += [f"{text(run[0])}{RANGE}{text(run[-1])}"] if len(run) >= 3 else [text(item) for item in run]
    return out


def _natural(name: str) -> tuple:
    """(prefix, suffix, number, digits, name): node2 sorts before node10, and runs are found on it."""
    match = _NUMBERED.match(name)
    prefix, digits, suffix = match.groups() if match else (name, "", "")
    return prefix, suffix, int(digits) if digits else -1, digits, name


def compact_names(names) -> list[str]:
    """Host names in natural order, runs of three or more consecutive numbers as first RANGE last.

    ["node01", ..., "node48", "web"] gives ["node01-node48", "web"] (with the en dash). A run keeps the
    width of its first number: node9-node12 counts node9, node10, ...; node09-node12 counts node09,
    node10, ... (first and last are then as wide), so a listing reads back one way only.
    """
    parsed = sorted(_natural(name) for name in set(names))

    def continues(run, item):
        first, last = run[0], run[-1]
        same_width = len(item[3]) == len(first[3]) or not (first[3].startswith("0") or item[3].startswith("0"))
        return bool(item[3]) and item[:2] == last[:2] and item[2] == last[2] + 1 and same_width

    return _listed(_runs(parsed, continues), lambda item: item[4])


def compact_addresses(addresses) -> list[str]:
    """Addresses in order, runs of three or more consecutive ones as first RANGE last."""
    ips = sorted({netaddr.IPAddress(a) for a in addresses if a}, key=lambda ip: (ip.version, int(ip)))
    return _listed(_runs(ips, lambda run, ip: ip.version == run[-1].version and int(ip) == int(run[-1]) + 1), str)


def compact_networks(networks) -> list[str]:
    """Networks in order, runs of three or more adjacent ones of one size as first RANGE last."""
    nets = sorted({netaddr.IPNetwork(n) for n in networks if n}, key=lambda n: (n.version, n.prefixlen, n.first))
    return _listed(_runs(nets, lambda run, n: (n.version, n.prefixlen) == (run[-1].version, run[-1].prefixlen)
                         and n.first == run[-1].last + 1), str)


def _wrap(items: list[str], lead: str = "") -> list[str]:
    """``items`` joined by commas into lines of about WIDTH characters, the first one led by ``lead``."""
    lines, line = [], lead
    for item in items:
        piece = item if line in ("", lead) else f", {item}"
        if line not in ("", lead) and len(line) + len(piece) > WIDTH:
            lines.append(line + ",")
            line, piece = "  ", item
        line += piece
    return [*lines, line] if line not in ("", lead) else lines


def _capped(entries: list[str]) -> list[str]:
    return entries[:SHOWN] + ([f"... and {len(entries) - SHOWN} more (ACCESS.md lists them)"]
                              if len(entries) > SHOWN else [])


# ---------------------------------------------------------------- what the objects say


def _who(svc: dict) -> str:
    meta = svc.get("metadata") or {}
    return f"{meta.get('namespace') or 'default'}/{meta.get('name')}"


def _is_ingress(svc: dict) -> bool:
    labels = (svc.get("metadata") or {}).get("labels") or {}
    return labels.get(MANAGED_BY) == MANAGED_BY_VALUE and labels.get(COMPONENT_LABEL) == "ingress"


def _ports(svc: dict) -> str:
    return ", ".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in (svc.get("spec") or {}).get("ports") or [])


def _node_ports(svc: dict) -> list[str]:
    return [f"{p.get('port')}/{p.get('protocol', 'TCP')} \u2192 " + (f":{p['nodePort']}" if p.get("nodePort")
                                                                     else "assigned by the API server")
            for p in (svc.get("spec") or {}).get("ports") or []]


def _services(objects: list[dict], kind: str) -> list[dict]:
    return sorted((o for o in objects if o.get("kind") == "Service" and (o.get("spec") or {}).get("type") == kind),
                  key=_who)


def pod_subnets(plan: dict, objects: list[dict]) -> dict[str, list[str]]:
    """Host -> its Node's podCIDRs, for the hosts a live Node matches (by address, as everywhere)."""
    nodes = [o for o in objects if o.get("kind") == "Node"]
    found, _ = node_names(plan["nodes"], nodes)
    specs = {n["metadata"]["name"]: n.get("spec") or {} for n in nodes}
    subnets = {}
    for host, name in found.items():
        spec = specs[name]
        subnets[host] = spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else [])
    return subnets


# ---------------------------------------------------------------- the model


def _subnet(iface: dict, family: int) -> str | None:
    address = iface.get(f"ipv{family}")
    return str(netaddr.IPNetwork(f"{address}/{iface.get(f'prefix{family}')}").cidr) if address else None


def _choice(node: dict) -> tuple:
    """What nodes must share to share a box: NIC name, its subnets and MTU."""
    iface = node.get("iface") or {}
    return iface.get("name"), _subnet(iface, 4), _subnet(iface, 6), iface.get("mtu")


def _skipped(nodes: list[dict]) -> list[str]:
    """'eth0 NAT', with '(46 of 48)' when not every node of the box skipped it for that reason."""
    counts = Counter(item for n in nodes for item in ((n.get("iface") or {}).get("skipped") or {}).items())
    return [f"{name} {word}" + ("" if count == len(nodes) else f" ({count} of {len(nodes)})")
            for (name, word), count in sorted(counts.items())]


def _pool_of(spans: list[tuple], address: str) -> str | None:
    try:
        point = address_span(address)
    except (netaddr.AddrFormatError, ValueError):
        return None                                             # a hostname
    return next((name for span, name in spans if span.contains(point)), None)


class _Drawing:
    """Builds one Picture: the boxes and edges of each part, left to right."""

    def __init__(self, plan: dict, objects: list[dict]):
        self.plan, self.objects = plan, objects
        cluster, metallb = plan["cluster"], plan["metallb"]
        self.live = cluster["apply"] == "api"
        self.picture = Picture(f"{cluster['inventory_name']}: {len(plan['nodes'])} nodes, {cluster['apply']} mode")
        self.subnets = pod_subnets(plan, objects)
        self.spans = [(parse_range_entry(entry), pool["name"]) for pool in metallb["pools"] if metallb.get("enabled")
                      for entry in pool["addresses"]]
        self.networks: dict[tuple, str] = {}             # (subnet4, subnet6) -> its node network box
        self.pools: dict[str, str] = {}                  # pool name -> its box

    def draw(self) -> Picture:
        self.picture.add("clients", "clients", box_id="clients")
        self.nodes()
        pods = self.pod_network()
        for box in [b for b in self.picture.boxes if b.kind == "nodes"]:
            self.picture.link(box.id, pods)
        self.metallb()
        self.ingress()
        self.nodeports()
        return self.picture

    def nodes(self) -> None:
        """The node networks and node boxes, each box linked from its network by the NIC name."""
        nodes = self.plan["nodes"]
        groups: dict[tuple, list[str]] = {}
        for host in sorted(nodes, key=_natural):
            key = _choice(nodes[host])
            groups.setdefault(key if len(nodes) > EACH_NODE else (*key, host), []).append(host)
        for key, hosts in groups.items():
            name, net4, net6 = key[:3]
            if (net4, net6) not in self.networks:
                count = sum(len(h) for k, h in groups.items() if k[1:3] == (net4, net6))
                title = ("node network " + ", ".join(n for n in (net4, net6) if n)) if net4 or net6 else "no NIC chosen"
                self.networks[net4, net6] = self.picture.add("network", title,
                                                             [f"{count} node{'s' if count > 1 else ''}"])
            self.picture.link(self.networks[net4, net6], self.node_box(hosts), name or "")

    def node_box(self, hosts: list[str]) -> str:
        nodes = [self.plan["nodes"][h] for h in hosts]
        name, net4, net6, mtu = _choice(nodes[0])
        pod_mtu = sorted({n.get("pod_mtu") for n in nodes if n.get("pod_mtu")})
        mtus = f"MTU {mtu}" + (f", pod MTU {'/'.join(map(str, pod_mtu))}" if pod_mtu else "")
        control = [h for h, n in zip(hosts, nodes, strict=True) if n.get("control_plane")]
        known = [s for h in hosts for s in self.subnets.get(h, [])]
        skipped = _wrap(_skipped(nodes), "skipped: ")
        if len(hosts) == 1:
            iface = nodes[0].get("iface") or {}
            title = hosts[0] + (" (control plane)" if control else "")
            lines = [f"{name} {iface[f'ipv{f}']}/{iface[f'prefix{f}']}" for f in (4, 6) if iface.get(f"ipv{f}")]
            return self.picture.add("nodes", title, [*lines, mtus, *_wrap(known, "pods "), *skipped])
        listed = compact_names(hosts)
        title, lines = f"{', '.join(listed)} ({len(hosts)})", []
        if len(title) > WIDTH:                                  # the count alone, the names below it
            title, lines = f"{len(hosts)} nodes", _wrap(listed)
        lines += _wrap(compact_names(control), "control plane: ")
        lines.append(f"{name} on {', '.join(n for n in (net4, net6) if n)} \u00b7 {mtus}")
        lines += _wrap(compact_addresses((n.get("iface") or {}).get(f"ipv{f}") for n in nodes for f in (4, 6)))
        lines += _wrap(compact_networks(known), "pods ")
        return self.picture.add("nodes", title, [*lines, *skipped])

    def pod_network(self) -> str:
        cluster, flannel = self.plan["cluster"], self.plan["flannel"]
        backend = {"vxlan": f"flannel vxlan, VNI {flannel['vni']}, UDP {flannel['port']}",
                   "wireguard": "flannel wireguard, UDP 51820"}.get(flannel["backend"],
                                                                    f"flannel {flannel['backend']}")
        prefixes = " and ".join(f"/{cluster['node_pod_prefix'][f]}" for f, cidr in cluster["pod_cidr"].items() if cidr)
        source = "the Nodes' podCIDR, shown on each" if self.subnets else \
            "given by the cluster (kube-controller-manager)"
        return self.picture.add("pods", "pod network " + ", ".join(c for c in cluster["pod_cidr"].values() if c),
                                [backend, f"a {prefixes} per node: {source}",
                                 "services " + ", ".join(c for c in cluster["service_cidr"].values() if c)],
                                box_id="pods")

    def metallb(self) -> None:
        """A box per MetalLB pool with the LoadBalancer addresses in use, the BGP peers, and the Services whose
        address is not known yet (or in no pool)."""
        metallb = self.plan["metallb"]
        if not metallb.get("enabled"):
            return
        held: dict[str, list[tuple]] = {}
        other: list[str] = []
        for svc in _services(self.objects, "LoadBalancer"):
            addresses = [a for a in lb_addresses(svc) if not a.startswith("<")]
            for address in addresses:
                entry, pool = f"{address} {_who(svc)} ({_ports(svc)})", _pool_of(self.spans, address)
                if pool:
                    point = address_span(address)
                    held.setdefault(pool, []).append((point.family, point.first, entry))
                else:
                    other.append(entry + ", in no pool of the plan")
            if not addresses:
                other.append(f"{_who(svc)}: " + ("pending" if self.live else "an address from MetalLB at install"))
        in_use = "in use:" if self.live else "fixed in the rendered Services:"
        peers = self.picture.add("peers", "BGP peers", [f"{p['address']} AS {p['asn']} (ours AS {p['my_asn']})"
                                                        for p in metallb["bgp_peers"]], box_id="peers") \
            if metallb["bgp_peers"] else None
        for pool in metallb["pools"]:
            size = sum(span.size for span, name in self.spans if name == pool["name"])
            taken = [entry for *_, entry in sorted(held.get(pool["name"], []))]
            lines = [*_wrap(pool["addresses"]), f"{size} addresses" + ("" if pool["auto_assign"] else
                                                                        ", auto-assign off"),
                     *([in_use, *_capped(taken)] if taken else [f"{in_use} none"])]
            box = self.pools[pool["name"]] = self.picture.add(
                "pool", f"MetalLB pool {pool['name']} ({pool['mode'].upper()})", lines)
            self.picture.link("clients", box, "LoadBalancer")
            if pool["mode"] == "bgp" and peers:
                self.picture.link(box, peers, "BGP")
            for net in self.networks.values() if pool["mode"] == "l2" else ():
                self.picture.link(box, net, "L2 (ARP)")
        if other:
            box = self.picture.add("other", "other LoadBalancer Services", _capped(other), box_id="lb_other")
            self.picture.link("clients", box, "LoadBalancer")

    def ingress(self) -> None:
        """The ingress controller: its LoadBalancer address (linked to its pool), NodePorts or host ports."""
        ingress = self.plan["ingress"]
        if not ingress.get("enabled"):
            return
        svc = next((s for s in self.objects if s.get("kind") == "Service" and _is_ingress(s)), None)
        exposure = ingress["exposure"]
        lines = [f"IngressClass nginx{' (default)' if ingress.get('default_class') else ''}, {exposure}"]
        pools: list[str] = []
        if exposure == "loadbalancer":
            found = (lb_addresses(svc) if svc else []) or ([ingress["lb_ip"]] if ingress.get("lb_ip") else [])
            addresses = [a for a in found if not a.startswith("<")]
            ports = _ports(svc) if svc else "80/TCP, 443/TCP"
            lines += [f"LoadBalancer {a} ({ports})" for a in addresses] or [
                f"LoadBalancer ({ports}): " + ("pending" if self.live else "an address from MetalLB at install")]
            pools = [p for p in (_pool_of(self.spans, a) for a in addresses) if p]
        elif exposure == "nodeport":
            planned = [f"{port}/TCP \u2192 " + (f":{number}" if number else "assigned by the API server")
                       for port, number in ((80, ingress.get("http_nodeport")), (443, ingress.get("https_nodeport")))]
            lines += ["NodePort " + p for p in (_node_ports(svc) if svc else planned)] + ["on every node's address"]
        else:
            lines.append(":80 and :443 on every node's address (host network)")
        if self.plan.get("gateway_api", {}).get("enabled"):
            lines.append("Gateway API: NGINX Gateway Fabric, a Service per Gateway")
        box = self.picture.add("ingress", f"ingress: {CONTROLLERS.get(ingress['controller'], ingress['controller'])}",
                               lines, box_id="ingress")
        self.picture.link("clients", box, "HTTP(S)")
        for pool in pools:
            self.picture.link(box, self.pools[pool], "its address")
        for net in self.networks.values() if exposure != "loadbalancer" else ():
            self.picture.link(box, net, "NodePorts" if exposure == "nodeport" else "host network")

    def nodeports(self) -> None:
        """The NodePorts of the Services (the ingress controller's are in its box), open on every node."""
        entries = [f"{_who(svc)} {port}" for svc in _services(self.objects, "NodePort") if not _is_ingress(svc)
                   for port in _node_ports(svc)]
        if not entries:
            return
        ports = self.plan["cluster"]["nodeport_range"]
        box = self.picture.add("nodeports", "NodePorts on every node",
                               [*_capped(entries), f"range {ports['start']}{RANGE}{ports['end']}"], box_id="nodeports")
        self.picture.link("clients", box, "any node's address")
        for net in self.networks.values():
            self.picture.link(box, net)


def build(plan: dict, objects: list[dict] = ()) -> Picture:
    """The picture of ``plan``; ``objects``: the live Nodes and Services (api), or the rendered objects."""
    return _Drawing(plan, list(objects)).draw()


# ---------------------------------------------------------------- output


class GraphvizMissing(Exception):
    """The Python package graphviz or Graphviz's dot command is missing; the message says what to install."""


def _graphviz():
    try:
        import graphviz
    except ImportError:
        raise GraphvizMissing("the Python package graphviz is missing on the controller (pip install -r "
                              "requirements.txt)") from None
    return graphviz


def svg(picture: Picture) -> str:
    """The picture drawn by Graphviz's dot, as SVG text."""
    graphviz = _graphviz()
    try:
        return graphviz.Source(dot(picture)).pipe(format="svg", encoding="utf-8")
    except graphviz.ExecutableNotFound:
        raise GraphvizMissing("Graphviz's dot command is missing on the controller: install the package graphviz "
                              "(apt-get install graphviz, dnf install graphviz)") from None


def dot(picture: Picture) -> str:
    """Graphviz DOT source, built with the Python package graphviz (GraphvizMissing without it)."""
    graph = _graphviz().Digraph("network", graph_attr={
        "rankdir": "LR", "label": picture.title, "labelloc": "t", "fontname": FONT, "fontsize": "14",
        "nodesep": "0.25", "ranksep": "0.7"},
        node_attr={"shape": "box", "style": "rounded,filled", "fontname": FONT, "fontsize": "11"},
        edge_attr={"fontname": FONT, "fontsize": "10", "color": "#6b7280"})
    with graph.subgraph(name="cluster_nodes", graph_attr={"label": "nodes", "style": "dashed",
                                                          "color": "#9ca3af"}) as nodes:
        for box in picture.boxes:
            if box.kind == "nodes":
                _dot_box(nodes, box)
    for box in picture.boxes:
        if box.kind != "nodes":
            _dot_box(graph, box)
    for edge in picture.edges:
        graph.edge(edge.tail, edge.head, label=edge.label or None)
    return graph.source


def _dot_box(graph, box: Box) -> None:
    fill, line = COLOURS[box.kind]
    rows = "".join(f'{html.escape(text, quote=False)}<br align="left"/>' for text in box.lines)
    label = f'<<b>{html.escape(box.title, quote=False)}</b><br align="left"/>{rows}>'
    graph.node(box.id, label=label, fillcolor=fill, color=line,
               **({"shape": "ellipse", "style": "solid"} if box.kind == "clients" else {}))


def _mermaid_text(text: str) -> str:
    for char, code in (("#", "#35;"), ("&", "#amp;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(char, code)
    return text


def mermaid(picture: Picture) -> str:
    """A Mermaid flowchart of the same boxes and edges (GitHub, GitLab and Gitea render it)."""
    out = ["flowchart LR", f"  %% {_mermaid_text(picture.title)}"]

    def box_line(box: Box) -> str:
        label = "<br/>".join([f"<b>{_mermaid_text(box.title)}</b>", *map(_mermaid_text, box.lines)])
        return f'  {box.id}(["{label}"])' if box.kind == "clients" else f'  {box.id}["{label}"]'

    out += [box_line(b) for b in picture.boxes if b.kind != "nodes"]
    out += ['  subgraph cluster_nodes["nodes"]', *("  " + box_line(b) for b in picture.boxes if b.kind == "nodes"),
            "  end"]
    out += [f'  {e.tail} -->|"{_mermaid_text(e.label)}"| {e.head}' if e.label else f"  {e.tail} --> {e.head}"
            for e in picture.edges]
    for kind, (fill, line) in COLOURS.items():
        members = [b.id for b in picture.boxes if b.kind == kind]
        if members:
            out += [f"  classDef {kind} fill:{fill},stroke:{line}", f"  class {','.join(members)} {kind}"]
    return "\n".join(out) + "\n"


def markdown(flowchart: str, note: str) -> str:
    """The section ACCESS.md carries: a heading, ``note`` (where the SVG is, or why it is not), the Mermaid block."""
    return f"\n## The network\n\n{note}\n\n```mermaid\n{flowchart}```\n"
