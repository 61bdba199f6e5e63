#!/usr/bin/env python3
"""The lab: Debian 12 nodes as systemd-nspawn machines with Vagrant-style NICs, on one machine.

Every node boots its own systemd and sshd from one cached debootstrap rootfs, on a
per-node overlay (its files survive `restart` and an in-node reboot), with
  eth0  NAT-like: 10.0.2.15/24 on EVERY node, default route via 10.0.2.2, going nowhere
  eth1  the lab bridge k8snet-br0: 192.168.56.(10+k)/24, the controller is 192.168.56.1
and a client namespace k8snet-client (192.168.56.2) on the same bridge.

    tools/lab.py create [--nodes N] [--layout vagrant|renamed|multi|mtu] [--client-ip ADDR ...]
    tools/lab.py status | destroy | shell NODE | exec NODE -- CMD... | restart NODE
    tools/lab.py client-ip add|del ADDR | inventory [--layout L --nodes N] | rootfs

See docs/LAB.md. Python 3.11 stdlib only; run as root.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SELF = Path(__file__).resolve()
STATE_DIR = Path("/var/lib/k8snet-lab")
CACHE_DIR = Path("/var/cache/k8snet-lab")
STATE_FILE = STATE_DIR / "state.json"
LOCK_FILE = STATE_DIR / ".lock"                 # short: every read-modify-write of the state
COMMAND_LOCK = STATE_DIR / ".command.lock"      # long: create, destroy, restart, one at a time
KEY = STATE_DIR / "id_ed25519"
NODES_DIR = STATE_DIR / "nodes"
INVENTORY_DIR = STATE_DIR / "inventory"

LINK_PREFIX = "k8l-"                      # every root-namespace link the lab makes (a sweep finds them)
BRIDGE = "k8snet-br0"                     # the lab network; the controller holds .1
BRIDGE2 = "k8snet-br1"                    # `multi` layout: a second network, no address on this side
BRIDGE_ADDR = "192.168.56.1/24"
CLIENT_ADDR = "192.168.56.2/24"
CLIENT_LINK = "k8l-client"
NS_VOID = "k8snet-void"                   # far ends of the NAT NICs: up, unaddressed, nothing routes
NS_CLIENT = "k8snet-client"               # plays the external user on the lab bridge
NFT_TABLE = "k8snet_lab"
CGROUP_PREFIX = "k8snet-lab-"                # one cgroup per node, see enter_node_cgroups()
LAB_NETS = ("192.168.56.0/24", "172.16.0.0/24")
LAYOUTS = ("vagrant", "renamed", "multi", "mtu")
MAX_NODES = 20
REBOOT_STATUS = 133                       # systemd-nspawn's exit status when the node asked to reboot
BOOT_TIMEOUT = 120.0
STOP_TIMEOUT = 20.0
SSH_OPTS = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5"]
NODE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# The node image, all of it: its hash names the cache dir, so any change here rebuilds.
IMAGE = {
    "suite": "bookworm",
    "variant": "minbase",
    "mirror": "http://deb.debian.org/debian",
    "packages": ["arping", "dbus", "iproute2", "iputils-ping", "kmod", "netcat-openbsd", "nftables",
                 "openssh-server", "procps", "python3", "systemd", "systemd-sysv", "tcpdump"],
    # Runs in a chroot of the fresh rootfs. Per-node identity (machine-id, host key,
    # hostname, root's authorized_keys) is written into each node's overlay instead.
    "post_install": r"""
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id /etc/ssh/ssh_host_*
# No DNS in the lab: without a nameserver line lookups fail at once instead of timing out.
printf '# no DNS in the lab\n' > /etc/resolv.conf
cat > /etc/ssh/sshd_config.d/k8snet-lab.conf <<'EOF'
UseDNS no
PermitRootLogin prohibit-password
HostKey /etc/ssh/ssh_host_ed25519_key
EOF
# Units that slow the boot, fail in a container or would reach out to the network.
for unit in apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer \
    e2scrub_reap.service fstrim.timer systemd-networkd-wait-online.service console-getty.service \
    getty@.service serial-getty@.service container-getty@.service systemd-timesyncd.service; do
  ln -sf /dev/null "/etc/systemd/system/$unit"
