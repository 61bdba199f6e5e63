"""The lab as a kubeadm cluster on day 0 (tools/lab.py create --cluster): what an operator has
before `site.yml` runs, and that the lab leaves nothing behind.

- vagrant layout (the renamed one: test_api_layouts_lab.py, before it installs): every Node
  registered on its lab-bridge address (never the NAT 10.0.2.15), a pod subnet from the lab
  inventory's pod network, NotReady because no CNI is installed, CoreDNS Pending, kube-proxy
  running, kubeadm's control-plane taint and labels kept;
- a hostNetwork pod pinned to node2 answers HTTP from node1 (and does not before it exists);
- a crashed lab (every process killed, nothing cleaned) is replaced by the next create, and
  destroy leaves no process, mount, containerd state, cgroup in any hierarchy, registry, link,
  namespace or changed kernel setting; the check that says so is shown finding a live lab first.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import signal
from pathlib import Path

import pytest
from k8snet_lab.pins import AGNHOST  # importable: conftest imports harness, which puts tools/ on the path
from k8snet_lab.util import mountinfo

from tests.integration.harness import lab_tool, wait_until

pytestmark = [pytest.mark.lab, pytest.mark.cluster]

POD_NETWORK = ipaddress.ip_network("10.244.0.0/16")     # the lab inventory's (README default) pod network
NODE_POD_PREFIX = 24
CNI_REASON = "cni plugin not initialized"
CONTROL_PLANE_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
EXCLUDE_LB = "node.kubernetes.io/exclude-from-external-load-balancers"
HOST_SYSCTLS = ("vm/overcommit_memory", "kernel/panic", "kernel/panic_on_oops")
STATE_DIR = Path("/var/lib/k8snet-lab")
HOSTNET_POD = f"""
apiVersion: v1
kind: Pod
metadata: {{name: hostnet-http, namespace: default}}
spec:
  nodeName: node2
  hostNetwork: true
  containers:
    - name: agnhost
      image: registry.k8s.io/e2e-test-images/agnhost:{AGNHOST}
      args: [netexec, --http-port=18080, --udp-port=-1]
