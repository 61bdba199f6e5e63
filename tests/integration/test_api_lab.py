"""api mode on the lab cluster: site.yml against a kubeadm cluster on day 0, as an operator runs it.

(The negative control, flannel's stock upstream manifest taking the NAT NIC, is the first test of
test_api_owners_lab.py: the project then adopts that flannel on the same cluster and the pods talk.)

- site.yml --check on a fresh cluster says what it would create and creates nothing;
- then site.yml on it: every Node Ready, flannel and MetalLB rolled out, flanneld on
  each node publishing its lab-bridge address, and verify's four kinds of traffic PASS from real
  requests; a second run changes nothing, not even an object's resourceVersion.
"""

from __future__ import annotations

import json
import re

import pytest
from k8snet_lab.pins import AGNHOST  # importable: conftest imports harness, which puts tools/ on the path

from tests.integration.harness import lab_tool
from tests.integration.renders import applied, traffic_lines

pytestmark = [pytest.mark.lab, pytest.mark.cluster, pytest.mark.upstream]

FLANNEL_MANIFEST = "flannel/v0.28.9/Documentation/kube-flannel.yml"
PUBLIC_IP = "flannel.alpha.coreos.com/public-ip"
KINDS = ("intra-pod", "pod-to-pod", "pod-to-service", "external-to-service")


def assert_every_kind_passed(lines: list[str]) -> None:
    """verify's table (traffic_lines) has a PASS line for each of the four kinds."""
    for kind in KINDS:
        line = next((line for line in lines if line.startswith(kind)), None)
        assert line is not None, f"verify printed no {kind} line: {lines}"
        assert " PASS " in line, line


def upstream_mirror():
    from tests.unit.planfixtures import require_mirror
    return require_mirror()


def agnhost_pods(lab) -> str:
    pods = []
    for name, node in (("probe-a", "node1"), ("probe-b", lab.nodes[-1])):
        pods.append(f"""apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: default, labels: {{app: probe}}}}
spec:
  nodeName: {node}
  tolerations: [{{operator: Exists}}]
  containers:
    - name: web
      image: registry.k8s.io/e2e-test-images/agnhost:{AGNHOST}
      args: [netexec, --http-port=8080, --udp-port=-1]
""")
    return "---\n".join(pods)


def cross_node_http(lab) -> tuple[int, str]:
    """probe-a (node1) asks probe-b (the last node) for its hostname over the pod network."""
    ip_b = lab.kube_json("get", "pod", "probe-b")["status"]["podIP"]
    out = lab.kubectl("exec", "probe-a", "--", "curl", "-sS", "-m", "5", f"http://{ip_b}:8080/hostname",
                      check=False, timeout=30)
    return out.returncode, (out.stdout + out.stderr).strip()


def published_ips(lab) -> dict[str, str]:
    nodes = lab.kube_json("get", "nodes")["items"]
    return {n["metadata"]["name"]: n["metadata"].get("annotations", {}).get(PUBLIC_IP) for n in nodes}


@pytest.fixture
def spent_cluster(lab_manager):
    """A day-0 cluster lab (one an earlier module left installed is made anew) that the test changes beyond
    day 0: destroyed afterwards, so the next test using `lab_cluster` gets a day-0 cluster again."""
    yield lambda layout: lab_manager.get(layout, cluster=True, day0=True)
    lab_tool("destroy", check=False)


def live_objects(lab) -> dict[str, tuple]:
    """What this project's applies leave on every object it labelled: the generation and the time of the
    k8snet field manager's last write (controllers' status updates, as MetalLB's pool counters, aside)."""
    kinds = "daemonsets,deployments,services,configmaps,serviceaccounts,ipaddresspools.metallb.io," \
            "l2advertisements.metallb.io,namespaces,clusterroles,clusterrolebindings,customresourcedefinitions"
    items = lab.kube_json("get", kinds, "-A", "-l", "app.kubernetes.io/managed-by=k8snet",
                          "--show-managed-fields")["items"]

    def ours(meta):
        return [(f["operation"], f.get("time")) for f in meta.get("managedFields", []) if f["manager"] == "k8snet"]
    return {f"{i['kind']}/{i['metadata'].get('namespace', '')}/{i['metadata']['name']}":
            (i["metadata"].get("generation"), ours(i["metadata"])) for i in items}


def test_site_yml_in_api_mode_gives_the_cluster_working_networking(spent_cluster, run_playbook, tmp_path):
    lab = spent_cluster("vagrant")
    dry = run_playbook("site.yml", lab.inventory, check=True, extravars={"k8s_render_dir": str(tmp_path / "staging")})
    assert dry.rc == 0, dry.why()
    said = applied(dry).get("flannel", "")
    assert said.startswith("flannel: 6 created"), applied(dry)                # what the real run will do ...
    assert lab.kubectl("get", "namespace", "kube-flannel", check=False).returncode != 0    # ... and did not do
    result = run_playbook("site.yml", lab.inventory, extravars={"k8s_render_dir": str(tmp_path / "staging")})
    assert result.rc == 0, result.why()
    nodes = lab.kube_json("get", "nodes")["items"]
    assert not lab.kubectl("get", "namespace", "k8snet-verify", check=False).stdout     # verify cleaned up
    for node in nodes:
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True", (node["metadata"]["name"], ready)
    assert published_ips(lab) == {n: lab.addresses[n] for n in lab.nodes}      # flanneld's own word: eth1
    lines = traffic_lines(result)
    assert_every_kind_passed(lines)
    # the Ingress by Host header, through the controller's MetalLB address it reported on the Ingress
    external = " ".join(next(line for line in lines if line.startswith("external-to-service")).split())
    reached = r"Ingress http://192\.168\.56\.24\d/ with Host verify\.k8snet\.test: ok \(200 verify-"
    assert re.search(reached, external), external
    before = live_objects(lab)
    assert all(writes for _, writes in before.values()), "k8snet's field manager is missing from the objects read"
    # verify apart (it ran above; its test objects live in a namespace of their own, gone at its end)
    again = run_playbook("site.yml", lab.inventory, skip_tags="verify",
                         extravars={"k8s_render_dir": str(tmp_path / "staging")})
    assert again.rc == 0, again.why()
    changed = [(e["event_data"]["host"], e["event_data"]["task"]) for e in again.events
               if e.get("event") == "runner_on_ok" and e["event_data"]["res"].get("changed")]
    assert again.changed_hosts() == [], (json.dumps(again.stats), changed)
    assert live_objects(lab) == before