done
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/*.log
""",
}


class LabError(Exception):
    """A failure with a message that says what to do; printed without a traceback."""


# ---------------------------------------------------------------- small helpers

def log(msg: str) -> None:
    print(msg, flush=True)


def run(*argv: str, check: bool = True, data: str | None = None,
        timeout: float | None = 60) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, input=data, text=True, capture_output=True, timeout=timeout, check=False)
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


# ---------------------------------------------------------------- state file

def read_state() -> dict:
    try:
        return json.loads(STATE_FILE.read_text())
    except (OSError, ValueError):
        return {}


def write_state(state: dict) -> None:
    tmp = STATE_FILE.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, STATE_FILE)


@contextlib.contextmanager
def locked_state():
    """Read-modify-write the state under a lock: the create process and every supervisor write it."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with open(LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = read_state()
        yield state
        write_state(state)


@contextlib.contextmanager
def command_lock():
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with open(COMMAND_LOCK, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LabError("another tools/lab.py create/destroy/restart is running; wait for it") from None
        yield


def record(kind: str, item: str) -> None:
    """Note an item BEFORE creating it, so a crash in between still leaves a record for destroy."""
    with locked_state() as state:
        items = state.setdefault(kind, [])
        if item not in items:
            items.append(item)


def require_lab() -> dict:
    state = read_state()
    if not state.get("nodes"):
        raise LabError("no lab is up: tools/lab.py create")
    return state


def node_config(state: dict, node: str) -> dict:
    if node not in state.get("nodes", {}):
        raise LabError(f"no node {node!r} in the lab (nodes: {', '.join(state.get('nodes', {})) or 'none'})")
    return state["nodes"][node]


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


# ---------------------------------------------------------------- cgroups

def cgroup_parents() -> list[Path]:
    """Where node cgroups go: our own cgroup in each hierarchy systemd uses (name=systemd v1, v2)."""
    own = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        own[controllers] = path
    parents = []
    for point, fstype, opts in mountinfo():
        key = "" if fstype == "cgroup2" else "name=systemd" if "name=systemd" in opts.split(",") else None
        if key is not None and key in own:
            parents.append(Path(point) / own[key].lstrip("/"))
    return parents


def enter_node_cgroups(node: str) -> None:
    """Move the calling process into cgroups of the node's own (runs in the child before it execs nspawn).

    With --keep-unit nspawn puts a node's systemd under the cgroup nspawn was started in. Started
    side by side in one cgroup, the nodes would share one `payload` tree and tear down each other's
    unit cgroups (units then fail with status 219/CGROUP), so every node gets its own.
    """
    for parent in cgroup_parents():
        own = parent / f"{CGROUP_PREFIX}{node}"
        own.mkdir(exist_ok=True)
        (own / "cgroup.procs").write_text("0")


def lab_cgroups() -> list[Path]:
    return [d for parent in cgroup_parents() for d in sorted(parent.glob(f"{CGROUP_PREFIX}*")) if d.is_dir()]


def remove_lab_cgroups(timeout: float = 5.0) -> None:
    """Remove the nodes' cgroups, innermost first; a cgroup is busy until its last process is reaped."""
    def removed():
        for top in lab_cgroups():
            for sub, _, _ in sorted(os.walk(top), key=lambda w: len(w[0]), reverse=True):
                with contextlib.suppress(OSError):
                    os.rmdir(sub)
        return not lab_cgroups()
    with contextlib.suppress(LabError):
        wait_for(removed, timeout, "the nodes' cgroups to empty", 0.1)


# ---------------------------------------------------------------- the node image (rootfs)

def image_key() -> str:
    return hashlib.sha256(json.dumps(IMAGE, sort_keys=True).encode()).hexdigest()[:12]


def rootfs_path() -> Path:
    return CACHE_DIR / f"rootfs-{image_key()}"


def rootfs_ok(path: Path) -> bool:
    needed = ["sbin/init", "usr/bin/python3", "usr/sbin/sshd", "usr/sbin/nft", "usr/bin/ping",
              ".k8snet-image.json"]
    return all((path / f).exists() for f in needed)


def ensure_rootfs() -> tuple[Path, float | None]:
    """The cached rootfs for IMAGE, built when missing. Returns (path, build seconds or None if cached)."""
    final = rootfs_path()
    if rootfs_ok(final):
        return final, None
    require_tools("debootstrap", "chroot")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(CACHE_DIR / ".build.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)                  # two builders at once: the second one waits
        if rootfs_ok(final):
            return final, None
        started = time.monotonic()
        build_rootfs(final)
        remove_old_images(final)
        return final, time.monotonic() - started


def build_rootfs(final: Path) -> None:
    for stale in CACHE_DIR.glob("build-*"):
        remove_tree(stale)
    tmp = Path(tempfile.mkdtemp(prefix=f"build-{image_key()}-", dir=CACHE_DIR))
    build_log = CACHE_DIR / "build.log"
    log(f"building the node image ({IMAGE['suite']}, debootstrap, 1-2 min; log: {build_log})")
    try:
        debootstrap(tmp, build_log)
        run("chroot", str(tmp), "/bin/sh", "-ec", IMAGE["post_install"], timeout=300)
        (tmp / ".k8snet-image.json").write_text(json.dumps(IMAGE, indent=1, sort_keys=True) + "\n")
        tmp.chmod(0o755)
        remove_tree(final)                                # a half-made dir of the same name, if any
        os.rename(tmp, final)
    except BaseException:
        remove_tree(tmp)
        raise


def debootstrap(target: Path, build_log: Path) -> None:
    argv = ["debootstrap", f"--variant={IMAGE['variant']}", f"--include={','.join(IMAGE['packages'])}",
            IMAGE["suite"], str(target), IMAGE["mirror"]]
    with open(build_log, "w") as out:
        # Its own process group, so that an interrupted build stops all of debootstrap's children.
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        status = proc.wait(timeout=1200)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    if status != 0:
        raise LabError(f"debootstrap failed (can this machine reach {IMAGE['mirror']}?); "
                       f"last lines:\n{tail(build_log)}")


def remove_old_images(keep: Path) -> None:
    in_use = " ".join(opts for _, _, opts in mountinfo())
    for old in CACHE_DIR.glob("rootfs-*"):
        if old != keep and str(old) not in in_use:
            log(f"removing the outdated image {old}")
            remove_tree(old)


def ensure_key() -> Path:
    if not KEY.exists():
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "k8snet-lab", "-f", str(KEY))
    return KEY


# ---------------------------------------------------------------- what a lab looks like (pure)

def node_name(k: int) -> str:
    return f"node{k}"


def node_nics(layout: str, k: int, count: int) -> list[dict]:
    node = node_name(k)
    nat, private = ("enp0s3", "enp0s8") if layout == "renamed" else ("eth0", "eth1")
    if layout == "renamed" and k == count:
        private = "ens9"
    nics = [
        {"name": nat, "kind": "nat", "address": "10.0.2.15/24", "gateway": "10.0.2.2", "mtu": 1500},
        {"name": private, "kind": "bridge", "bridge": BRIDGE, "address": f"192.168.56.{10 + k}/24",
         "mtu": 1400 if layout == "mtu" and k == 2 else 1500},
    ]
    if layout == "multi":
        nics.append({"name": "eth2", "kind": "bridge", "bridge": BRIDGE2, "address": f"172.16.0.{10 + k}/24",
                     "mtu": 1500})
    for i, nic in enumerate(nics):
        nic.update(peer=f"{LINK_PREFIX}{node}-{i}", mac=mac(k, i, 0), peer_mac=mac(k, i, 1))
    return nics


def lab_plan(layout: str, count: int) -> dict:
    if layout not in LAYOUTS:
        raise LabError(f"unknown layout {layout!r}: one of {', '.join(LAYOUTS)}")
    if not 1 <= count <= MAX_NODES:
        raise LabError(f"--nodes must be 1..{MAX_NODES}, not {count}")
    if layout == "mtu" and count < 2:
        raise LabError("the mtu layout changes node2: use --nodes 2 or more")
    nodes = {}
    for k in range(1, count + 1):
        name = node_name(k)
        nodes[name] = {"index": k, "address": f"192.168.56.{10 + k}", "dir": str(NODES_DIR / name),
                       "nics": node_nics(layout, k, count)}
    bridges = [BRIDGE, BRIDGE2] if layout == "multi" else [BRIDGE]
    return {"layout": layout, "nodes": nodes, "bridges": bridges}


def inventory_yaml(layout: str, count: int) -> str:
    plan = lab_plan(layout, count)
    lines = ["---", f"# The lab's inventory as tools/lab.py writes it (layout {layout}, {count} nodes).",
             "# Connection settings: group_vars/all/lab_connection.yml. See docs/LAB.md.",
             "all:", "  hosts:"]
    for name, node in plan["nodes"].items():
        lines += [f"    {name}:", f"      ansible_host: {node['address']}"]
    lines += ["  children:", "    k8s_cluster:", "      children:",
              "        kube_control_plane:", "          hosts:", f"            {node_name(1)}:",
              "        kube_node:", "          hosts:"]
    lines += [f"            {name}:" for name in plan["nodes"]]
    return "\n".join(lines) + "\n"


def client_cidr(addr: str) -> str:
    """ADDR or ADDR/PREFIX; a bare address in the lab network gets its /24 (so it answers ARP there)."""
    try:
        iface = ipaddress.ip_interface(addr)
    except ValueError as e:
        raise LabError(f"not an IP address: {addr!r}") from e
    if "/" not in addr and iface.ip in ipaddress.ip_network(LAB_NETS[0]):
        iface = ipaddress.ip_interface(f"{addr}/24")
    return str(iface)


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


def setup_client(extra: list[str]) -> None:
    record("netns", NS_CLIENT)
    run("ip", "netns", "add", NS_CLIENT)
    record("links", CLIENT_LINK)
    run("ip", "link", "add", CLIENT_LINK, "address", mac(0, 1, 1), "type", "veth",
        "peer", "name", "eth0", "address", mac(0, 1, 0), "netns", NS_CLIENT)
    disable_ipv6(CLIENT_LINK)
    run("ip", "link", "set", CLIENT_LINK, "master", BRIDGE, "up")
    batch = ["link set lo up", f"addr add {CLIENT_ADDR} dev eth0", "link set eth0 up"]
    batch += [f"addr add {a} dev eth0" for a in extra]
    run("ip", "-n", NS_CLIENT, "-batch", "-", data="\n".join(batch) + "\n")


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
    run("nsenter", "-t", str(leader), "-n", "ip", "-batch", "-", data="\n".join(batch) + "\n")


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
                "--resolv-conf=off", "--timezone=off", "-b"]
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


def tcp_open(address: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


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


# ---------------------------------------------------------------- create / destroy

def create(layout: str, count: int, client_ips: list[str], timeout: float = BOOT_TIMEOUT) -> dict:
    plan = lab_plan(layout, count)
    extra = [client_cidr(a) for a in client_ips]
    require_root()
    require_tools("systemd-nspawn", "ip", "nft", "nsenter", "ssh", "ssh-keygen")
    if read_state() or leftovers():
        log("removing the previous lab first")
        destroy(quiet=True)
    check_address_clash()
    rootfs, build_time = ensure_rootfs()
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
    for node in plan["nodes"]:
        mount_overlay(node, rootfs)
        write_identity(node)
        start_supervisor(node)
    write_inventory(layout, count)
    with ThreadPoolExecutor(max_workers=count) as pool:
        ready = pool.map(lambda n: wait_ready(n, timeout), plan["nodes"])
        statuses = dict(zip(plan["nodes"], ready, strict=True))
    return {"statuses": statuses, "boot_seconds": time.monotonic() - started, "build_seconds": build_time}


def save_logs() -> Path:
    """Copy the nodes' logs out of the node dirs (destroy removes those) for a post-mortem."""
    dest = STATE_DIR / "last-failure"
    remove_tree(dest)
    dest.mkdir(parents=True)
    for log_file in NODES_DIR.glob("*/*.log"):
        (dest / f"{log_file.parent.name}-{log_file.name}").write_bytes(log_file.read_bytes())
    return dest


