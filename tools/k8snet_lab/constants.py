"""Names, addresses and limits of the lab, in one place."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SELF = REPO / "tools/lab.py"                # the CLI; supervisors run it too
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
LAB_NETS = ("192.168.56.0/24", "172.16.0.0/24", "172.16.9.0/24", "172.16.10.0/24")   # the last two: --router
LAYOUTS = ("vagrant", "renamed", "multi", "mtu")
MAX_NODES = 20
MAX_CLUSTER_NODES = 6                     # kubelet + containerd + pods: ~0.5-1 GiB a node
REBOOT_STATUS = 133                       # systemd-nspawn's exit status when the node asked to reboot
BOOT_TIMEOUT = 120.0
STOP_TIMEOUT = 20.0
SSH_OPTS = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5"]
NODE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

