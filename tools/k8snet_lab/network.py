"""Network plumbing in the root namespace: the bridges, the NAT void, the client, node NICs."""

from __future__ import annotations

import contextlib
import ipaddress
import json
from pathlib import Path

from .constants import BRIDGE, BRIDGE2, CLIENT_ADDR, CLIENT_LINK, LAB_NETS, LINK_PREFIX, NFT_TABLE, NS_CLIENT, NS_VOID
from .state import record
from .util import LabError, mac, run, wait_for

# ---------------------------------------------------------------- network plumbing (root namespace side)

def is_lab_link(name: str) -> bool:
    return name.startswith(LINK_PREFIX) or name in (BRIDGE, BRIDGE2)


def link_exists(name: str, netns: str | None = None) -> bool:
    prefix = ["ip", "-n", netns] if netns else ["ip"]
    return run(*prefix, "link", "show", "dev", name, check=False).returncode == 0


def delete_link(name: str, netns: str | None = None) -> None:
    """Delete a link and wait until its name is free (a dying namespace frees its veths asynchronously)."""
    prefix = ["ip", "-n", netns] if netns else ["ip"]
    run(*prefix, "link", "del", "dev", name, check=False)
    wait_for(lambda: not link_exists(name, netns), 10, f"link {name} to disappear", interval=0.1)


def disable_ipv6(link: str) -> None:
    with contextlib.suppress(OSError):
        Path(f"/proc/sys/net/ipv6/conf/{link}/disable_ipv6").write_text("1")


def root_links() -> list[str]:
    out = run("ip", "-j", "link", "show").stdout
    return [link["ifname"] for link in json.loads(out or "[]")]


def netns_list() -> list[str]:
    out = run("ip", "-j", "netns", "list", check=False).stdout.strip()
    return [ns["name"] for ns in json.loads(out or "[]")]


def check_address_clash() -> None:
    """Refuse to start when the machine already uses the lab's networks on links the lab did not make."""
    out = json.loads(run("ip", "-j", "-4", "addr", "show").stdout or "[]")
    nets = [ipaddress.ip_network(n) for n in LAB_NETS]
    for link in out:
        if link["ifname"].startswith(LINK_PREFIX) or link["ifname"] in (BRIDGE, BRIDGE2):
            continue
        for a in link.get("addr_info", []):
            if any(ipaddress.ip_address(a["local"]) in n for n in nets):
                raise LabError(f"{link['ifname']} already holds {a['local']}, inside the lab's networks "
                               f"{', '.join(LAB_NETS)}: the lab would be unreachable; remove that address")


def guard_rules(bridges: list[str]) -> str:
    # Bridged frames (br_netfilter) show iif = oif = the bridge and pass; anything ROUTED
    # between a lab bridge and any other link is dropped, whatever ip_forward says.
    rules = []
    for br in bridges:
        rules += [f'    iifname "{br}" oifname != "{br}" drop', f'    oifname "{br}" iifname != "{br}" drop']
    return (f"table inet {NFT_TABLE} {{\n  chain forward {{\n"
            "    type filter hook forward priority filter - 10; policy accept;\n"
            + "\n".join(rules) + "\n  }\n}\n")


def nft_table_exists() -> bool:
    return run("nft", "list", "table", "inet", NFT_TABLE, check=False).returncode == 0


def setup_guard() -> None:
    record("nft", NFT_TABLE)
    run("nft", "-f", "-", data=guard_rules([BRIDGE, BRIDGE2]))


def setup_void() -> None:
    record("netns", NS_VOID)
    run("ip", "netns", "add", NS_VOID)
    # No addresses, no IPv6, no forwarding: a NAT NIC's packets stop at its far end.
    settings = ["net.ipv6.conf.default.disable_ipv6=1", "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv4.ip_forward=0"]
    run("ip", "netns", "exec", NS_VOID, "sysctl", "-q", "-w", *settings)


def setup_bridge(name: str, k: int, address: str | None) -> None:
    record("links", name)
    run("ip", "link", "add", name, "address", mac(0, 0xb0 + k, 0), "type", "bridge",
        "stp_state", "0", "forward_delay", "0")
    if address:
        run("ip", "addr", "add", address, "dev", name)
    else:
        disable_ipv6(name)
    run("ip", "link", "set", name, "up")


def bridged_namespace(netns: str, link: str, k: int, addresses: list[str], more: tuple[str, ...] = ()) -> None:
    """A namespace of the lab's own on the lab bridge: its `eth0` (MAC 02:..:k:0) holds `addresses`, the
    root-side end `link` is a bridge port; `more` are further `ip -batch` lines run inside it."""
    record("netns", netns)
    run("ip", "netns", "add", netns)
    record("links", link)
    run("ip", "link", "add", link, "address", mac(0, k, 1), "type", "veth",
        "peer", "name", "eth0", "address", mac(0, k, 0), "netns", netns)
    disable_ipv6(link)
    run("ip", "link", "set", link, "master", BRIDGE, "up")
    batch = ["link set lo up", *(f"addr add {a} dev eth0" for a in addresses), "link set eth0 up", *more]
    run("ip", "-n", netns, "-batch", "-", data="\n".join(batch) + "\n")


def setup_client(extra: list[str]) -> None:
    bridged_namespace(NS_CLIENT, CLIENT_LINK, 1, [CLIENT_ADDR, *extra])


def wire_node(node: dict, leader: int) -> None:
    """Give the freshly started node (PID 1 = `leader`) its NICs, addresses and default route."""
    batch = ["link set lo up"]
    for nic in node["nics"]:
        peer, name, mtu = nic["peer"], nic["name"], str(nic["mtu"])
        far_end = ["ip", "-n", NS_VOID] if nic["kind"] == "nat" else ["ip"]
        delete_link(peer, NS_VOID if nic["kind"] == "nat" else None)     # left by the previous boot
        run(*far_end, "link", "add", peer, "mtu", mtu, "address", nic["peer_mac"], "type", "veth",
            "peer", "name", name, "mtu", mtu, "address", nic["mac"], "netns", str(leader))
        if nic["kind"] == "nat":
            run(*far_end, "link", "set", peer, "up")
        else:
            disable_ipv6(peer)
            run("ip", "link", "set", peer, "master", nic["bridge"], "up")
        batch += [f"addr add {nic['address']} dev {name}", f"link set {name} up"]
        if nic.get("gateway"):
            batch.append(f"route add default via {nic['gateway']} dev {name} onlink")
    batch += [f"route add {net} via {via}" for net, via in node.get("routes", [])]   # e.g. behind the router
    run("nsenter", "-t", str(leader), "-n", "ip", "-batch", "-", data="\n".join(batch) + "\n")


