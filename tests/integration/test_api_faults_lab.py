"""Faults in the middle of an api-mode run (lab cluster), as operators meet them. One cluster for the
module: each test after the first converges from what the one before left, as a day-2 run would.

- The API server restarted while the first run applies the add-ons on day 0 (its process killed; the kubelet
  starts the container again): the run fails naming the API, or converges; either way the re-run converges and
  the one after it changes nothing, and the record in the cluster is the plan that was applied.
- Killed in the middle of the MetalLB apply (SIGKILL to the whole ansible-playbook process group,
  the moment the speaker DaemonSet it is re-creating appears), on a day-2 run that also owes two
  removals: a MetalLB pool and an exposed Service dropped from the inventory. The exposed Service
  is still there after the kill (its add-on comes after MetalLB), so the removal really is owed.
  Re-run from a controller with an empty home directory and a new render directory (no cached
  kubeconfig, no staging): it converges, the owed removals happen (what was applied is read from
  the cluster's record, not from a disk), and the next run changes nothing.
- The node announcing a LoadBalancer address loses power (`tools/lab.py stop --kill`): another
  speaker takes the address (ServiceL2Status and the client's neighbour entry follow), requests
  from the client resume (the time is printed), and the node boots again with its flannel and
  speaker pods Running.
- A node behind a drop-policy nftables firewall (the operator's own: SSH and the kubelet open) is
  rebooted with `ansible.builtin.reboot` after site.yml opened its ports: Ansible reconnects over SSH
  (never cut), the Node comes back Ready with its flannel and speaker pods Running, the openings are
  loaded again at boot, verify's four kinds of traffic pass, and the next run changes nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from tests.integration.harness import REPO, lab_tool, wait_until
from tests.integration.renders import traffic_lines
from tests.integration.test_api_lab import assert_every_kind_passed

pytestmark = [pytest.mark.lab, pytest.mark.cluster, pytest.mark.upstream]

LAB_POOL = {"name": "lab-l2", "addresses": ["192.168.56.240-192.168.56.250"]}
# not auto-assigned: no Service (the ingress controller's) takes an address from it, so removing it is no
# disruption the pool guard would refuse
EXTRA_POOL = {"name": "lab-extra", "addresses": ["192.168.56.230-192.168.56.235"], "auto_assign": False}
DNS_NP = {"name": "dns-np", "namespace": "kube-system", "type": "nodeport", "target": "kube-dns",
          "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "node_port": 30053}]}


@pytest.fixture(scope="module")
def cluster(lab_manager):
    """One cluster for the module: the API-server restart comes first, on day 0 (it must land amid the first
    apply); each later test converges from what the one before left (a day-2 run, as operators meet faults)."""
    yield lab_manager.get("vagrant", 3, cluster=True, day0=True)
    lab_tool("destroy", check=False)


@pytest.fixture
def empty_home():
    """A controller's empty home directory; short, as ssh's ControlPath under $HOME/.ansible/cp must fit
    a Unix socket's 108 bytes (tmp_path is too deep)."""
    home = Path(tempfile.mkdtemp(prefix="home-", dir="/tmp"))
    yield home
    shutil.rmtree(home, ignore_errors=True)


def playbook_argv(inventory: Path, extravars: dict) -> list[str]:
    return [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), "site.yml",
            "--skip-tags", "verify", "-e", json.dumps(extravars)]


