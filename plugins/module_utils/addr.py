"""Address parsing and interval arithmetic for the network plan, on top of netaddr.

Everything the plan compares (CIDRs, pool ranges, node subnets, single
addresses) becomes a :class:`Span`: the first and last address as netaddr
gives them, plus the family. Overlap and containment are then comparisons of
those bounds, which keeps 5,000-node plans linear.
"""

from __future__ import annotations

import bisect
from typing import NamedTuple

import netaddr


class AddrError(ValueError):
    """A value that is not what it should be; the message says why and how to fix it."""

    def __init__(self, why: str, fix: str):
        super().__init__(why)
        self.why = why
        self.fix = fix


class Span(NamedTuple):
    """An inclusive address interval; ``text`` is how the user (or a CIDR) wrote it."""

    first: int
    last: int
    family: int
    label: str = ""
    prefix: int | None = None

    @property
    def text(self) -> str:
        if self.label:
            return self.label
        if self.prefix is not None:
            return f"{netaddr.IPAddress(self.first, self.family)}/{self.prefix}"
        return f"{self.first_ip()}-{self.last_ip()}"

    @property
    def size(self) -> int:
        return self.last - self.first + 1

    def overlaps(self, other: Span) -> bool:
        return self.family == other.family and self.first <= other.last and other.first <= self.last

    def contains(self, other: Span) -> bool:
        return self.family == other.family and self.first <= other.first and other.last <= self.last

    def first_ip(self) -> str:
        return str(netaddr.IPAddress(self.first, self.family))

    def last_ip(self) -> str:
        return str(netaddr.IPAddress(self.last, self.family))


def family_name(family: int) -> str:
    return "ipv4" if family == 4 else "ipv6"


def parse_address(text: object) -> netaddr.IPAddress:
    if not isinstance(text, str) or not text.strip() or "/" in text:
        raise AddrError("is not an IP address", "give a single IPv4 or IPv6 address, e.g. 192.168.56.240")
    try:
        return netaddr.IPAddress(text.strip())
    except (netaddr.AddrFormatError, ValueError):
        raise AddrError("is not an IP address", "give a single IPv4 or IPv6 address, e.g. 192.168.56.240") from None


def address_span(address: netaddr.IPAddress | str) -> Span:
    ip = netaddr.IPAddress(address)
    return Span(int(ip), int(ip), ip.version, str(ip))


def parse_network(text: object) -> netaddr.IPNetwork:
    """A CIDR network without host bits (``10.244.0.0/16``, ``fd00:10::/56``)."""
    example = "e.g. 10.244.0.0/16 or fd00:10:244::/56"
    if not isinstance(text, str) or "/" not in text:
        raise AddrError("is not a CIDR network", f"write network/prefix, {example}")
    try:
        net = netaddr.IPNetwork(text.strip())
    except (netaddr.AddrFormatError, ValueError):
        raise AddrError("is not a CIDR network", f"write network/prefix, {example}") from None
    if net.ip != net.network:
        raise AddrError(f"has host bits set (the network is {net.cidr})", f"use {net.cidr}")
    return net


def network_span(net: netaddr.IPNetwork) -> Span:
    return Span(net.first, net.last, net.version, str(net.cidr))


def parse_range_entry(text: object) -> Span:
    """One MetalLB pool entry: a CIDR without host bits, or an ``a-b`` range of one family."""
    if not isinstance(text, str) or not text.strip():
        raise AddrError("is not a CIDR or an address range",
                        "write a CIDR (192.168.56.240/28) or a range (192.168.56.240-192.168.56.250)")
    text = text.strip()
    if "/" in text:
        return network_span(parse_network(text))
    if "-" not in text:
        raise AddrError("is not a CIDR or an address range",
                        "write a CIDR (192.168.56.240/28) or a range (192.168.56.240-192.168.56.250)")
    start_text, _, end_text = (part.strip() for part in text.partition("-"))
    try:
        start, end = netaddr.IPAddress(start_text), netaddr.IPAddress(end_text)
    except (netaddr.AddrFormatError, ValueError):
        raise AddrError("is not a valid address range",
                        "write first-last with two addresses, e.g. 192.168.56.240-192.168.56.250") from None
    if start.version != end.version:
        raise AddrError("mixes IPv4 and IPv6", "use one family per entry; add another entry for the other family")
    if start > end:
        raise AddrError("starts after it ends", f"write {end}-{start}")
    return Span(int(start), int(end), start.version, f"{start}-{end}")


def parse_port_range(text: object) -> tuple[int, int]:
    """``a-b`` with 1 <= a <= b <= 65535 (a single port ``a`` is accepted as a-a)."""
    fix = "write first-last, e.g. 30000-32767"
    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)
    if not isinstance(text, str):
        raise AddrError("is not a port range", fix)
    start_text, sep, end_text = text.strip().partition("-")
    if not sep:
        end_text = start_text
    if not (start_text.strip().isdigit() and end_text.strip().isdigit()):
        raise AddrError("is not a port range of two integers", fix)
    start, end = int(start_text), int(end_text)
    if not (1 <= start <= 65535 and 1 <= end <= 65535):
        raise AddrError("has a port outside 1..65535", fix)
    if start > end:
        raise AddrError("starts after it ends", f"write {end}-{start}")
    return start, end


class SpanIndex:
    """Sorted, non-overlapping lookup of labelled spans (per family) for fast point queries.

    The spans given must not overlap each other within a family (pools are
    checked for that first); ``find`` returns the label of the span holding a
    value, or None.
    """

    def __init__(self, spans: list[tuple[Span, object]]):
        self._by_family: dict[int, tuple[list[int], list[tuple[Span, object]]]] = {}
        for family in (4, 6):
            items = sorted((s for s in spans if s[0].family == family), key=lambda s: s[0].first)
            self._by_family[family] = ([s.first for s, _ in items], items)

    def find(self, value: int, family: int) -> object | None:
        firsts, items = self._by_family.get(family, ([], []))
        i = bisect.bisect_right(firsts, value) - 1
        if i >= 0 and items[i][0].last >= value:
            return items[i][1]
        return None


def overlapping_pairs(spans: list[tuple[Span, object]]) -> list[tuple[tuple[Span, object], tuple[Span, object]]]:
    """Every pair of overlapping spans (partial or full), by a sweep over sorted starts."""
    pairs = []
    for family in (4, 6):
        items = sorted((s for s in spans if s[0].family == family), key=lambda s: (s[0].first, s[0].last))
        active: list[tuple[Span, object]] = []
        for item in items:
            active = [a for a in active if a[0].last >= item[0].first]
            pairs.extend((a, item) for a in active)
            active.append(item)
    return pairs
