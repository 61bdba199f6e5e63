"""Address math of the plan: examples, then properties checked against brute force on small prefixes."""

from __future__ import annotations

import itertools

import netaddr
import pytest
from ansible_collections.onprem.k8snet.plugins.module_utils.addr import (
    AddrError,
    Span,
    SpanIndex,
    network_span,
    overlapping_pairs,
    parse_network,
    parse_port_range,
    parse_range_entry,
)
from ansible_collections.onprem.k8snet.plugins.module_utils.checks.ports import merge_reserved as _merge_reserved
from hypothesis import given, settings
from hypothesis import strategies as st

# A small IPv4 world (10.0.0.0/26) so that brute force over every address is cheap.
BASE = int(netaddr.IPAddress("10.0.0.0"))
WORLD = 64


@st.composite
def small_networks(draw):
    prefix = draw(st.integers(min_value=26, max_value=32))
    size = 2 ** (32 - prefix)
    start = draw(st.integers(min_value=0, max_value=WORLD // size - 1)) * size
    return netaddr.IPNetwork(f"{netaddr.IPAddress(BASE + start)}/{prefix}")


@st.composite
def small_ranges(draw):
    a = draw(st.integers(min_value=0, max_value=WORLD - 1))
    b = draw(st.integers(min_value=a, max_value=WORLD - 1))
    return f"{netaddr.IPAddress(BASE + a)}-{netaddr.IPAddress(BASE + b)}"


entries = st.one_of(small_networks().map(str), small_ranges())


def addresses_of(text: str) -> set[int]:
    """Reference: enumerate every address the entry denotes."""
    if "/" in text:
        return {int(ip) for ip in netaddr.IPNetwork(text)}
    first, last = text.split("-")
    return {int(ip) for ip in netaddr.IPRange(first, last)}


@settings(max_examples=300)
@given(entries, entries)
def test_overlap_and_containment_match_brute_force(a, b):
    sa, sb = parse_range_entry(a), parse_range_entry(b)
    xa, xb = addresses_of(a), addresses_of(b)
    assert sa.overlaps(sb) == bool(xa & xb)
    assert sa.contains(sb) == (xb <= xa)
    assert sa.size == len(xa)


@settings(max_examples=200)
@given(st.lists(entries, min_size=1, max_size=6))
def test_overlapping_pairs_match_brute_force(texts):
    spans = [(parse_range_entry(t), i) for i, t in enumerate(texts)]
    found = {frozenset((a[1], b[1])) for a, b in overlapping_pairs(spans)}
    expected = {frozenset((i, j)) for i, j in itertools.combinations(range(len(texts)), 2)
                if addresses_of(texts[i]) & addresses_of(texts[j])}
    assert found == expected


@settings(max_examples=200)
@given(st.lists(entries, min_size=1, max_size=6), st.integers(min_value=0, max_value=WORLD - 1))
def test_span_index_finds_the_holder(texts, offset):
    clean: list[tuple[Span, int]] = []
    for i, t in enumerate(texts):
        span = parse_range_entry(t)
        if not any(span.overlaps(s) for s, _ in clean):
            clean.append((span, i))
    index = SpanIndex(clean)
    holders = [i for s, i in clean if BASE + offset in addresses_of(texts[i])]
    assert index.find(BASE + offset, 4) == (holders[0] if holders else None)


@settings(max_examples=200)
@given(st.integers(min_value=0, max_value=WORLD - 1), st.integers(min_value=24, max_value=32))
def test_host_bits_are_refused_with_the_canonical_network(offset, prefix):
    text = f"{netaddr.IPAddress(BASE + offset)}/{prefix}"
    canonical = netaddr.IPNetwork(text).cidr
    if str(canonical) == text:
        assert network_span(parse_network(text)).size == canonical.size
    else:
        with pytest.raises(AddrError) as exc:
            parse_network(text)
        assert f"use {canonical}" == exc.value.fix


@settings(max_examples=300)
@given(st.integers(min_value=-5, max_value=70000), st.integers(min_value=-5, max_value=70000))
def test_port_range_parsing_matches_reference(a, b):
    valid = 1 <= a <= b <= 65535
    if valid:
        assert parse_port_range(f"{a}-{b}") == (a, b)
    else:
        with pytest.raises(AddrError):
            parse_port_range(f"{a}-{b}")


@settings(max_examples=200)
@given(st.lists(st.tuples(st.integers(1, 200), st.integers(0, 30)), max_size=5),
       st.tuples(st.integers(1, 200), st.integers(0, 30)))
def test_reserved_ports_merge_is_the_union(current, nodeport):
    ranges = [(s, min(s + n, 65535)) for s, n in current]
    text = ",".join(f"{s}-{e}" for s, e in ranges)
    np_range = (nodeport[0], nodeport[0] + nodeport[1])
    merged = _merge_reserved(text, np_range)
    expected = set().union(*(range(s, e + 1) for s, e in [*ranges, np_range]))
    got = set()
    for part in merged.split(","):
        s, _, e = part.partition("-")
        got |= set(range(int(s), int(e or s) + 1))
    assert got == expected
    # Canonical: sorted, non-adjacent, non-overlapping pieces.
    bounds = [tuple(int(x) for x in (p.split("-") * 2)[:2]) for p in merged.split(",")]
    assert all(b[0] > a[1] + 1 for a, b in itertools.pairwise(bounds))


@pytest.mark.parametrize(("text", "first", "last"), [
    ("fd00::10-fd00::1f", "fd00::10", "fd00::1f"),
    ("192.168.1.0/30", "192.168.1.0", "192.168.1.3"),
    (" 10.0.0.1 - 10.0.0.2 ", "10.0.0.1", "10.0.0.2"),
])
def test_range_entry_examples(text, first, last):
    span = parse_range_entry(text)
    assert (span.first_ip(), span.last_ip()) == (first, last)
