"""The node image: one recipe (IMAGE), a debootstrap rootfs cached under its hash."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from .constants import CACHE_DIR, KEY, STATE_DIR
from .util import LabError, log, mountinfo, remove_tree, require_tools, run, tail

# ---------------------------------------------------------------- the node image (rootfs)

# The node image, all of it: its hash names the cache dir, so any change here rebuilds.
IMAGE = {
    "suite": "bookworm",
    "variant": "minbase",
    "mirror": "http://deb.debian.org/debian",
    "packages": ["arping", "dbus", "iproute2", "iputils-ping", "kmod", "netcat-openbsd", "nftables",
                 "openssh-server", "procps", "python3", "systemd", "systemd-sysv", "tcpdump",
                 # what a kubeadm host has (the cluster lab turns containerd on; see cluster.py)
                 "ca-certificates", "conntrack", "containerd", "containernetworking-plugins", "ethtool",
                 "iptables", "runc", "socat"],
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
# containerd runs only in a cluster lab (cluster.py enables it in the node's overlay).
rm -f /etc/systemd/system/multi-user.target.wants/containerd.service
# The CNI plugins where kubeadm hosts have them (flannel's init container adds its own there).
mkdir -p /opt/cni/bin
for plugin in bridge host-local loopback portmap; do ln -sf /usr/lib/cni/$plugin /opt/cni/bin/$plugin; done
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/*.log
""",
}


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


def debootstrap(target: Path, build_log: Path, recipe: dict = IMAGE) -> None:
    """debootstrap of a recipe (suite, variant, mirror, packages): the node image or an image base."""
    argv = ["debootstrap", f"--variant={recipe['variant']}", f"--include={','.join(recipe['packages'])}",
            recipe["suite"], str(target), recipe["mirror"]]
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
        raise LabError(f"debootstrap failed (can this machine reach {recipe['mirror']}?); "
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


