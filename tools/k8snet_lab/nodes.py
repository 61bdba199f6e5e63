"""Nodes: overlays, identity, the per-node supervisor that runs systemd-nspawn, readiness."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from .cgroups import enter_node_cgroups
from .constants import BOOT_TIMEOUT, KEY, NODES_DIR, REBOOT_STATUS, SELF, SSH_OPTS, STOP_TIMEOUT
from .network import wire_node
from .state import locked_state, node_config, read_state, record
from .util import (
    LabError,
    alive,
    descendants,
    identity,
    mounts_under,
    netns_of,
    run,
    signal_recorded,
    tail,
    tcp_open,
    wait_for,
    write_file,
)

# ---------------------------------------------------------------- nodes

def node_root(node: str) -> Path:
    return NODES_DIR / node / "root"


def mount_overlay(node: str, rootfs: Path) -> None:
    base = NODES_DIR / node
    for sub in ("upper", "work", "root"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    if str(node_root(node)) in mounts_under(base):
        return
    record("mounts", str(node_root(node)))
    run("mount", "-t", "overlay", "overlay", "-o",
        f"lowerdir={rootfs},upperdir={base / 'upper'},workdir={base / 'work'}", str(node_root(node)))


def write_identity(node: str) -> None:
    root = node_root(node)
    write_file(root / "etc/hostname", f"{node}\n")
    write_file(root / "etc/hosts", f"127.0.0.1\tlocalhost\n127.0.1.1\t{node}\n::1\tlocalhost ip6-localhost\n")
    write_file(root / "etc/machine-id", uuid.uuid4().hex + "\n", 0o444)
    hostkey = root / "etc/ssh/ssh_host_ed25519_key"
    if not hostkey.exists():
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"root@{node}", "-f", str(hostkey))
    ssh_dir = root / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    write_file(ssh_dir / "authorized_keys", Path(f"{KEY}.pub").read_text(), 0o600)


def start_supervisor(node: str) -> None:
    base = NODES_DIR / node
    with open(base / "supervisor.log", "ab") as out:
        proc = subprocess.Popen([sys.executable, str(SELF), "_supervise", node], stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd="/")
    rec = identity(proc.pid)
    with locked_state() as state:
        state["nodes"][node]["supervisor"] = rec


def node_records(cfg: dict) -> list[dict]:
    return [r for r in (cfg.get("supervisor"), cfg.get("nspawn"), cfg.get("leader")) if r]


def stop_node(state: dict, node: str, timeout: float = STOP_TIMEOUT) -> None:
    """Clean shutdown through the supervisor; forced (by recorded PIDs) at the deadline."""
    cfg = node_config(state, node)
    if not alive(cfg.get("supervisor")):                 # crashed: nobody to ask for a clean shutdown
        kill_nodes([cfg])
        return
    signal_recorded(cfg.get("supervisor"), signal.SIGTERM)
    try:
        wait_for(lambda: not any(alive(r) for r in node_records(cfg)), timeout, f"{node} to shut down", 0.1)
    except LabError:
        kill_nodes([cfg])


def kill_nodes(cfgs: list[dict]) -> None:
    """SIGKILL each node's PID 1, which takes the whole container along (a killed nspawn would not).

    nspawn then exits and is reaped by its supervisor, which stops; whatever recorded
    process is still alive after a short grace is SIGKILLed too.
    """
    for cfg in cfgs:
        signal_recorded(cfg.get("leader"), signal.SIGKILL)
    recs = [r for cfg in cfgs for r in node_records(cfg)]
    try:
        wait_for(lambda: not any(alive(r) for r in recs), 3, "nspawn and supervisors to exit")
    except LabError:
        for rec in recs:
            signal_recorded(rec, signal.SIGKILL)
        with contextlib.suppress(LabError):
            wait_for(lambda: not any(alive(r) for r in recs), 10, "the lab's processes to exit")


# ---------------------------------------------------------------- the supervisor (one per node)

class Supervisor:
    """Runs one node: nspawn, network wiring, a fresh boot when the node asks to reboot (exit 133)."""

    def __init__(self, node: str):
        self.node = node
        self.cfg = node_config(read_state(), node)
        self.stop_requested: float | None = None

    def log(self, msg: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {self.node}: {msg}", flush=True)

    def on_signal(self, signum, _frame) -> None:
        self.stop_requested = self.stop_requested or time.monotonic()

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        boots = 0
        while self.stop_requested is None:
            boots += 1
            status = self.boot_once(boots)
            if status != REBOOT_STATUS:
                self.log(f"nspawn exited with {status}; supervisor stops")
                return 0 if status == 0 or self.stop_requested else 1
            self.log("reboot requested by the node: booting it again")
        return 0

    def boot_once(self, boots: int) -> int:
        console = Path(self.cfg["dir"]) / "console.log"
        argv = ["systemd-nspawn", "-D", str(node_root(self.node)), "--register=no", "--keep-unit",
                "-M", self.node, "--private-network", "--console=read-only", "--link-journal=no",
                "--resolv-conf=off", "--timezone=off", *self.cfg.get("nspawn_args", []), "-b"]
        with open(console, "ab") as out:
            # TERM=dumb: the node's systemd writes its console log without colour codes.
            child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                     env={**os.environ, "TERM": "dumb"},
                                     preexec_fn=lambda: enter_node_cgroups(self.node))  # noqa: PLW1509 (no threads)
        leader = None
        try:
            leader = self.find_leader(child)
            with locked_state() as state:
                state["nodes"][self.node].update(nspawn=identity(child.pid), leader=identity(leader),
                                                 boots=boots)
            wire_node(self.cfg, leader)
            self.log(f"booted (nspawn {child.pid}, PID 1 = {leader}), network wired")
        except (LabError, subprocess.TimeoutExpired) as e:
            self.log(f"failed: {e}")
            if leader:
                signal_recorded(identity(leader), signal.SIGKILL)
            child.kill()
            child.wait()
            return 1
        return self.wait(child, leader)

    def find_leader(self, child: subprocess.Popen) -> int:
        """The node's PID 1: the nspawn descendant living in another network namespace."""
        own = netns_of("self")

        def leader():
            if child.poll() is not None:
                raise LabError(f"systemd-nspawn exited with {child.returncode} before the node started")
            return next((p for p in descendants(child.pid) if netns_of(p) not in (None, own)), None)
        return wait_for(leader, 30, "the node's PID 1")

    def wait(self, child: subprocess.Popen, leader: int) -> int:
        terminated = killed = False
        while True:
            if self.stop_requested is not None and not terminated:
                child.terminate()                    # nspawn asks the node's systemd to power off
                terminated = True
            if terminated and not killed and time.monotonic() - self.stop_requested > STOP_TIMEOUT:
                self.log("no clean shutdown in time: killing the node")
                signal_recorded(identity(leader), signal.SIGKILL)
                child.kill()
                killed = True
            try:
                return child.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                continue


