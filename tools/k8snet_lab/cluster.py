"""The lab as a kubeadm cluster on day 0: containerd and kubelet in every node, no CNI.

`tools/lab.py create --cluster` boots the nodes with what a kubeadm host has (containerd,
runc, the CNI plugins in /opt/cni/bin, kubelet and kubeadm), runs `kubeadm init` on node1
with the lab inventory's pod network, service network and NodePort range, the API server
and every kubelet on the node's lab-bridge address (never the NAT one), and joins the
other nodes. kube-proxy and CoreDNS are kubeadm's; no CNI is installed, so the Nodes stay
NotReady ("cni plugin not initialized") until `site.yml` installs flannel.

What a node needs to run containers inside systemd-nspawn on this machine (docs/LAB.md):
a cgroup of its own in every v1 hierarchy (cgroups.py), keyctl allowed, the v1 controller
mounts remounted read-write before containerd starts, containerd's CRI with
`restrict_oom_score_adj`, no rlimit above the inherited hard limit, /dev/kmsg, and
containerd's state on the machine's file system (overlayfs cannot sit on the node's
overlay root).
"""

from __future__ import annotations

import json
import re
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .constants import REPO, STATE_DIR
from .nodes import leader_pid, node_root
from .pins import COREDNS, ETCD_TAG, Pins
from .registry import REGISTRY, UPSTREAM_REGISTRIES, hosts_toml
from .state import locked_state, read_state
from .util import LabError, log, run, wait_for, write_file

KUBECONFIG = STATE_DIR / "admin.conf"
IN_NODE_BIN = "/opt/k8snet-lab/bin"                 # the Kubernetes build, bound read-only into each node
KUBE_BINARIES = ("kubeadm", "kubelet", "kubectl")
INVENTORY_VARS = REPO / "inventory/lab/group_vars/k8s_cluster/network.yml"
# The contract's defaults (README "Variables"), used where the lab inventory does not set them.
NETWORK_DEFAULTS = {"k8s_pod_cidr": "10.244.0.0/16", "k8s_service_cidr": "10.96.0.0/12",
                    "k8s_nodeport_range": "30000-32767", "k8s_node_pod_prefix": "24"}
# kubelet's kernel tunables (pkg/kubelet/cm setupKernelTunables). They are not namespaced and
# /proc/sys is read-only in a node, so a kubelet there can only start when the machine has them.
HOST_SYSCTLS = {"vm/overcommit_memory": "1", "kernel/panic": "10", "kernel/panic_on_oops": "1"}
JOIN_TIMEOUT = 300.0


def network_settings(path: Path = INVENTORY_VARS) -> dict[str, str]:
    """The lab inventory's cluster networks: simple `key: value` lines of its group_vars, else the defaults."""
    settings = dict(NETWORK_DEFAULTS)
    text = path.read_text() if path.exists() else ""
    for key in settings:
        if m := re.search(rf"^{key}:\s*['\"]?([^'\"\s#]+)", text, re.M):
            settings[key] = m.group(1)
    return settings


# ---------------------------------------------------------------- the machine's kernel tunables

def set_host_sysctls() -> None:
    """Set kubelet's tunables on the machine, recording the values found so destroy puts them back."""
    with locked_state() as state:
        saved = state.setdefault("host_sysctls", {})
        for name, value in HOST_SYSCTLS.items():
            path = Path("/proc/sys") / name
            current = path.read_text().strip()
            if current != value:
                saved.setdefault(name, current)
                path.write_text(value)


def restore_host_sysctls(state: dict) -> None:
    for name, value in state.get("host_sysctls", {}).items():
        Path("/proc/sys", name).write_text(value)


# ---------------------------------------------------------------- what each node gets before it boots

def nspawn_args(node: str, cfg: dict, bin_dir: Path) -> list[str]:
    state_dir = Path(cfg["dir"]) / "containerd"
    state_dir.mkdir(parents=True, exist_ok=True)
    return ["--system-call-filter=add_key keyctl", f"--bind={state_dir}:/var/lib/containerd",
            f"--bind-ro={bin_dir}:{IN_NODE_BIN}"]


