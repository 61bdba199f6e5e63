"""What the underlay probes send where (controller side, from the plan) and what their results mean.

The plan carries, per node, the exact probes to run (``plan.probes``); the
host module ``underlay_probe`` only executes them
and ``diagnose`` turns their raw results into one line per failing pair.
"""

from __future__ import annotations

import random

import netaddr

# RFC 2544 benchmarking range: never routed on real networks, so probe traffic cannot leak.
PROBE_NET = netaddr.IPNetwork("198.18.0.0/15")
PROBE_DEVICE = "k8snprobe0"
FULL_MESH_LIMIT = 50
SAMPLE_PEERS = 3
ARP_TARGET_LIMIT = 4096  # addresses per ARP sweep; larger pools are sampled (said in the output)
MEMBERLIST_PORT = 7946


def probe_vni(vni: int) -> int:
    """The probe device's VNI: the one after flannel's (16777215 wraps to 1), on flannel's UDP port.

    Never flannel's own: flannel's device can appear between the facts and the probe (a re-run right
    after a failed run, its pods still starting), and the kernel refuses a second device with the same
    VNI on one port; with another VNI both share the port's socket, and firewalls judge the port."""
    return vni % 16777215 + 1
IP_ICMP_OVERHEAD = 28    # IPv4 header + ICMP header: ping -s takes the payload size
SMALL_PING = 56


def probe_address(index: int) -> str:
    return f"{netaddr.IPAddress(PROBE_NET.first + index + 1)}/{PROBE_NET.prefixlen}"


def pairs(nodes: list[str], seed: str = "k8snet") -> tuple[dict[str, list[str]], str]:
    """Who probes whom: the full mesh up to FULL_MESH_LIMIT nodes, else a ring plus a random sample."""
    n = len(nodes)
    if n <= FULL_MESH_LIMIT:
        return {a: [b for b in nodes if b != a] for a in nodes}, f"full mesh ({n} nodes, {n * (n - 1)} directed pairs)"
    rng = random.Random(seed)
    result = {}
    for i, node in enumerate(nodes):
        picked = {(i + 1) % n}
        while len(picked) < 1 + SAMPLE_PEERS:
            j = rng.randrange(n)
            if j != i:
                picked.add(j)
        result[node] = [nodes[j] for j in sorted(picked)]
    return result, (f"ring plus {SAMPLE_PEERS} random peers per node ({n} nodes > {FULL_MESH_LIMIT}; "
                    f"{n * (1 + SAMPLE_PEERS)} directed pairs)")


def _underlay(node: dict) -> str | None:
    iface = node.get("iface") or {}
    return iface.get("ipv4") or iface.get("ipv6")


def vxlan_probes(node_plans: dict, facts: dict, flannel: dict, who: dict) -> dict:
    """Per node: the temporary device (or, where flannel already runs, the underlay path) and the pings to send."""
    overhead = 50
    result = {}
    position = {name: i for i, name in enumerate(node_plans)}
    for index, (host, node) in enumerate(node_plans.items()):
        iface = node.get("iface")
        if not iface:
            continue
        existing = (facts.get(host) or {}).get("flannel") or {}
        targets = []
        for peer in who.get(host, []):
            peer_node = node_plans[peer]
            peer_flannel = (facts.get(peer) or {}).get("flannel") or {}
            # This node's pods send packets of ITS pod MTU to the peer: probe at that size, so that a
            # smaller MTU on the peer's side (flannel_mtu auto, NICs of different MTUs) shows as lost.
            size = node["pod_mtu"]
            if existing.get("running") or peer_flannel.get("running"):
                # An end already runs flannel on the port (a second device there would fail): prove the
                # planned NICs' path at full frame size instead. Not the running overlay: it may be the
                # one this run replaces (on another NIC, or someone else's flannel on the NAT NIC).
                kind, address, size = "underlay", _underlay(peer_node), size + overhead
            else:
                kind, address = "device", probe_address(position[peer]).split("/")[0]
            targets.append({"peer": peer, "kind": kind, "address": address, "size": size,
                            "underlay": _underlay(peer_node), "peer_dev": (peer_node.get("iface") or {}).get("name")})
        result[host] = {
            "create_device": not existing.get("running"),
            "device": PROBE_DEVICE, "vni": probe_vni(flannel["vni"]), "port": flannel["port"],
            "local": _underlay(node), "dev": iface["name"], "address": probe_address(index),
            "mtu": node["pod_mtu"], "targets": targets,
        }
    return result