# ---------------------------------------------------------------- readiness

def ssh_argv(address: str, *command: str, tty: bool = False) -> list[str]:
    return ["ssh", "-i", str(KEY), *SSH_OPTS, *(["-t"] if tty else []), f"root@{address}", *command]


def wait_ready(node: str, timeout: float = BOOT_TIMEOUT) -> str:
    """Wait for SSH and the end of the node's boot; returns `running` or `degraded (units...)`."""
    deadline = time.monotonic() + timeout
    cfg = node_config(read_state(), node)
    address = cfg["address"]
    ssh_error = ""

    def answered():
        nonlocal ssh_error
        sup = node_config(read_state(), node).get("supervisor")
        if not alive(sup):
            raise LabError(f"{node} stopped while booting. Supervisor log:\n"
                           f"{tail(Path(cfg['dir']) / 'supervisor.log', 5)}\n"
                           f"Console:\n{tail(Path(cfg['dir']) / 'console.log')}")
        if not tcp_open(address, 22):
            return None
        probe = run(*ssh_argv(address, "systemctl", "is-system-running", "--wait"), check=False,
                    timeout=max(5.0, deadline - time.monotonic()))
        ssh_error = probe.stderr.strip()
        return probe.stdout.strip() or None

    try:
        status = wait_for(answered, timeout, f"SSH on {node} ({address})", interval=0.1)
    except LabError as e:
        said = f"; ssh said: {ssh_error}" if ssh_error else ""
        raise LabError(f"{e}{said}; last console lines:\n{tail(Path(cfg['dir']) / 'console.log', 10)}") from None
    if status == "degraded":
        failed = run(*ssh_argv(address, "systemctl", "--failed", "--plain", "--no-legend"), check=False)
        units = [line.split()[0] for line in failed.stdout.splitlines() if line.strip()]
        return f"degraded (failed: {', '.join(units)})"
    return status


def leader_pid(node: str) -> int:
    """PID 1 of a running node (to enter its namespaces)."""
    cfg = node_config(read_state(), node)
    if not alive(cfg.get("leader")):
        raise LabError(f"{node} is not running (tools/lab.py restart {node})")
    return cfg["leader"]["pid"]
