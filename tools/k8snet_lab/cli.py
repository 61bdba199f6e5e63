"""The command line of tools/lab.py."""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from . import cluster, gobuild, images, pins
from .constants import (
    BOOT_TIMEOUT,
    CACHE_DIR,
    INVENTORY_DIR,
    LAYOUTS,
    MAX_CLUSTER_NODES,
    MAX_NODES,
    NODE_PATH,
    NS_CLIENT,
)
from .layout import client_cidr, inventory_yaml, lab_plan
from .lifecycle import create, destroy, leftovers, print_status, save_logs, status
from .nodes import Supervisor, kill_nodes, leader_pid, mount_overlay, ssh_argv, start_supervisor, stop_node, wait_ready
from .rootfs import ensure_rootfs
from .state import command_lock, locked_state, node_config, read_state, require_lab
from .util import LabError, log, require_root, require_tools, run

# ---------------------------------------------------------------- commands

def cmd_create(args) -> int:
    require_root()
    lab_plan(args.layout, args.nodes)                  # bad arguments: fail before touching a running lab
    for address in args.client_ip or []:
        client_cidr(address)
    require_tools("systemd-nspawn", "ip", "nft", "nsenter", "ssh", "ssh-keygen")
    kubernetes = pins.kubernetes_minor(args.kubernetes) if args.cluster else None
    if kubernetes and args.nodes > MAX_CLUSTER_NODES:
        raise LabError(f"--cluster takes up to {MAX_CLUSTER_NODES} nodes, not {args.nodes}")
    if args.router and not kubernetes:
        raise LabError("--router peers with MetalLB's speakers: it needs --cluster")
    if args.joined is not None and not (kubernetes and 1 <= args.joined <= args.nodes):
        raise LabError(f"--joined takes 1..{args.nodes} with --cluster, not {args.joined}")
    if (args.kube_proxy_mode != "iptables" or args.without_iptables) and not kubernetes:
        raise LabError("--kube-proxy-mode and --without-iptables shape a cluster: they need --cluster")
    with command_lock():
        try:
            result = create(args.layout, args.nodes, args.client_ip or [], args.timeout, kubernetes,
                            joined=args.joined, with_router=args.router, kube_proxy_mode=args.kube_proxy_mode,
                            without_iptables=args.without_iptables)
        except BaseException as e:
            clean_up_failed_create(e)
            if isinstance(e, LabError | KeyboardInterrupt):
                return 1
            raise
    built = f"image built in {result['build_seconds']:.0f} s, " if result["build_seconds"] else ""
    what = f"kubeadm cluster (Kubernetes {read_state()['kubernetes']})" if kubernetes else "nodes"
    log(f"lab up: {built}{args.nodes} {what} ready in {result['boot_seconds']:.1f} s")
    print_status(status())
    for node, st in result["statuses"].items():
        if st != "running":
            log(f"  note: {node} is {st}")
    log(f"inventory: {INVENTORY_DIR / 'hosts.yml'}\n"
        + (f"kubeconfig: {cluster.KUBECONFIG}\n" if kubernetes else "")
        + "log in: tools/lab.py shell node1    tear down: tools/lab.py destroy")
    return 0


def cmd_kubeconfig(_args) -> int:
    state = require_lab()
    if not state.get("cluster"):
        raise LabError("this lab is not a cluster (tools/lab.py create --cluster)")
    print(cluster.KUBECONFIG)
    return 0


def clean_up_failed_create(error: BaseException) -> None:
    logs = save_logs()
    try:
        what = f"failed: {error}" if isinstance(error, LabError) else f"interrupted: {error!r}"
        print(f"lab: create {what}\nlab: node logs kept in {logs}; removing what was made ...", file=sys.stderr)
    finally:
        destroy(quiet=True)


def cmd_destroy(_args) -> int:
    require_root()
    with command_lock():
        if not read_state() and not leftovers():
            log("no lab to destroy")
            return 0
        return 1 if destroy() else 0


def cmd_status(args) -> int:
    if not read_state().get("nodes"):
        print("no lab is up (tools/lab.py create)", file=sys.stderr)
        return 1
    st = status()
    if st.get("cluster"):
        st["cluster"]["nodes"] = cluster.node_summary(cluster.node_objects())
    if args.json:
        print(json.dumps(st, indent=1, sort_keys=True))
    else:
        print_status(st)
    return 0


def live_leader(node: str) -> int:
    require_lab()
    return leader_pid(node)


