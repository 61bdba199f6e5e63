"""Small helpers of the lab: commands, waiting, files, recorded processes, mounts."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path


class LabError(Exception):
    """A failure with a message that says what to do; printed without a traceback."""


# ---------------------------------------------------------------- small helpers

def log(msg: str) -> None:
    print(msg, flush=True)


def run(*argv: str, check: bool = True, data: str | None = None, timeout: float | None = 60,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, input=data, text=True, capture_output=True, timeout=timeout, check=False, env=env)
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()
        raise LabError(f"`{' '.join(argv)}` failed (exit {proc.returncode}): {detail}")
    return proc


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return f"(no {path})"
    return "\n".join("    " + line for line in text[-lines:])


def wait_for(condition, timeout: float, what: str, interval: float = 0.05):
    """Poll `condition()` until it returns a true value; raise LabError naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise LabError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def write_file(path: Path, text: str, mode: int = 0o644) -> None:
    """Write into a node's tree; never through a symlink (it could point into the host)."""
    if path.is_symlink():
        path.unlink()
    path.write_text(text)
    path.chmod(mode)


def mac(node: int, nic: int, side: int) -> str:
    # Fixed MACs: after a reboot the neighbours' ARP entries are still right.
    return f"02:6b:38:{node:02x}:{nic:02x}:{side:02x}"


def require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (it creates namespaces, links and mounts): run it with sudo")


def require_tools(*tools: str) -> None:
    packages = {"systemd-nspawn": "systemd-container", "debootstrap": "debootstrap", "nft": "nftables",
                "ip": "iproute2", "ssh": "openssh-client", "ssh-keygen": "openssh-client",
                "nsenter": "util-linux", "chroot": "coreutils"}
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        pkgs = " ".join(sorted({packages.get(t, t) for t in missing}))
        raise LabError(f"missing {', '.join(missing)}: apt-get install -y {pkgs}  (or `make deps`)")


# ---------------------------------------------------------------- processes (recorded by PID + start time)

def proc_stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rpartition(")")[2].split()          # [state, ppid, ..., starttime at index 19]


def identity(pid: int) -> dict | None:
    stat = proc_stat(pid)
    return {"pid": pid, "start": int(stat[19])} if stat else None


def alive(rec: dict | None) -> bool:
    """True when the recorded process still runs (same PID AND same start time, not a zombie)."""
    if not rec:
        return False
    stat = proc_stat(rec["pid"])
    return bool(stat) and stat[0] != "Z" and int(stat[19]) == rec["start"]


def signal_recorded(rec: dict | None, sig: int) -> None:
    if alive(rec):
        with contextlib.suppress(ProcessLookupError):
            os.kill(rec["pid"], sig)


def children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := proc_stat(int(entry.name))):
            children.setdefault(int(stat[1]), []).append(int(entry.name))
    return children


def descendants(pid: int) -> list[int]:
    children, found, todo = children_map(), [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def netns_of(pid: int | str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None


def pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
# ---------------------------------------------------------------- mounts

def mountinfo() -> list[tuple[str, str, str]]:
    """(mount point, file system type, super options) of every mount, in mount order."""
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields, _, rest = line.partition(" - ")
        point = fields.split()[4].encode().decode("unicode_escape")    # \040 -> space
        after = rest.split()                                           # fstype, source, super options
        mounts.append((point, after[0] if after else "", after[-1] if after else ""))
    return mounts


def mounts_under(path: Path) -> list[str]:
    prefix = str(path).rstrip("/") + "/"
    return [p for p, _, _ in mountinfo() if p == str(path) or p.startswith(prefix)]


def unmount_all_under(path: Path) -> None:
    for point in sorted(set(mounts_under(path)), key=len, reverse=True):
        if run("umount", point, check=False).returncode != 0:
            run("umount", "-l", point, check=False)          # busy: detach it now, freed when unused


def remove_tree(path: Path) -> None:
    if path.exists() or path.is_symlink():
        unmount_all_under(path)
        run("rm", "-rf", "--one-file-system", str(path), timeout=300)


def tcp_open(address: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False
