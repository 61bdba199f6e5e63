"""Create, destroy and status of a whole lab."""

from __future__ import annotations

import contextlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import cluster, gobuild, images, pins, registry, router
from .cgroups import lab_cgroups, remove_lab_cgroups
from .constants import (
    BOOT_TIMEOUT,
    BRIDGE,
    BRIDGE_ADDR,
    CLIENT_ADDR,
    INVENTORY_DIR,
    KEY,
    NFT_TABLE,
    NODES_DIR,
    NS_CLIENT,
    NS_VOID,
    REPO,
    STATE_DIR,
    STATE_FILE,
)
from .layout import client_cidr, inventory_yaml, lab_plan
from .network import (
    check_address_clash,
    delete_link,
    is_lab_link,
    netns_list,
    nft_table_exists,
    root_links,
    setup_bridge,
    setup_client,
    setup_guard,
    setup_void,
)
from .nodes import kill_nodes, mount_overlay, node_records, start_supervisor, wait_ready, write_identity
from .rootfs import ensure_key, ensure_rootfs
from .state import locked_state, read_state, require_lab
from .util import (
    LabError,
    alive,
    log,
    mounts_under,
    pss_kib,
    remove_tree,
    require_root,
    require_tools,
    run,
    tcp_open,
    unmount_all_under,
)

# Every namespace a lab may make, swept by name even when the state is lost.
LAB_NETNS = (NS_VOID, NS_CLIENT, registry.NS_REGISTRY, router.NS_ROUTER, router.NS_REMOTE)

# ---------------------------------------------------------------- create / destroy

def create(layout: str, count: int, client_ips: list[str], timeout: float = BOOT_TIMEOUT,
           kubernetes: str | None = None, *, joined: int | None = None, with_router: bool = False,
           kube_proxy_mode: str = "iptables", without_iptables: bool = False) -> dict:
    """Boot a lab; with `kubernetes` (a minor of pins.KUBERNETES) it becomes a kubeadm cluster, its kube-proxy in
    `kube_proxy_mode`, on nodes without the iptables package when `without_iptables`; `with_router` adds the BGP
    router and the remote client behind it (router.py), and the nodes' route to that client."""
    plan = lab_plan(layout, count)
    if with_router:
        for cfg in plan["nodes"].values():
            cfg["routes"] = [[router.REMOTE_NET, router.ROUTER_IP]]
    extra = [client_cidr(a) for a in client_ips]
    require_root()
    require_tools("systemd-nspawn", "ip", "nft", "nsenter", "ssh", "ssh-keygen")
    cluster_pins = build_dirs = None
    build_started = time.monotonic()
    if kubernetes:                                  # build first: a failed build leaves a running lab alone
        cluster_pins = pins.pins(kubernetes)
        build_dirs = gobuild.ensure_all(cluster_pins)
    if read_state() or leftovers():
        log("removing the previous lab first")
        destroy(quiet=True)
    check_address_clash()
    rootfs, build_time = ensure_rootfs()
    if cluster_pins:
        images.base_layer()
        build_time = time.monotonic() - build_started
    ensure_key()
    started = time.monotonic()
    with locked_state() as state:
        state.clear()
        state.update(plan, rootfs=str(rootfs), client_ips=extra, created=time.time(), repo=str(REPO))
    setup_guard()
    setup_void()
    for i, bridge in enumerate(plan["bridges"]):
        setup_bridge(bridge, i, BRIDGE_ADDR if bridge == BRIDGE else None)
    setup_client(extra)
    if with_router:
        router.start([cfg["address"] for cfg in plan["nodes"].values()])
    image_statuses = {}
    if cluster_pins:
        registry.start(build_dirs["registry"] / "registry")
        image_statuses = images.ensure_images(cluster_pins, build_dirs)
        cluster.set_host_sysctls()
        with locked_state() as state:
            state["kubectl"] = str(build_dirs["kubernetes"] / "kubectl")
            state["kubernetes"] = cluster_pins.kubernetes
    for node in plan["nodes"]:
        mount_overlay(node, rootfs)
        write_identity(node)
        if cluster_pins:
            cluster.prepare_node_tree(node, cluster_pins)
            with locked_state() as state:
                cfg = state["nodes"][node]
                cfg["nspawn_args"] = cluster.nspawn_args(node, cfg, build_dirs["kubernetes"])
        start_supervisor(node)
    write_inventory(layout, count, cluster=bool(cluster_pins), bgp=with_router)
    with ThreadPoolExecutor(max_workers=count) as pool:
        ready = pool.map(lambda n: wait_ready(n, timeout), plan["nodes"])
        statuses = dict(zip(plan["nodes"], ready, strict=True))
    result = {"statuses": statuses, "boot_seconds": time.monotonic() - started, "build_seconds": build_time,
              "images": image_statuses}
    if cluster_pins:
        result["cluster"] = cluster.bring_up(cluster_pins, read_state(), joined, kube_proxy_mode, without_iptables)
        result["boot_seconds"] = time.monotonic() - started
    return result