def run_with_fault(inventory: Path, extravars: dict, ready, fault, timeout: float = 900) -> tuple[int, str, bool]:
    """ansible-playbook with `fault()` done once, the moment `ready()` is true. -> (rc, output, fault done)."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    proc = subprocess.Popen(playbook_argv(inventory, extravars), cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    done = threading.Event()

    def watch():
        while proc.poll() is None and not done.is_set():
            if ready():
                fault(proc)
                done.set()
                return
            time.sleep(0.2)
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        output, _ = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        done.set()
        watcher.join(5)
    return proc.returncode, output, done.is_set()


def exists(lab, *what: str) -> bool:
    return lab.kubectl("get", *what, check=False, timeout=20).returncode == 0


def pools(lab) -> list[str]:
    return sorted(p["metadata"]["name"]
                  for p in lab.kube_json("-n", "metallb-system", "get", "ipaddresspools.metallb.io")["items"])


def wait_back(lab, node: str) -> None:
    """A node that went down is back: its Node Ready, its flannel and MetalLB speaker pods Running."""
    wait_until(lambda: next(c["status"] for c in lab.kube_json("get", "node", node)["status"]["conditions"]
                            if c["type"] == "Ready") == "True", 240, f"{node} to be Ready again")

    def running_on(namespace: str) -> bool:
        pods = lab.pods_on(namespace, node)
        return bool(pods) and all(pods.values())
    wait_until(lambda: running_on("kube-flannel") and running_on("metallb-system"), 240,
               f"flannel and the speaker Running on {node} again")


def test_an_api_server_restart_during_the_apply_fails_clearly_or_converges_and_the_rerun_converges(
        cluster, run_playbook, tmp_path):
    lab = cluster
    staging = {"k8s_render_dir": str(tmp_path / "staging")}

    def restart_apiserver(_proc):
        lab.exec("node1", "pkill -x kube-apiserver", timeout=60)          # the kubelet starts it again

    rc, output, restarted = run_with_fault(
        lab.inventory, staging, ready=lambda: exists(lab, "namespace", "kube-flannel"), fault=restart_apiserver)
    assert restarted, f"the run never reached the flannel apply:\n{output[-3000:]}"
    if rc != 0:                                                   # failed: clearly, naming the API
        said = output[output.find("fatal:"):][:3000] if "fatal:" in output else output[-3000:]
        assert any(word in said for word in ("API", "connect", "refused", "timed out", "cluster")), said
    wait_until(lambda: lab.kubectl("get", "--raw", "/readyz", check=False, timeout=10).returncode == 0, 180,
               "the API server to be back")
    # A CRD that had its names accepted but was not yet Established when the API server died stays so until
    # kube-apiserver's naming controller resyncs (5 min after it starts; seen 6 min on 2026-12-06, MetalLB's
    # l2advertisements), and MetalLB's controller crash-loops meanwhile ("no matches for kind L2Advertisement"),
    # its back-off growing to 5 min. The re-run converges once both are over: each of its waits gets 10 min.
    again = run_playbook("site.yml", lab.inventory, skip_tags="verify",
                         extravars={**staging, "cluster_addon_wait_timeout": 600})
    assert again.rc == 0, again.why()
    third = run_playbook("site.yml", lab.inventory, skip_tags="verify", extravars=staging)
    assert third.rc == 0 and third.changed_hosts() == [], third.stats
    record = lab.kube_json("-n", "kube-system", "get", "configmaps", "-l", "app.kubernetes.io/managed-by=k8snet")
    assert record["items"], "no record of the applied plan in the cluster"


def test_killed_mid_apply_then_rerun_from_an_empty_home_converges_and_does_the_owed_removals(
        cluster, run_playbook, tmp_path, empty_home):
    lab = cluster
    first_dir = {"k8s_render_dir": str(tmp_path / "first")}
    first = run_playbook("site.yml", lab.inventory, skip_tags="verify",
                         extravars={**first_dir, "metallb_pools": [LAB_POOL, EXTRA_POOL],
                                    "k8s_exposed_services": [DNS_NP]})
    assert first.rc == 0, first.why()
    assert pools(lab) == ["lab-extra", "lab-l2"] and exists(lab, "-n", "kube-system", "service", "dns-np")

    # Drift that gives the MetalLB apply something to wait for: its speaker DaemonSet deleted by hand.
    lab.kubectl("-n", "metallb-system", "delete", "daemonset", "speaker", "--wait=true", timeout=120)

    def kill(proc):
        os.killpg(proc.pid, signal.SIGKILL)

    rc, output, killed = run_with_fault(
        lab.inventory, {**first_dir, "metallb_pools": [LAB_POOL], "k8s_exposed_services": []},
        ready=lambda: exists(lab, "-n", "metallb-system", "daemonset", "speaker"), fault=kill)
    assert killed, f"the speaker DaemonSet never came back:\n{output[-3000:]}"
    assert rc == -signal.SIGKILL, (rc, output[-3000:])
    assert exists(lab, "-n", "kube-system", "service", "dns-np"), "nothing was owed: the kill came too late"

    home = empty_home
    fresh = {"k8s_render_dir": str(tmp_path / "other-controller"), "metallb_pools": [LAB_POOL],
             "k8s_exposed_services": []}
    again = run_playbook("site.yml", lab.inventory, skip_tags="verify", extravars=fresh,
                         envvars={"HOME": str(home)})
    assert again.rc == 0, again.why()
    assert (home / ".cache/k8snet").is_dir()                     # it fetched the kubeconfig itself
    assert pools(lab) == ["lab-l2"]                              # owed removal 1
    assert not exists(lab, "-n", "kube-system", "service", "dns-np")            # owed removal 2
    speaker = lab.kube_json("-n", "metallb-system", "get", "daemonset", "speaker")["status"]
    assert speaker["numberReady"] == speaker["desiredNumberScheduled"] == len(lab.nodes), speaker
    third = run_playbook("site.yml", lab.inventory, skip_tags="verify", extravars=fresh, envvars={"HOME": str(home)})
    assert third.rc == 0 and third.changed_hosts() == [], third.stats

WEB = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      tolerations: [{operator: Exists}]
      topologySpreadConstraints:
        - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule,
           labelSelector: {matchLabels: {app: web}}}
      containers:
        - name: web
          image: registry.k8s.io/e2e-test-images/agnhost:%s
          args: [netexec, --http-port=8080, --udp-port=-1]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Cluster
  selector: {app: web}
  ports: [{port: 8080, targetPort: 8080}]
"""