def write_inventory(layout: str, count: int) -> None:
    INVENTORY_DIR.mkdir(parents=True, exist_ok=True)
    (INVENTORY_DIR / "hosts.yml").write_text(inventory_yaml(layout, count))
    link = INVENTORY_DIR / "group_vars"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(REPO / "inventory/lab/group_vars")


def leftovers(state: dict | None = None) -> list[str]:
    """Everything of a lab still present on the machine (recorded or carrying the lab's names)."""
    state = read_state() if state is None else state
    found = []
    for node, cfg in state.get("nodes", {}).items():
        found += [f"process {r['pid']} ({node})" for r in node_records(cfg) if alive(r)]
    found += [f"link {name}" for name in root_links() if is_lab_link(name)]
    found += [f"netns {ns}" for ns in netns_list() if ns in (NS_VOID, NS_CLIENT)]
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
    warn_unrecorded_nspawn()
    remove_lab_cgroups()
    for point in state.get("mounts", []):
        unmount_all_under(Path(point))
    unmount_all_under(STATE_DIR)
    # Deleting a netns takes its veths along; root-side links go by record, then by prefix.
    for ns in set(state.get("netns", [])) | {NS_VOID, NS_CLIENT}:
        if ns in netns_list():
            run("ip", "netns", "del", ns, check=False)
    for name in dict.fromkeys(state.get("links", []) + root_links()):
        if is_lab_link(name):
            with contextlib.suppress(LabError):
                delete_link(name)
    if nft_table_exists():
        run("nft", "delete", "table", "inet", NFT_TABLE, check=False)
    for path in (NODES_DIR, INVENTORY_DIR):
        remove_tree(path)
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