def save_logs() -> Path:
    """Copy the nodes' logs out of the node dirs (destroy removes those) for a post-mortem."""
    dest = STATE_DIR / "last-failure"
    remove_tree(dest)
    dest.mkdir(parents=True)
    for log_file in NODES_DIR.glob("*/*.log"):
        (dest / f"{log_file.parent.name}-{log_file.name}").write_bytes(log_file.read_bytes())
    return dest


def write_inventory(layout: str, count: int, cluster: bool = False, bgp: bool = False) -> None:
    """The lab's inventory; its group_vars are inventory/lab's (render mode) or, for a cluster lab,
    inventory/lab-cluster's (api mode), or with the router inventory/lab-bgp's (api mode, MetalLB in BGP mode)."""
    INVENTORY_DIR.mkdir(parents=True, exist_ok=True)
    (INVENTORY_DIR / "hosts.yml").write_text(inventory_yaml(layout, count))
    link = INVENTORY_DIR / "group_vars"
    if link.is_symlink() or link.exists():
        link.unlink()
    variant = "lab-bgp" if bgp else "lab-cluster" if cluster else "lab"
    link.symlink_to(REPO / "inventory" / variant / "group_vars")


def leftovers(state: dict | None = None) -> list[str]:
    """Everything of a lab still present on the machine (recorded or carrying the lab's names)."""
    state = read_state() if state is None else state
    found = []
    for node, cfg in state.get("nodes", {}).items():
        found += [f"process {r['pid']} ({node})" for r in node_records(cfg) if alive(r)]
    found += [f"link {name}" for name in root_links() if is_lab_link(name)]
    found += [f"netns {ns}" for ns in netns_list() if ns in LAB_NETNS]
    found += router.running(state)
    if registry.running(state):
        found.append(f"process {state['registry']['pid']} (registry)")
    found += [f"sysctl {name} (not restored to {value})" for name, value in state.get("host_sysctls", {}).items()
              if Path("/proc/sys", name).read_text().strip() != value]
    found += [f"mount {p}" for p in mounts_under(STATE_DIR)]
    if nft_table_exists():
        found.append(f"nft table inet {NFT_TABLE}")
    found += [f"cgroup {d}" for d in lab_cgroups()]
    return found