def arp_adjacency(node_plans: dict, who: dict) -> dict:
    """host-gw: every peer's chosen address must answer ARP on our chosen NIC."""
    return {host: {"dev": node["iface"]["name"],
                   "targets": [{"peer": p, "address": node_plans[p]["iface"]["ipv4"]} for p in who.get(host, [])
                               if node_plans[p].get("iface") and node_plans[p]["iface"].get("ipv4")]}
            for host, node in node_plans.items() if node.get("iface")}


def port_probes(node_plans: dict, who: dict, ports: list[dict]) -> dict:
    """TCP/UDP reachability between nodes (memberlist, wireguard): listen on each, connect to peers."""
    if not ports:
        return {}
    return {host: {"listen": ports,
                   "targets": [{"peer": p, "address": _underlay(node_plans[p]), **port} for p in who.get(host, [])
                               for port in ports]}
            for host, node in node_plans.items() if node.get("iface")}


def pool_sweeps(node_plans: dict, pools: list[dict]) -> dict:
    """L2 pools: ARP-probe every address from one node per segment (the subnet of the chosen NIC)."""
    segments: dict[netaddr.IPNetwork, str] = {}
    for host, node in node_plans.items():
        iface = node.get("iface")
        if iface and iface.get("ipv4") and iface.get("prefix4"):
            segments.setdefault(netaddr.IPNetwork(f"{iface['ipv4']}/{iface['prefix4']}").cidr, host)
    sweeps: dict[str, dict] = {}
    for pool in pools:
        if pool["mode"] != "l2":
            continue
        for r in pool["ranges"]:
            if r["family"] != 4:
                continue  # IPv6 would need NDP probing: listed by unprobed_ranges() and said in the summary
            iprange = netaddr.IPRange(r["first"], r["last"])
            for segment, host in segments.items():
                if netaddr.IPAddress(r["first"]) in segment:
                    sweep = sweeps.setdefault(host, {"dev": node_plans[host]["iface"]["name"], "addresses": [],
                                                     "pools": {}, "truncated": 0})
                    for ip in iprange:
                        if len(sweep["addresses"]) >= ARP_TARGET_LIMIT:
                            sweep["truncated"] += 1
                            continue
                        sweep["addresses"].append(str(ip))
                        sweep["pools"][str(ip)] = pool["name"]
    return sweeps


def unprobed_ranges(pools: list[dict]) -> list[str]:
    """L2 pool ranges the ARP sweep cannot cover (IPv6), as `pool: first-last` for the run's summary."""
    return [f"{pool['name']}: {r['first']}-{r['last']}" for pool in pools if pool["mode"] == "l2"
            for r in pool["ranges"] if r["family"] != 4]


def plan_probes(node_plans: dict, facts: dict, settings: dict, pools: list[dict]) -> dict:
    """Every probe the plan could need; scoped() keeps those a run must send."""
    nodes = [h for h, n in node_plans.items() if n.get("iface")]
    who, mode = pairs(nodes)
    backend = settings["flannel_backend"]
    ports = []
    if settings["metallb_enabled"]:
        ports += [{"protocol": p, "port": MEMBERLIST_PORT, "why": "MetalLB memberlist"} for p in ("tcp", "udp")]
    if backend == "wireguard":
        ports.append({"protocol": "udp", "port": 51820, "why": "flannel wireguard"})
    flannel = {"vni": settings["flannel_vni"], "port": settings["flannel_port"]}
    return {
        "mode": mode,
        "vxlan": vxlan_probes(node_plans, facts, flannel, who) if backend == "vxlan" else {},
        "arp": arp_adjacency(node_plans, who) if backend == "host-gw" else {},
        "ports": port_probes(node_plans, who, ports),
        "pools": pool_sweeps(node_plans, pools),
        "pools_unprobed": unprobed_ranges(pools),
        "policy": settings["k8s_probe_scope"],
    }


# ---------------------------------------------------------------- what a run must probe

def _probed_node(node: dict) -> dict:
    """What a node's probes depend on: its chosen NIC (name, addresses, MTU) and its pod MTU."""
    iface = node.get("iface") or {}
    return {"iface": {k: iface.get(k) for k in ("name", "ipv4", "ipv6", "mtu")}, "pod_mtu": node.get("pod_mtu")}


def _cluster_wide(plan: dict) -> dict:
    """Settings every pair's probes depend on: the overlay and which ports nodes must reach."""
    return {"flannel": plan["flannel"], "metallb": plan["metallb"].get("enabled")}


