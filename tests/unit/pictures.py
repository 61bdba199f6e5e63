"""Reading a network picture back (plugins/module_utils/picture.py), without its code: what does it name?

``svg_boxes`` (network.svg, parsed as XML) and ``mermaid_boxes`` (the Mermaid flowchart) give
{box id: [its lines, the title first]}. ``expand`` reads a run back (first RANGE last: node names,
addresses, networks) with the width rule compact_names documents. ``problems(plan, boxes)`` lists what the
picture fails to show: a node named by no node box or by two, a box whose count is not the number
of nodes it names, a named node the plan does not have, a node box without the node's NIC, MTU or
chosen address, a pool without its name or one of its address entries. An empty list is a picture
that names every node, every chosen address and every pool.
"""

from __future__ import annotations

import html
import ipaddress
import re
import xml.etree.ElementTree as ET

RANGE = "\u2013"
SVG = "{http://www.w3.org/2000/svg}"
_NUMBERED = re.compile(r"^(.*?)(\d+)(\D*)$")


def svg_boxes(svg: str) -> dict[str, list[str]]:
    root = ET.fromstring(svg.encode())
    boxes = {}
    for group in root.iter(f"{SVG}g"):
        if group.get("class") == "node":
            boxes[group.find(f"{SVG}title").text] = ["".join(t.itertext()) for t in group.iter(f"{SVG}text")]
    return boxes


def mermaid_boxes(text: str) -> dict[str, list[str]]:
    boxes = {}
    for line in text.splitlines():
        found = re.match(r'^\s*(\w+)\(?\["(.*)"\]\)?\s*$', line)
        if found:
            label = found.group(2).replace("<b>", "").replace("</b>", "")
            label = re.sub(r"#(\d+);", r"&#\1;", re.sub(r"#([a-z]+);", r"&\1;", label))
            boxes[found.group(1)] = [html.unescape(part) for part in label.split("<br/>")]
    return boxes


def expand(item: str) -> list[str]:
    """The items a listing entry stands for: itself, or every item of the run from first to last."""
    if RANGE not in item:
        return [item]
    first, last = item.split(RANGE)
    if "/" in first:
        a, b = ipaddress.ip_network(first), ipaddress.ip_network(last)
        return [str(ipaddress.ip_network((int(a.network_address) + k * a.num_addresses, a.prefixlen)))
                for k in range((int(b.network_address) - int(a.network_address)) // a.num_addresses + 1)]
    try:
        a, b = ipaddress.ip_address(first), ipaddress.ip_address(last)
        return [str(ipaddress.ip_address(n)) for n in range(int(a), int(b) + 1)]
    except ValueError:
        pass
    (p1, d1, s1), (p2, d2, s2) = _NUMBERED.match(first).groups(), _NUMBERED.match(last).groups()
    assert (p1, s1) == (p2, s2), item
    width = len(d1) if len(d1) == len(d2) else 0
    return [f"{p1}{n:0{width}d}{s1}" for n in range(int(d1), int(d2) + 1)]


def _listing(text: str) -> list[str]:
    return [name for part in text.split(",") if part.strip() for name in expand(part.strip())]


def box_names(lines: list[str]) -> tuple[list[str], int]:
    """(the nodes a node box names, the count it says), from a title "node1 (control plane)", "<listing> (4)",
    or "N nodes" over listing lines."""
    title = lines[0]
    if found := re.match(r"^(\d+) nodes$", title):
        names = []
        for line in lines[1:]:
            if not all(part.strip() and " " not in part.strip() for part in line.split(",") if part.strip()):
                break
            names += _listing(line)
        return names, int(found.group(1))
    if found := re.match(r"^(.*) \((\d+)\)$", title):
        return _listing(found.group(1)), int(found.group(2))
    return [title.removesuffix(" (control plane)")], 1


def addresses_in(lines: list[str]) -> set[str]:
    """Every address a box names: alone, with a prefix, or inside a run."""
    found = set()
    for token in (t.strip(",()") for line in lines for t in line.split()):
        for item in expand(token) if RANGE in token else [token]:
            try:
                found.add(str(ipaddress.ip_interface(item).ip))
            except ValueError:
                continue
    return found


def problems(plan: dict, boxes: dict[str, list[str]]) -> list[str]:
    found = []
    named: dict[str, list[str]] = {}
    for box_id, lines in boxes.items():
        if not box_id.startswith("nodes"):
            continue
        names, count = box_names(lines)
        if count != len(names):
            found.append(f"{box_id} says {count} nodes and names {len(names)}")
        for name in names:
            named.setdefault(name, []).append(box_id)
    for name in sorted(set(named) - set(plan["nodes"])):
        found.append(f"{name} is named but is no node of the plan")
    for host, node in plan["nodes"].items():
        where = named.get(host, [])
        if len(where) != 1:
            found.append(f"{host} is named by {len(where)} node boxes")
            continue
        lines = boxes[where[0]]
        iface = node["iface"]
        words = {w.strip(",") for line in lines for w in line.split()}
        if iface["name"] not in words or f"MTU {iface['mtu']}" not in " ".join(lines):
            found.append(f"{host}: its box does not name {iface['name']} with MTU {iface['mtu']}")
        for address in (iface["ipv4"], iface["ipv6"]):
            if address and address not in addresses_in(lines):
                found.append(f"{host}: its box does not name its address {address}")
    for pool in plan["metallb"]["pools"] if plan["metallb"]["enabled"] else ():
        box = [lines for lines in boxes.values() if f"pool {pool['name']} " in lines[0]]
        if len(box) != 1:
            found.append(f"pool {pool['name']} has {len(box)} boxes")
        elif missing := [a for a in pool["addresses"] if not any(a in line for line in box[0])]:
            found.append(f"pool {pool['name']}: its box does not name {missing}")
    return found