def containerd_config(pins: Pins) -> str:
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""version = 2
# k8snet lab (tools/k8snet_lab/cluster.py)
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pins.pause_image.reference}"
  # nothing in a lab node may lower an oom_score_adj (no CAP_SYS_RESOURCE on this machine)
  restrict_oom_score_adj = true
  [{cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [{cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [{cri}.containerd.runtimes.runc.options]
        SystemdCgroup = false
  [{cri}.cni]
    bin_dir = "/opt/cni/bin"
    conf_dir = "/etc/cni/net.d"
  [{cri}.registry]
    config_path = "/etc/containerd/certs.d"
"""


def hard_limits() -> dict[str, str]:
    """This process's hard rlimits, as systemd Limit*= values (no unit may ask for more here)."""
    names = {"Max open files": "NOFILE", "Max processes": "NPROC", "Max core file size": "CORE"}
    out = {}
    for line in Path("/proc/self/limits").read_text().splitlines():
        for label, key in names.items():
            if line.startswith(label):
                hard = line[len(label):].split()[1]
                out[key] = "infinity" if hard == "unlimited" else hard
    return out


CGROUP_RW_UNIT = """[Unit]
Description=k8snet lab: v1 cgroup controllers read-write for containerd and kubelet
DefaultDependencies=no
Before=containerd.service kubelet.service
After=local-fs.target

[Service]
Type=oneshot
RemainAfterExit=yes
# systemd-nspawn mounts the v1 controllers read-only; the node's cgroup namespace shows only
# its own subtree, so making them writable here cannot touch another node or the machine.
ExecStart=/bin/sh -c 'for c in /sys/fs/cgroup/*/; do mount -o remount,bind,rw "$c"; done'

[Install]
WantedBy=multi-user.target
"""

KUBELET_UNIT = f"""[Unit]
Description=kubelet (k8snet lab; configured by kubeadm)
Wants=containerd.service
After=containerd.service k8snet-cgroup-rw.service

[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf \
--kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
ExecStart={IN_NODE_BIN}/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
"""

# What kubeadm's install guide asks of a host before `kubeadm init` (forwarding, bridged traffic
# through iptables). The node's /proc/sys/net is its own; systemd-sysctl applies this at boot.
PREREQ_SYSCTL = "net.ipv4.ip_forward = 1\nnet.bridge.bridge-nf-call-iptables = 1\n" \
                "net.bridge.bridge-nf-call-ip6tables = 1\n"
PREREQ_SYSCTL_FILE = "etc/sysctl.d/90-kubeadm-prerequisites.conf"


def prepare_node_tree(node: str, pins: Pins) -> None:
    """Write what a kubeadm host has into the node's overlay (before it boots)."""
    root = node_root(node)
    limits = "\n".join(f"Limit{key}={value}" for key, value in hard_limits().items())
    files = {
        "etc/containerd/config.toml": containerd_config(pins),
        f"etc/containerd/certs.d/{REGISTRY}/hosts.toml": hosts_toml(None),
        **{f"etc/containerd/certs.d/{name}/hosts.toml": hosts_toml(name) for name in UPSTREAM_REGISTRIES},
        "etc/systemd/system/containerd.service.d/k8snet-lab.conf":
            f"[Service]\n# no rlimit above the inherited hard limit, no negative OOM score here\n{limits}\n"
            "OOMScoreAdjust=0\nExecStartPre=\n",
        "etc/systemd/system/k8snet-cgroup-rw.service": CGROUP_RW_UNIT,
        "etc/systemd/system/kubelet.service": KUBELET_UNIT,
        # kubelet reads the kernel log; a node has none of its own (as kind does it)
        "etc/tmpfiles.d/k8snet-kmsg.conf": "L /dev/kmsg - - - - /dev/console\n",
        PREREQ_SYSCTL_FILE: PREREQ_SYSCTL,
        # pods get a resolver that answers at once (the lab has no DNS): the controller's lab address
        "etc/kubernetes/resolv.conf": "nameserver 192.168.56.1\n",
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        write_file(path, text)
    wants = root / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    for unit, target in (("containerd.service", "/lib/systemd/system/containerd.service"),
                         ("k8snet-cgroup-rw.service", "/etc/systemd/system/k8snet-cgroup-rw.service"),
                         ("kubelet.service", "/etc/systemd/system/kubelet.service")):
        link = wants / unit
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target)
    for binary in KUBE_BINARIES:
        link = root / "usr/local/bin" / binary
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(f"{IN_NODE_BIN}/{binary}")


# ---------------------------------------------------------------- kubeadm

def node_registration(node: str, address: str) -> str:
    """kubeadm's nodeRegistration of a lab node (init and join): kubelet on the lab-bridge address."""
    return f"""nodeRegistration:
  name: {node}
  criSocket: unix:///run/containerd/containerd.sock
  kubeletExtraArgs:
    - name: node-ip
      value: {address}
  # cgroup v1: kubeadm 1.35+ refuses it unless this check is skipped (and kubelet's failCgroupV1 is false)
  ignorePreflightErrors: [SystemVerification]
"""


def kubeadm_init_config(pins: Pins, node: str, address: str, token: str, net: dict[str, str], *,
                        kube_proxy_mode: str = "iptables") -> str:
    return f"""apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
bootstrapTokens:
  - token: "{token}"
    ttl: 2h0m0s
localAPIEndpoint:
  advertiseAddress: {address}
  bindPort: 6443
{node_registration(node, address)}---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: {pins.kubernetes}
controlPlaneEndpoint: {address}:6443
etcd:
  local:
    imageTag: {ETCD_TAG}
dns:
  imageTag: {COREDNS}
networking:
  podSubnet: {net['k8s_pod_cidr']}
  serviceSubnet: {net['k8s_service_cidr']}
apiServer:
  extraArgs:
    - name: service-node-port-range
      value: {net['k8s_nodeport_range']}
controllerManager:
  extraArgs:
    - name: node-cidr-mask-size-ipv4
      value: "{net['k8s_node_pod_prefix']}"
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
# this machine's cgroups are v1 (hybrid): kubelet 1.35+ refuses them unless told
failCgroupV1: false
# no negative OOM score here (no CAP_SYS_RESOURCE)
oomScoreAdj: 0
resolvConf: /etc/kubernetes/resolv.conf
---
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: {kube_proxy_mode}
# nf_conntrack_max is not settable from a node's network namespace
conntrack:
  maxPerCore: 0
oomScoreAdj: 0
"""


def kubeadm_join_config(node: str, address: str, endpoint: str, token: str, ca_hash: str) -> str:
    return f"""apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: {endpoint}
    token: "{token}"
    caCertHashes: ["{ca_hash}"]
{node_registration(node, address)}"""


def in_node(node: str, script: str, timeout: float = 600, check: bool = True):
    """Run a shell script inside a node (nsenter into its namespaces), output captured."""
    argv = ["nsenter", "-t", str(leader_pid(node)), "-m", "-u", "-i", "-n", "-p", "--",
            "env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root",
            "/bin/sh", "-ec", script]
    return run(*argv, timeout=timeout, check=check)


def purge_iptables(node: str) -> None:
    """A node as a distribution that ships nftables only leaves it: no iptables package, no iptables command."""
    out = in_node(node, "dpkg --purge --force-depends iptables >/var/log/k8snet-purge-iptables.log 2>&1 "
                  "&& ! command -v iptables && ! command -v ip6tables", check=False)
    if out.returncode != 0:
        raise LabError(f"purging iptables on {node} failed:\n{out.stdout}{out.stderr}")


def bring_up(pins: Pins, state: dict, joined: int | None = None, kube_proxy_mode: str = "iptables",
             without_iptables: bool = False) -> dict:
    """kubeadm init on the first node, kubeadm join on the others (only up to `joined` nodes in all:
    the rest boot and wait for `join_node`, as a node an operator adds on day 2), kube-proxy in
    `kube_proxy_mode`; with `without_iptables` every node's iptables package is purged first. Returns timings."""
    nodes = list(state["nodes"])
    if without_iptables:
        with ThreadPoolExecutor(max_workers=len(nodes)) as pool:
            list(pool.map(purge_iptables, nodes))
    first = nodes[0]
    address = state["nodes"][first]["address"]
    net = network_settings()
    token = f"{secrets.token_hex(3)}.{secrets.token_hex(8)}"
    write_file(node_root(first) / "etc/kubernetes/kubeadm-init.yaml",
               kubeadm_init_config(pins, first, address, token, net, kube_proxy_mode=kube_proxy_mode))
    started = time.monotonic()
    log(f"kubeadm init on {first} (Kubernetes {pins.kubernetes}, pods {net['k8s_pod_cidr']}, "
        f"services {net['k8s_service_cidr']}, NodePorts {net['k8s_nodeport_range']}, kube-proxy {kube_proxy_mode})")
    init = in_node(first, "kubeadm init --config /etc/kubernetes/kubeadm-init.yaml --skip-token-print "
                   "> /var/log/kubeadm-init.log 2>&1 || { tail -40 /var/log/kubeadm-init.log; exit 1; }",
                   check=False)
    if init.returncode != 0:
        raise LabError(f"kubeadm init failed on {first}:\n{init.stdout}{init.stderr}")
    timings = {"init": time.monotonic() - started}
    KUBECONFIG.write_text((node_root(first) / "etc/kubernetes/admin.conf").read_text())
    KUBECONFIG.chmod(0o600)
    ca_hash = in_node(first, "kubeadm token create --print-join-command").stdout
    ca_hash = re.search(r"--discovery-token-ca-cert-hash (sha256:[0-9a-f]{64})", ca_hash).group(1)
    join = {"endpoint": f"{address}:6443", "token": token, "ca_hash": ca_hash}
    members = nodes[:joined] if joined else nodes
    if len(members) > 1:
        log(f"kubeadm join on {', '.join(members[1:])}")
        with ThreadPoolExecutor(max_workers=len(members) - 1) as pool:
            list(pool.map(lambda node: _join(state, node, join), members[1:]))
    wait_for(lambda: len(node_objects()) == len(members), JOIN_TIMEOUT, "every Node to register", 1.0)
    timings["registered"] = time.monotonic() - started
    with locked_state() as st:
        st["cluster"] = {"kubernetes": pins.kubernetes, "kubeconfig": str(KUBECONFIG), "network": net,
                         "timings": timings, "join": join, "kube_proxy_mode": kube_proxy_mode,
                         "without_iptables": without_iptables}
    return timings


def _join(state: dict, node: str, join: dict) -> None:
    addr = state["nodes"][node]["address"]
    write_file(node_root(node) / "etc/kubernetes/kubeadm-join.yaml",
               kubeadm_join_config(node, addr, join["endpoint"], join["token"], join["ca_hash"]))
    out = in_node(node, "kubeadm join --config /etc/kubernetes/kubeadm-join.yaml > /var/log/kubeadm-join.log "
                  "2>&1 || { tail -30 /var/log/kubeadm-join.log; exit 1; }", check=False)
    if out.returncode != 0:
        raise LabError(f"kubeadm join failed on {node}:\n{out.stdout}{out.stderr}")


def join_node(state: dict, node: str) -> float:
    """kubeadm join of a booted node that is not in the cluster yet (day 2). Returns seconds."""
    if node not in state["nodes"]:
        raise LabError(f"no node {node} in this lab ({', '.join(state['nodes'])})")
    join = (state.get("cluster") or {}).get("join")
    if not join:
        raise LabError("this lab is not a cluster (tools/lab.py create --cluster)")
    names = {n["metadata"]["name"] for n in node_objects()}
    if node in names:
        raise LabError(f"{node} is a Node of the cluster already")
    started = time.monotonic()
    _join(state, node, join)
    wait_for(lambda: node in {n["metadata"]["name"] for n in node_objects()}, JOIN_TIMEOUT,
             f"{node} to register", 1.0)
    return time.monotonic() - started


# ---------------------------------------------------------------- reading the cluster

def kubectl(*args: str, timeout: float = 60, check: bool = True):
    """The lab's own kubectl (from the Kubernetes build) with the admin kubeconfig."""
    return run(str(host_kubectl()), f"--kubeconfig={KUBECONFIG}", *args, timeout=timeout, check=check)


def host_kubectl() -> Path:
    path = read_state().get("kubectl")
    if not path:
        raise LabError("this lab is not a cluster (tools/lab.py create --cluster)")
    return Path(path)


def node_objects() -> list[dict]:
    out = kubectl("get", "nodes", "-o", "json", check=False)
    if out.returncode != 0:
        return []
    return json.loads(out.stdout).get("items", [])


def node_summary(items: list[dict]) -> list[dict]:
    rows = []
    for item in items:
        ready = next((c for c in item["status"].get("conditions", []) if c["type"] == "Ready"), {})
        addresses = {a["type"]: a["address"] for a in item["status"].get("addresses", [])}
        rows.append({"name": item["metadata"]["name"], "ready": ready.get("status") == "True",
                     "reason": ready.get("reason", ""), "message": ready.get("message", ""),
                     "internal_ip": addresses.get("InternalIP"), "pod_cidrs": item["spec"].get("podCIDRs", []),
                     "kubelet": item["status"].get("nodeInfo", {}).get("kubeletVersion")})
    return rows