def destroy(quiet: bool = False) -> list[str]:
    """Remove the lab by its records, then sweep its well-known names. Returns what is left (empty: clean)."""
    state = read_state()
    nodes = state.get("nodes", {}).values()
    kill_nodes(list(nodes))
    registry.stop(state)
    router.stop(state)
    warn_unrecorded_nspawn()
    remove_lab_cgroups()
    for point in state.get("mounts", []):
        unmount_all_under(Path(point))
    unmount_all_under(STATE_DIR)
    # Deleting a netns takes its veths along; root-side links go by record, then by prefix.
    for ns in set(state.get("netns", [])) | set(LAB_NETNS):
        if ns in netns_list():
            run("ip", "netns", "del", ns, check=False)
    for name in dict.fromkeys(state.get("links", []) + root_links()):
        if is_lab_link(name):
            with contextlib.suppress(LabError):
                delete_link(name)
    if nft_table_exists():
        run("nft", "delete", "table", "inet", NFT_TABLE, check=False)
    cluster.restore_host_sysctls(state)
    for path in (NODES_DIR, INVENTORY_DIR):
        remove_tree(path)
    with contextlib.suppress(FileNotFoundError):
        cluster.KUBECONFIG.unlink()
    with contextlib.suppress(FileNotFoundError):
        STATE_FILE.unlink()
    left = leftovers(state)
    if not quiet:
        log("lab destroyed" if not left else "destroy left behind:\n  " + "\n  ".join(left))
    return left


def warn_unrecorded_nspawn() -> None:
    """Nodes of ours without records (state lost) are not killed: say so, with their PIDs."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            ours = any(str(NODES_DIR).encode() in a for a in argv)
            if argv[0].endswith(b"systemd-nspawn") and ours:
                log(f"warning: systemd-nspawn PID {entry.name} runs a lab node but is not recorded; "
                    f"stop it yourself (kill {entry.name}) and run destroy again")


# ---------------------------------------------------------------- status

def node_status(cfg: dict, check_ssh: bool = True) -> dict:
    leader = cfg.get("leader")
    up = alive(cfg.get("supervisor")) and alive(leader)
    pss = 0
    if up:
        pidns = os.readlink(f"/proc/{leader['pid']}/ns/pid")
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    if os.readlink(entry / "ns/pid") == pidns:
                        pss += pss_kib(int(entry.name))
        overhead = sum(pss_kib(r["pid"]) for r in (cfg.get("nspawn"), cfg.get("supervisor")) if alive(r))
    else:
        overhead = 0
    return {
        "up": up,
        "ssh": up and check_ssh and tcp_open(cfg["address"], 22),
        "pids": {k: cfg[k]["pid"] for k in ("supervisor", "nspawn", "leader") if cfg.get(k)},
        "boots": cfg.get("boots", 0),
        "memory_kib": {"node": pss, "overhead": overhead},
    }


def status(check_ssh: bool = True) -> dict:
    state = require_lab()
    return {**state, "status": {n: node_status(c, check_ssh) for n, c in state["nodes"].items()},
            "inventory": str(INVENTORY_DIR / "hosts.yml"), "key": str(KEY)}


def print_status(st: dict) -> None:
    log(f"lab: layout {st['layout']}, {len(st['nodes'])} nodes, inventory {st['inventory']}")
    for name, cfg in st["nodes"].items():
        s = st["status"][name]
        nics = "  ".join(f"{n['name']} {n['address']}" for n in cfg["nics"])
        mem = sum(s["memory_kib"].values()) / 1024
        pids = " ".join(f"{k}={v}" for k, v in s["pids"].items())
        log(f"  {name:7} {'up' if s['up'] else 'DOWN':4} ssh={'yes' if s['ssh'] else 'no':3} {mem:5.0f} MiB  "
            f"{nics}  [{pids}]")
    client = ", ".join([CLIENT_ADDR, *st.get("client_ips", [])])
    log(f"  client  netns {NS_CLIENT}: {client}  (ip netns exec {NS_CLIENT} ...)")
    if st.get("cluster"):
        log(f"  cluster Kubernetes {st['cluster']['kubernetes']}, kubeconfig {st['cluster']['kubeconfig']}, "
            f"registry {registry.REGISTRY}")
        for row in st["cluster"].get("nodes", []):
            ready = "Ready" if row["ready"] else f"NotReady ({row['message'] or row['reason']})"
            log(f"    {row['name']:7} {row['internal_ip'] or '-':15} podCIDRs {','.join(row['pod_cidrs']) or '-':15} "
                f"kubelet {row['kubelet']}  {ready}")