def _pairwise(section: dict, touched: set[str], keep_peers: bool) -> dict:
    """A per-host probe section restricted to the pairs with a touched end.

    keep_peers: the untouched end of such a pair takes part too (VXLAN device, listener), with no
    targets of its own unless it is one of them.
    """
    out = {}
    for host, entry in section.items():
        targets = [t for t in entry["targets"] if host in touched or t["peer"] in touched]
        peer_of_touched = any(t["peer"] == host for h in touched for t in section.get(h, {}).get("targets", []))
        if targets or (keep_peers and peer_of_touched):
            out[host] = {**entry, "targets": targets}
    return out


def _new_addresses(sweeps: dict, previous_pools: list[dict]) -> dict:
    """Pool sweeps without the addresses the last applied plan's L2 pools already held (proven then)."""
    held = [netaddr.IPRange(r["first"], r["last"]) for p in previous_pools if p["mode"] == "l2"
            for r in p["ranges"] if r["family"] == 4]
    out = {}
    for host, sweep in sweeps.items():
        fresh = [a for a in sweep["addresses"] if not any(netaddr.IPAddress(a) in r for r in held)]
        if fresh:
            out[host] = {**sweep, "addresses": fresh, "pools": {a: sweep["pools"][a] for a in fresh}}
    return out


PROBE_KINDS = ("vxlan", "arp", "ports", "pools")        # the shares a node may have in a run's probes


def scoped(plan: dict, previous: dict | None, unprepared: list[str] | tuple = ()) -> dict:
    """The probes this run sends, given the plan last applied (recorded after a run whose probes passed;
    its comparable part, as state.load reads it from the record).

    Everything on a first run, with `k8s_probe_scope: all`, or when the overlay settings changed;
    otherwise only the pairs with a new, changed or unprepared node at one end (unprepared: no trace of
    node preparation, such as a reinstalled host with the same NIC) and the pool addresses that are new,
    so a run with no change sends none (verify.yml, which passes no previous plan, probes everything).
    Returns the probes with `scope`, one line saying which, and `nodes`, the nodes with a share in them (none
    on such a run: site.yml then skips the probe play).
    """
    return _with_nodes(_scoped(plan, previous, unprepared))


def _with_nodes(probes: dict) -> dict:
    shares = [probes.get(kind) or {} for kind in PROBE_KINDS]
    return {**probes, "nodes": sorted({host for share in shares for host, entry in share.items() if entry})}


def _scoped(plan: dict, previous: dict | None, unprepared) -> dict:
    probes = plan["probes"]
    if probes.get("policy") == "all":
        return {**probes, "scope": "all pairs and pool addresses (k8s_probe_scope: all)"}
    if not previous:
        return {**probes, "scope": "all pairs and pool addresses (nothing applied yet)"}
    if _cluster_wide(previous) != _cluster_wide(plan):
        return {**probes, "scope": "all pairs and pool addresses (the overlay settings changed)"}
    before = previous.get("nodes", {})
    touched = {h for h, n in plan["nodes"].items()
               if h not in before or _probed_node(before[h]) != _probed_node(n) or h in unprepared}
    pools = _new_addresses(probes["pools"], list((previous["metallb"].get("pools") or {}).values()))
    result = {**probes, "vxlan": _pairwise(probes["vxlan"], touched, keep_peers=True),
              "arp": _pairwise(probes["arp"], touched, keep_peers=False),
              "ports": _pairwise(probes["ports"], touched, keep_peers=True), "pools": pools}
    what = []
    if touched:
        what.append(f"the pairs of {', '.join(sorted(touched))} (new, changed NIC or not prepared)")
    if pools:
        what.append(f"{sum(len(s['addresses']) for s in pools.values())} new pool addresses")
    result["scope"] = ("only " + " and ".join(what) if what else
                       "none: nothing the probes depend on changed since the last applied run, whose probes "
                       "passed") + "; k8s_probe_scope: all (or verify.yml) probes everything"
    return result


# ---------------------------------------------------------------- diagnosis