def cmd_exec(args) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise LabError("no command: tools/lab.py exec NODE -- CMD ...")
    env = ["env", "-i", f"PATH={NODE_PATH}", "HOME=/root", "LANG=C.UTF-8",
           f"TERM={os.environ.get('TERM', 'dumb')}"]
    argv = ["nsenter", "-t", str(live_leader(args.node)), "-m", "-u", "-i", "-n", "-p", "--", *env, *command]
    return subprocess.run(argv, check=False).returncode


def cmd_shell(args) -> int:
    live_leader(args.node)
    os.execvp("ssh", ssh_argv(node_config(read_state(), args.node)["address"], tty=True))
    return 1


def cmd_restart(args) -> int:
    require_root()
    with command_lock():
        state = require_lab()
        node_config(state, args.node)
        started = time.monotonic()
        stop_node(state, args.node)
        mount_overlay(args.node, Path(state["rootfs"]))
        start_supervisor(args.node)
        st = wait_ready(args.node, args.timeout)
    log(f"{args.node} restarted in {time.monotonic() - started:.1f} s ({st})")
    return 0


def cmd_join(args) -> int:
    """kubeadm join of a node that `create --cluster --joined N` left out (a node added on day 2)."""
    require_root()
    with command_lock():
        seconds = cluster.join_node(require_lab(), args.node)
    log(f"{args.node} joined the cluster in {seconds:.1f} s")
    return 0


def cmd_stop(args) -> int:
    """One node down, files kept: a clean shutdown, or with --kill its PID 1 SIGKILLed (power lost).
    `restart NODE` boots it again; `destroy` cleans up either way."""
    require_root()
    with command_lock():
        state = require_lab()
        cfg = node_config(state, args.node)
        if args.kill:
            kill_nodes([cfg])
        else:
            stop_node(state, args.node)
    log(f"{args.node} {'killed' if args.kill else 'stopped'}; boot it again with: tools/lab.py restart {args.node}")
    return 0


def cmd_client_ip(args) -> int:
    require_lab()
    cidr = client_cidr(args.address)
    if args.action == "add":
        run("ip", "-n", NS_CLIENT, "addr", "replace", cidr, "dev", "eth0")
    else:
        run("ip", "-n", NS_CLIENT, "addr", "del", cidr, "dev", "eth0")
    with locked_state() as state:
        ips = [a for a in state.get("client_ips", []) if a != cidr]
        state["client_ips"] = [*ips, cidr] if args.action == "add" else ips
    log(f"client {NS_CLIENT}: {args.action} {cidr}")
    return 0


def cmd_inventory(args) -> int:
    sys.stdout.write(inventory_yaml(args.layout, args.nodes))
    return 0


def cmd_rootfs(_args) -> int:
    require_root()
    path, seconds = ensure_rootfs()
    log(f"node image {path}: " + (f"built in {seconds:.0f} s" if seconds else "cached"))
    return 0


def cmd_build(args) -> int:
    """Build (or find cached) every binary a cluster lab of this minor (or of every minor: `all`) needs, the
    node image and the image base."""
    require_root()
    if args.idle:                                        # inherited by go and its compilers
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(CACHE_DIR / ".build.lock", "a") as lock:    # two builders at once: the second waits, then finds
        fcntl.flock(lock, fcntl.LOCK_EX)                  # what the first built in the cache
        return build_all(args.kubernetes)


def build_all(kubernetes: str | None) -> int:
    for minor in sorted(pins.KUBERNETES, reverse=True) if kubernetes == "all" else [kubernetes]:
        started = time.monotonic()
        cluster_pins = pins.pins(minor)
        dirs = gobuild.ensure_all(cluster_pins)
        log(f"Kubernetes {cluster_pins.kubernetes}: {len(dirs)} builds ready in {time.monotonic() - started:.0f} s "
            f"(cache: {gobuild.BIN_DIR})")
    ensure_rootfs()                                      # the same for every minor
    images.base_layer()
    log("node image and image base ready; images are built into the lab registry by create --cluster")
    return 0


