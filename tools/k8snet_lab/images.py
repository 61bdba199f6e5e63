"""Container images of the lab cluster, built from the pinned builds and pushed to the lab registry.

crane (go-containerregistry) assembles every image: `crane append` stacks the layers
(an optional Debian base with the tools a network component runs, a skeleton of /etc
and /tmp, the image's own files) and `crane mutate` sets the entrypoint, PATH and labels.
Each image is labelled with the hash of what it is made of (`k8snet.lab.key`): an image
the registry already holds with that label is not built again. The Debian base is a
debootstrap rootfs packed once into a gzip layer; its recipe is IMAGE_BASE below.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import struct
import tarfile
import tempfile
import time
from pathlib import Path

from .constants import CACHE_DIR
from .pins import RECIPE, Image, Pins
from .registry import REGISTRY
from .rootfs import debootstrap
from .util import LabError, log, remove_tree, run

LAYERS = CACHE_DIR / "layers"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LABEL = "k8snet.lab.key"

# What the network components need from a distribution: kube-proxy and flanneld drive
# iptables (nft backend, as on the nodes) and nftables, flannel's init container copies files;
# agnhost's own image adds the tools e2e tests run in it (curl, dig, nc, iperf, socat).
IMAGE_BASE = {
    "suite": "bookworm",
    "variant": "minbase",
    "mirror": "http://deb.debian.org/debian",
    "packages": ["ca-certificates", "conntrack", "curl", "dnsutils", "iperf", "iproute2", "iptables",
                 "netcat-openbsd", "nftables", "socat"],
}
SKELETON = {
    "etc/passwd": "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n",
    "etc/group": "root:x:0:\nnogroup:x:65534:\n",
    "etc/nsswitch.conf": "hosts: files dns\n",
}


# capability numbers of linux/capability.h that images name
CAPABILITIES = {"net_bind_service": 10, "net_admin": 12, "net_raw": 13}
VFS_CAP_REVISION_2, VFS_CAP_FLAGS_EFFECTIVE = 0x02000000, 0x000001


def file_capability(names: tuple[str, ...]) -> bytes:
    """The security.capability xattr value (vfs_cap_data revision 2) for names=+ep."""
    bits = 0
    for name in names:
        if name not in CAPABILITIES:
            raise LabError(f"unknown capability {name!r} (known: {', '.join(CAPABILITIES)})")
        bits |= 1 << CAPABILITIES[name]
    return struct.pack("<5I", VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE, bits & 0xFFFFFFFF, 0, bits >> 32, 0)


def key_of(data: object) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:12]


# ---------------------------------------------------------------- layers

def base_layer() -> Path:
    """The Debian base as one gzip layer (cached under its recipe's hash)."""
    final = LAYERS / f"debian-{key_of(IMAGE_BASE)}.tar.gz"
    if final.exists():
        return final
    LAYERS.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="imagebase-", dir=CACHE_DIR))
    started = time.monotonic()
    log(f"building the image base ({IMAGE_BASE['suite']} {', '.join(IMAGE_BASE['packages'])}, debootstrap)")
    try:
        debootstrap(root, CACHE_DIR / "imagebase.log", IMAGE_BASE)
        for junk in ("var/cache/apt", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/locale"):
            shutil.rmtree(root / junk, ignore_errors=True)
        tmp = final.with_suffix(".partial")
        run("tar", "--numeric-owner", "--sort=name", "--mtime=@0", "-C", str(root), "-czf", str(tmp), ".",
            timeout=600)
        os.replace(tmp, final)
    finally:
        remove_tree(root)
    log(f"  image base done in {time.monotonic() - started:.0f} s ({final.stat().st_size >> 20} MiB)")
    return final


def files_layer(path: Path, files: dict[str, Path], skeleton: bool,
                capabilities: dict[str, tuple[str, ...]] | None = None) -> Path:
    """A layer with the image's own files (mode 0755), owned by root, timestamps 0 (reproducible).

    capabilities: file capabilities as PAX xattr records (SCHILY.xattr.security.capability),
    which containerd sets when it unpacks the layer."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        dirs = {"tmp"} | {str(Path(p.lstrip("/")).parent) for p in files} - {"."}
        if skeleton:
            dirs |= {"etc"}
        for d in sorted({parent for top in dirs for parent in _parents(top)}):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755
            tar.addfile(info)
        if skeleton:
            for name, text in SKELETON.items():
                data = text.encode()
                info = tarfile.TarInfo(name)
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
        for dest, src in sorted(files.items()):
            info = tarfile.TarInfo(dest.lstrip("/"))
            info.size, info.mode = src.stat().st_size, 0o755
            if dest in (capabilities or {}):
                value = file_capability(capabilities[dest]).decode("utf-8", "surrogateescape")
                info.pax_headers = {"SCHILY.xattr.security.capability": value}
            with open(src, "rb") as f:
                tar.addfile(info, f)
    return path


def _parents(d: str) -> list[str]:
    parts = Path(d).parts
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


# ---------------------------------------------------------------- images

def sources(image: Image, build_dirs: dict[str, Path]) -> dict[str, Path]:
    """Where each file of the image comes from: "<build>:<binary>"."""
    out = {}
    for dest, ref in image.files.items():
        build, _, binary = ref.partition(":")
        if build not in build_dirs:
            raise LabError(f"image {image.reference} needs {ref}, but no build {build!r} was made")
        out[dest] = build_dirs[build] / binary
    return out


def image_key(image: Image, build_dirs: dict[str, Path]) -> str:
    files = {dest: src.parent.name + "/" + src.name for dest, src in sources(image, build_dirs).items()}
    base = key_of(IMAGE_BASE) if image.base == "debian" else None
    return key_of({"image": image.reference, "files": files, "entrypoint": image.entrypoint, "cmd": image.cmd,
                   "base": base, "recipe": RECIPE, **({"caps": image.capabilities} if image.capabilities else {})})


def crane(crane_bin: Path, *args: str, check: bool = True, timeout: float = 600):
    return run(str(crane_bin), *args, "--insecure", check=check, timeout=timeout)


def present_key(crane_bin: Path, ref: str) -> str | None:
    proc = crane(crane_bin, "config", ref, check=False, timeout=60)
    if proc.returncode != 0:
        return None
    try:
        return (json.loads(proc.stdout).get("config") or {}).get("Labels", {}).get(LABEL)
    except ValueError:
        return None


def ensure_images(pins: Pins, build_dirs: dict[str, Path]) -> dict[str, str]:
    """Every image of the pins in the lab registry (built where missing or stale). Returns ref -> status."""
    crane_bin = build_dirs["crane"] / "crane"
    statuses = {}
    for image in pins.images:
        ref = f"{REGISTRY}/{image.path}"
        key = image_key(image, build_dirs)
        if present_key(crane_bin, ref) == key:
            statuses[image.reference] = "cached"
            continue
        started = time.monotonic()
        build_image(crane_bin, image, ref, key, build_dirs)
        statuses[image.reference] = f"built in {time.monotonic() - started:.0f} s"
        log(f"  image {image.reference}: {statuses[image.reference]}")
    return statuses


def build_image(crane_bin: Path, image: Image, ref: str, key: str, build_dirs: dict[str, Path]) -> None:
    work = Path(tempfile.mkdtemp(prefix="image-", dir=CACHE_DIR))
    try:
        layers = [base_layer()] if image.base == "debian" else []
        layers.append(files_layer(work / "files.tar", sources(image, build_dirs), skeleton=image.base != "debian",
                                  capabilities=image.capabilities))
        argv = ["append", "--oci-empty-base", "-t", ref]
        for layer in layers:
            argv += ["-f", str(layer)]
        crane(crane_bin, *argv)
        labels = {LABEL: key, "org.opencontainers.image.source": image.source,
                  "org.opencontainers.image.title": image.reference}
        if image.note:
            labels["k8snet.lab.note"] = image.note
        mutate = ["mutate", ref, "-t", ref, "--env", PATH_ENV, "--set-platform", "linux/amd64"]
        if image.entrypoint:
            mutate += ["--entrypoint", ",".join(image.entrypoint)]
        if image.cmd:
            mutate += ["--cmd", ",".join(image.cmd)]
        for name, value in labels.items():
            mutate += ["--label", f"{name}={value}"]
        crane(crane_bin, *mutate)
    finally:
        shutil.rmtree(work, ignore_errors=True)