# ---------------------------------------------------------------- commands

def cmd_create(args) -> int:
    require_root()
    lab_plan(args.layout, args.nodes)                  # bad arguments: fail before touching a running lab
    for address in args.client_ip or []:
        client_cidr(address)
    require_tools("systemd-nspawn", "ip", "nft", "nsenter", "ssh", "ssh-keygen")
    with command_lock():
        try:
            result = create(args.layout, args.nodes, args.client_ip or [], args.timeout)
        except BaseException as e:
            clean_up_failed_create(e)
            if isinstance(e, LabError | KeyboardInterrupt):
                return 1
            raise
    built = f"image built in {result['build_seconds']:.0f} s, " if result["build_seconds"] else ""
    log(f"lab up: {built}{args.nodes} nodes ready in {result['boot_seconds']:.1f} s")
    print_status(status())
    for node, st in result["statuses"].items():
        if st != "running":
            log(f"  note: {node} is {st}")
    log(f"inventory: {INVENTORY_DIR / 'hosts.yml'}\n"
        "log in: tools/lab.py shell node1    tear down: tools/lab.py destroy")
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
    if args.json:
        print(json.dumps(st, indent=1, sort_keys=True))
    else:
        print_status(st)
    return 0


def live_leader(node: str) -> int:
    cfg = node_config(require_lab(), node)
    if not alive(cfg.get("leader")):
        raise LabError(f"{node} is not running (tools/lab.py restart {node})")
    return cfg["leader"]["pid"]


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