def cmd_supervise(args) -> int:
    return Supervisor(args.node).run()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tools/lab.py",
                                description="The k8snet lab: Debian nodes as systemd-nspawn machines (docs/LAB.md).")
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND",
                           help="create, destroy, status, kubeconfig, shell, exec, restart, stop, join, "
                                "client-ip, inventory, rootfs, build")

    def shape(sp):
        sp.add_argument("--nodes", type=int, default=3, help=f"number of nodes, 1..{MAX_NODES} (default 3)")
        sp.add_argument("--layout", choices=LAYOUTS, default="vagrant", help="NIC layout (default vagrant)")

    c = sub.add_parser("create", help="build the image if needed and boot the nodes (replaces a running lab)")
    shape(c)
    c.add_argument("--client-ip", action="append", metavar="ADDR", help="extra address of the client netns")
    c.add_argument("--timeout", type=float, default=BOOT_TIMEOUT, help="seconds to wait for the nodes")
    c.add_argument("--cluster", action="store_true",
                   help="make it a kubeadm cluster (builds binaries and images from their pinned Go modules)")
    c.add_argument("--kubernetes", metavar="MINOR", choices=sorted(pins.KUBERNETES),
                   help=f"Kubernetes minor (default: ${pins.KUBERNETES_ENV} or {pins.DEFAULT_KUBERNETES})")
    c.add_argument("--joined", type=int, metavar="N",
                   help="with --cluster: kubeadm join only the first N nodes; the others wait for `join NODE`")
    c.add_argument("--kube-proxy-mode", choices=("iptables", "nftables"), default="iptables",
                   help="with --cluster: kube-proxy's mode (kubeadm's KubeProxyConfiguration; default iptables)")
    c.add_argument("--without-iptables", action="store_true",
                   help="with --cluster: purge the iptables package on every node before kubeadm runs, as on a "
                        "distribution that ships nftables only (the pods' images keep their own)")
    c.add_argument("--router", action="store_true",
                   help="with --cluster: a BGP router (FRR) on the lab bridge and a remote client behind it; "
                        "the inventory becomes inventory/lab-bgp's (MetalLB in BGP mode)")
    c.set_defaults(func=cmd_create)
    sub.add_parser("destroy", help="remove everything the lab made").set_defaults(func=cmd_destroy)
    sub.add_parser("kubeconfig", help="print the path of the cluster's admin kubeconfig").set_defaults(
        func=cmd_kubeconfig)
    s = sub.add_parser("status", help="nodes, PIDs, addresses, SSH; exit 1 when no lab")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_status)
    sh = sub.add_parser("shell", help="root shell on a node (ssh)")
    sh.add_argument("node")
    sh.set_defaults(func=cmd_shell)
    e = sub.add_parser("exec", help="run a command inside a node: exec NODE -- CMD...")
    e.add_argument("node")
    e.add_argument("command", nargs=argparse.REMAINDER)
    e.set_defaults(func=cmd_exec)
    r = sub.add_parser("restart", help="stop and boot one node, keeping its files")
    r.add_argument("node")
    r.add_argument("--timeout", type=float, default=BOOT_TIMEOUT)
    r.set_defaults(func=cmd_restart)
    j = sub.add_parser("join", help="kubeadm join a node that create --joined left out (day 2)")
    j.add_argument("node")
    j.set_defaults(func=cmd_join)
    st = sub.add_parser("stop", help="take one node down, keeping its files (--kill: as if its power was cut)")
    st.add_argument("node")
    st.add_argument("--kill", action="store_true")
    st.set_defaults(func=cmd_stop)
    ci = sub.add_parser("client-ip", help="add/remove an address of the client namespace")
    ci.add_argument("action", choices=("add", "del"))
    ci.add_argument("address")
    ci.set_defaults(func=cmd_client_ip)
    inv = sub.add_parser("inventory", help="print the inventory a lab of this shape gets")
    shape(inv)
    inv.set_defaults(func=cmd_inventory)
    sub.add_parser("rootfs", help="build or verify the cached node image").set_defaults(func=cmd_rootfs)
    b = sub.add_parser("build", help="build what a cluster lab needs from its pinned Go modules (cached)")
    b.add_argument("--kubernetes", metavar="MINOR", choices=[*sorted(pins.KUBERNETES), "all"],
                   help=f"Kubernetes minor, or all of the test matrix (default: ${pins.KUBERNETES_ENV} or "
                        f"{pins.DEFAULT_KUBERNETES})")
    b.add_argument("--idle", action="store_true",
                   help="build on CPU time nothing else wants (make test builds one minor during the cluster tests)")
    b.set_defaults(func=cmd_build)
    sup = sub.add_parser("_supervise")                      # internal: runs one node (started by create)
    sup.add_argument("node")
    sup.set_defaults(func=cmd_supervise)
    return p


def interrupt(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.func is not cmd_supervise:
        signal.signal(signal.SIGTERM, interrupt)          # so that a killed create/build cleans up
    try:
        return args.func(args)
    except LabError as e:
        print(f"lab: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:                               # `tools/lab.py status | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