"""
GET_HOSTNAME = ("import sys, urllib.request; "
                "print(urllib.request.urlopen(f'http://{sys.argv[1]}:18080/hostname', timeout=5).read().decode())")


def nodes_by_name(lab) -> dict[str, dict]:
    return {item["metadata"]["name"]: item for item in lab.kube_json("get", "nodes")["items"]}


def kube_system_pods(lab, label: str) -> list[dict]:
    return lab.kube_json("get", "pods", "-n", "kube-system", "-l", label)["items"]


def assert_day0(lab) -> None:
    nodes = nodes_by_name(lab)
    assert sorted(nodes) == sorted(lab.nodes)
    subnets = []
    for name, node in nodes.items():
        addresses = {a["type"]: a["address"] for a in node["status"]["addresses"]}
        assert addresses["InternalIP"] == lab.addresses[name], name       # the lab-bridge NIC, never the NAT one
        assert "10.0.2.15" not in addresses.values(), name
        assert node["status"]["nodeInfo"]["kubeletVersion"] == lab.state["kubernetes"], name
        (cidr,) = node["spec"]["podCIDRs"]
        subnet = ipaddress.ip_network(cidr)
        assert subnet.subnet_of(POD_NETWORK) and subnet.prefixlen == NODE_POD_PREFIX, (name, cidr)
        subnets.append(subnet)
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "False" and CNI_REASON in ready["message"], (name, ready)
    assert len(set(subnets)) == len(subnets), subnets
    first = nodes[lab.nodes[0]]
    assert any({k: t.get(k) for k in ("key", "effect")} == CONTROL_PLANE_TAINT for t in first["spec"]["taints"])
    assert EXCLUDE_LB in first["metadata"]["labels"]
    # kube-proxy (hostNetwork) runs on every node; CoreDNS waits for a pod network
    def proxies_running():
        pods = kube_system_pods(lab, "k8s-app=kube-proxy")
        return sorted(p["spec"]["nodeName"] for p in pods if p["status"]["phase"] == "Running") == sorted(lab.nodes)
    wait_until(proxies_running, 120, "kube-proxy on every node")
    coredns = kube_system_pods(lab, "k8s-app=kube-dns")
    assert coredns and all(p["status"]["phase"] == "Pending" for p in coredns), [p["status"] for p in coredns]


def test_vagrant_cluster_on_day_0(lab_cluster):
    lab = lab_cluster("vagrant")
    assert_day0(lab)
    assert f"server: https://{lab.addresses['node1']}:6443" in lab.kubeconfig.read_text()


def test_hostnetwork_pod_on_node2_answers_http_from_node1(lab_cluster):
    lab = lab_cluster("vagrant")
    node2 = lab.addresses["node2"]
    get = ["python3", "-c", GET_HOSTNAME, node2]
    before = lab.exec("node1", get, check=False)
    assert before.returncode != 0 and "refused" in before.stderr, before      # negative control: nothing there yet
    lab.kubectl("apply", "-f", "-", data=HOSTNET_POD)
    try:
        lab.kubectl("wait", "--for=condition=Ready", "pod/hostnet-http", "--timeout=120s", timeout=150)
        pod = lab.kube_json("get", "pod", "hostnet-http")
        assert pod["status"]["podIP"] == node2 and pod["spec"]["nodeName"] == "node2"
        assert lab.exec("node1", get).stdout.strip() == "node2"
    finally:
        lab.kubectl("delete", "pod", "hostnet-http", "--wait=false", check=False)


# ---------------------------------------------------------------- nothing left behind

def machine_leftovers() -> list[str]:
    """What of a lab this machine still has, found without the lab tool's own records."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "/var/lib/k8snet-lab/" in cmdline or "k8snet-lab/bin/registry" in cmdline:
                found.append(f"process {proc.name}: {cmdline[:80]}")
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        if "/var/lib/k8snet-lab" in line.split(" - ")[0]:
            found.append(f"mount {line.split()[4]}")
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        found += [f"cgroup {p}" for p in hierarchy.rglob("k8snet-lab-*") if p.is_dir()]
    links = json.loads(os.popen("ip -j link show").read() or "[]")
    found += [f"link {link['ifname']}" for link in links if link["ifname"].startswith(("k8l-", "k8snet-br"))]
    found += [f"netns {ns}" for ns in os.listdir("/run/netns") if ns.startswith("k8snet-")] \
        if Path("/run/netns").exists() else []
    for leftover in ("nodes", "admin.conf", "state.json"):
        if (STATE_DIR / leftover).exists():
            found.append(f"file {STATE_DIR / leftover}")
    return found


def host_sysctls() -> dict[str, str]:
    return {name: Path("/proc/sys", name).read_text().strip() for name in HOST_SYSCTLS}


def test_create_after_a_crash_and_destroy_leaves_nothing(lab_cluster):
    lab_tool("destroy")
    before = host_sysctls()
    lab = lab_cluster("vagrant")
    live = machine_leftovers()
    # negative control: the same check finds a running cluster lab in every place it looks
    for kind in ("process", "mount", "cgroup", "link", "netns", "file"):
        assert any(item.startswith(kind) for item in live), (kind, live)
    assert any("/memory/" in item for item in live) and any("/cpuset/" in item for item in live), live
    # a crash: every process of the lab killed at once, nothing cleaned up
    state = lab.state
    for cfg in state["nodes"].values():
        for key in ("leader", "nspawn", "supervisor"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(cfg[key]["pid"], signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.kill(state["registry"]["pid"], signal.SIGKILL)
    lab_tool("create", "--cluster", timeout=900)
    lab = lab_cluster("vagrant")
    assert_day0(lab)
    # and a node cgroup of a lab that a process in another cgroup created (another shell, a CI runner)
    hierarchy = next(Path(point) for point, fstype, _ in mountinfo() if fstype in ("cgroup", "cgroup2"))
    elsewhere = hierarchy / "k8snet-test-elsewhere"
    (elsewhere / "k8snet-lab-node1").mkdir(parents=True, exist_ok=True)
    try:
        destroyed = lab_tool("destroy")
        assert "lab destroyed" in destroyed.stdout, destroyed.stdout
        assert machine_leftovers() == []
    finally:
        with contextlib.suppress(FileNotFoundError):
            (elsewhere / "k8snet-lab-node1").rmdir()
        elsewhere.rmdir()
    assert host_sysctls() == before