def cmd_supervise(args) -> int:
    return Supervisor(args.node).run()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tools/lab.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND",
                           help="create, destroy, status, shell, exec, restart, client-ip, inventory, rootfs")

    def shape(sp):
        sp.add_argument("--nodes", type=int, default=3, help=f"number of nodes, 1..{MAX_NODES} (default 3)")
        sp.add_argument("--layout", choices=LAYOUTS, default="vagrant", help="NIC layout (default vagrant)")

    c = sub.add_parser("create", help="build the image if needed and boot the nodes (replaces a running lab)")
    shape(c)
    c.add_argument("--client-ip", action="append", metavar="ADDR", help="extra address of the client netns")
    c.add_argument("--timeout", type=float, default=BOOT_TIMEOUT, help="seconds to wait for the nodes")
    c.set_defaults(func=cmd_create)
    sub.add_parser("destroy", help="remove everything the lab made").set_defaults(func=cmd_destroy)
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
    ci = sub.add_parser("client-ip", help="add/remove an address of the client namespace")
    ci.add_argument("action", choices=("add", "del"))
    ci.add_argument("address")
    ci.set_defaults(func=cmd_client_ip)
    inv = sub.add_parser("inventory", help="print the inventory a lab of this shape gets")
    shape(inv)
    inv.set_defaults(func=cmd_inventory)
    sub.add_parser("rootfs", help="build or verify the cached node image").set_defaults(func=cmd_rootfs)
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