def test_the_lb_address_moves_when_its_node_loses_power_and_requests_resume(cluster, run_playbook, tmp_path):
    """MetalLB's own e2e in the lab: the node that answers ARP for a LoadBalancer address is killed
    (PID 1 SIGKILLed: no goodbye); another speaker takes the address, the client's neighbour entry
    follows it, and requests resume (time printed). The node boots again and gets its pods back."""
    from k8snet_lab.pins import AGNHOST

    from tests.integration.test_api_exposed_services_lab import bridge_mac, l2_owner

    lab = cluster
    first = run_playbook("site.yml", lab.inventory, skip_tags="verify",
                         extravars={"k8s_render_dir": str(tmp_path / "staging")})
    assert first.rc == 0, first.why()
    lab.kubectl("apply", "-f", "-", data=WEB % AGNHOST)
    lab.kubectl("rollout", "status", "deployment/web", "--timeout=180s", timeout=200)
    address = wait_until(lambda: (lab.kube_json("get", "service", "web")["status"].get("loadBalancer", {})
                                  .get("ingress") or [{}])[0].get("ip"), 60, "an address for Service web")
    url = f"http://{address}:8080/hostname"

    def answers() -> bool:                           # one GET from the client namespace, 1 s to answer
        get = "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)"
        return lab.client_exec([sys.executable, "-c", get, url], check=False, timeout=10).returncode == 0

    # the address is assigned before a speaker announces it (the endpoints' readiness reaches the speakers
    # after the rollout): wait for the first answer, a failure here says the LB never served at all
    wait_until(answers, 60, f"{url} to answer from the client before any fault", interval=0.5)
    owner = wait_until(lambda: l2_owner(lab, "web"), 60, "a ServiceL2Status for web")
    assert owner != "node1", "the control plane announced (kubeadm's exclude-from-external-LB label ignored)"
    killed = time.monotonic()
    lab_tool("stop", owner, "--kill")
    try:
        wait_until(answers, 120, f"requests to {address} to resume after {owner} went down", interval=0.2)
        resumed = time.monotonic() - killed
        print(f"\nLB failover: {owner} killed, {address} answered again after {resumed:.1f} s")
        moved = wait_until(lambda: (n := l2_owner(lab, "web")) != owner and n, 60, "the ServiceL2Status to move")
        neigh = lab.client_exec(["ip", "-j", "neigh", "show", address]).stdout
        assert bridge_mac(lab, moved) in neigh, (moved, neigh)
    finally:
        lab_tool("restart", owner)
    wait_back(lab, owner)
    lab.kubectl("delete", "-f", "-", "--wait=false", data=WEB % AGNHOST)     # the next test's cluster without it


# The operator's firewall on a node of a running cluster: drop by default, SSH and the kubelet open. No
# `flush ruleset`: loading it must leave kube-proxy's and flannel's tables alone.
OPERATOR_FIREWALL = """#!/usr/sbin/nft -f
table inet filter
delete table inet filter
table inet filter {
  chain input {
    type filter hook input priority 0; policy drop;
    ct state established,related accept
    iif lo accept
    tcp dport { 22, 10250 } accept
    icmp type echo-request accept
  }
  chain forward { type filter hook forward priority 0; policy drop; }
}
"""


def test_a_rebooted_node_behind_a_drop_firewall_comes_back_with_its_pods_and_openings(
        cluster, run_playbook, tmp_path):
    lab, node = cluster, "node3"
    staging = {"k8s_render_dir": str(tmp_path / "staging")}
    lab.exec(node, f"cat > /etc/nftables.conf <<'EOF'\n{OPERATOR_FIREWALL}EOF\nsystemctl enable --now nftables")

    def openings() -> str:
        return lab.exec(node, "nft list chain inet filter input").stdout

    try:
        applied = run_playbook("site.yml", lab.inventory, skip_tags="verify", extravars=staging)
        assert applied.rc == 0, applied.why()
        for opening in ("udp dport 8472 accept", "tcp dport 7946 accept", "tcp dport 30000-32767 accept"):
            assert opening in openings(), openings()

        rebooted = run_playbook("tests/integration/playbooks/reboot.yml", lab.inventory, limit=node,
                                extravars={"marker": "cluster-firewall"})
        assert rebooted.rc == 0, rebooted.why()           # Ansible reconnected through the firewall
        assert "udp dport 8472 accept" in openings()                   # loaded again at boot
        wait_back(lab, node)

        verified = run_playbook("playbooks/verify.yml", lab.inventory, extravars=staging)
        assert verified.rc == 0, verified.why()
        lines = traffic_lines(verified)
        assert_every_kind_passed(lines)
        again = run_playbook("site.yml", lab.inventory, skip_tags="verify", extravars=staging)
        assert again.rc == 0 and again.changed_hosts() == [], again.changed_hosts() or again.why()
    finally:
        lab.exec(node, "systemctl disable --now nftables; nft delete table inet filter", check=False)