def diagnose_vxlan(plan: dict, results: dict) -> list[str]:
    """One line per failing pair, from {host: [{peer, kind, address, size, large, small, skipped}]}."""
    lines = []
    nodes = plan["nodes"]
    port = plan["flannel"]["port"]
    for host, checks in sorted(results.items()):
        local = nodes[host]["iface"]
        for c in checks:
            peer = nodes[c["peer"]]["iface"]
            pair = (f"{host} {local['name']} {_addr(local)} -> {c['peer']} {peer['name']} {_addr(peer)}")
            if _addr(local) == _addr(peer):
                lines.append(f"{pair}: same address on both ends (NAT); flannel would send to itself. "
                             "Pick the NIC of the node network (flannel_iface) or let k8snet choose")
            elif c.get("large"):
                continue
            elif c.get("small"):
                lines.append(f"{pair}: packets of {c['size']} bytes with don't-fragment are lost but small ones "
                             f"pass: an MTU mismatch on the path (this NIC MTU {local['mtu']}, peer "
                             f"{peer['mtu']}); set flannel_mtu to the smallest MTU on the path. "
                             + _mtu_causes(host, c, peer))
            elif c["kind"] == "underlay":
                lines.append(f"{pair}: no reply to ping on the underlay ({c['address']}): the nodes cannot "
                             "reach each other on these NICs")
            else:
                lines.append(f"{pair}: no VXLAN traffic (UDP {port}) gets through: "
                             f"UDP {port} is blocked between the nodes, or these NICs are not on a network "
                             f"that connects them. {_vxlan_causes(c, local, peer, port)}")
    return lines


# VXLAN's outer headers: IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14 bytes.
VXLAN_OVERHEAD = 50


def _mtu_causes(host: str, check: dict, peer: dict) -> str:
    """Where a full-size packet is lost, and the command that finds the largest one that passes."""
    frame = check["size"] + VXLAN_OVERHEAD
    return (f"Causes: a link between the NICs (switch, hypervisor vSwitch, VPN or tunnel) with a smaller MTU "
            f"than the NICs say; test the underlay with `ping -M do -s {frame - 28} {_addr(peer)}` on {host} "
            f"({frame}-byte frames, VXLAN adds {VXLAN_OVERHEAD} bytes to each pod packet) and lower -s until it "
            "passes: that size + 28 - 50 is the largest flannel_mtu")


def _vxlan_causes(check: dict, local: dict, peer: dict, port: int) -> str:
    """The common reasons VXLAN is dropped while the underlay answers, each with what tests it."""
    return (f"Common causes: (1) a firewall on the nodes or the network drops UDP {port}: run "
            f"`tcpdump -ni {peer['name']} udp port {port}` on {check['peer']} while probing again; "
            f"(2) the hypervisor or cloud network drops VXLAN on UDP {port} (some reserve it for their own "
            "overlay): try another flannel_port (e.g. 4789), or flannel_backend: host-gw when the nodes share "
            "one L2 segment; (3) NIC checksum offload corrupts VXLAN packets (seen on vmxnet3 and some "
            f"kernels): `ethtool -K {local['name']} tx-checksum-ip-generic off` on both nodes, then probe again")


def diagnose_arp(plan: dict, results: dict) -> list[str]:
    lines = []
    for host, answers in sorted(results.items()):
        dev = plan["nodes"][host]["iface"]["name"]
        for target in plan["probes"]["arp"].get(host, {}).get("targets", []):
            if target["address"] not in answers:
                lines.append(f"{host} {dev} -> {target['peer']} {target['address']}: no ARP reply; host-gw needs "
                             "every node on one L2 segment (use vxlan across routers)")
    return lines


def diagnose_ports(results: dict) -> list[str]:
    return [f"{host} -> {c['peer']} {c['address']} {c['protocol']}/{c['port']} ({c['why']}): "
            f"{c.get('error') or 'no answer'}; open it between the nodes"
            for host, checks in sorted(results.items()) for c in checks if not c.get("ok") and not c.get("skipped")]


def diagnose_pools(plan: dict, results: dict, ignore: list[str] | tuple = ()) -> list[str]:
    lines = []
    for host, answers in sorted(results.items()):
        sweep = plan["probes"]["pools"].get(host, {})
        for address, mac in sorted(answers.items(), key=lambda kv: netaddr.IPAddress(kv[0])):
            if address in ignore:
                continue
            pool = sweep.get("pools", {}).get(address, "?")
            lines.append(f"metallb pool {pool}: {address} is already in use on the wire: {mac} answered ARP "
                         f"(probed from {host} {sweep.get('dev')}); remove it from the pool or free it")
    return lines


def _addr(iface: dict) -> str:
    return iface.get("ipv4") or iface.get("ipv6") or "?"
