"""The lab registry: distribution's registry in a namespace of its own on the lab bridge.

It listens on 192.168.56.3:5000 (plain HTTP, reachable only on the lab bridge) and keeps
its storage under /var/cache/k8snet-lab/registry, so images pushed once serve every later
lab. Images are stored under their upstream name without the registry host
(`ghcr.io/flannel-io/flannel:v0.28.9` -> `flannel-io/flannel:v0.28.9`): the lab
inventory's `k8s_registry_mirror` (192.168.56.3:5000) rewrites add-on images to exactly
those names, and containerd on every node resolves registry.k8s.io, ghcr.io, quay.io and
docker.io through it, so kubeadm's own images and stock manifests pull from it too.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from .constants import CACHE_DIR, LINK_PREFIX, STATE_DIR
from .network import bridged_namespace
from .state import locked_state, read_state
from .util import LabError, alive, identity, signal_recorded, tail, tcp_open, wait_for

NS_REGISTRY = "k8snet-registry"
REGISTRY_LINK = f"{LINK_PREFIX}registry"
REGISTRY_IP = "192.168.56.3"
REGISTRY_PORT = 5000
REGISTRY = f"{REGISTRY_IP}:{REGISTRY_PORT}"
STORAGE = CACHE_DIR / "registry"
LOG = STATE_DIR / "registry.log"
UPSTREAM_REGISTRIES = ("registry.k8s.io", "ghcr.io", "quay.io", "docker.io")


def config(storage: Path | None = None) -> str:
    storage = storage or STORAGE
    return (
        "version: 0.1\n"
        "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: {REGISTRY}\n"
    )


def start(binary: Path) -> None:
    """Start the registry (after the lab bridge exists) and wait until it answers."""
    bridged_namespace(NS_REGISTRY, REGISTRY_LINK, 3, [f"{REGISTRY_IP}/24"])
    STORAGE.mkdir(parents=True, exist_ok=True)
    cfg = STATE_DIR / "registry.yml"
    cfg.write_text(config())
    with open(LOG, "ab") as out:
        proc = subprocess.Popen(["ip", "netns", "exec", NS_REGISTRY, str(binary), "serve", str(cfg)],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd="/")
    with locked_state() as state:
        state["registry"] = identity(proc.pid)

    def answers():
        if proc.poll() is not None:
            raise LabError(f"the lab registry exited with {proc.returncode}:\n{tail(LOG)}")
        return tcp_open(REGISTRY_IP, REGISTRY_PORT)
    wait_for(answers, 30, f"the lab registry on {REGISTRY}", 0.1)


def stop(state: dict | None = None) -> None:
    rec = (read_state() if state is None else state).get("registry")
    signal_recorded(rec, signal.SIGTERM)
    try:
        wait_for(lambda: not alive(rec), 5, "the registry to exit", 0.1)
    except LabError:
        signal_recorded(rec, signal.SIGKILL)


def running(state: dict) -> bool:
    return alive(state.get("registry"))


def hosts_toml(upstream: str | None) -> str:
    """containerd's hosts.toml for one registry name: pull and resolve from the lab registry over HTTP.

    For the lab registry itself `server` is the registry; for an upstream name the lab registry
    is its mirror (containerd keeps the repository path, which is how images are stored).
    """
    server = f'server = "https://{upstream}"\n' if upstream else f'server = "http://{REGISTRY}"\n'
    return server + f'\n[host."http://{REGISTRY}"]\n  capabilities = ["pull", "resolve"]\n'
