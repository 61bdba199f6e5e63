"""Every ingress exposure live (api mode, lab cluster), changed on day 2 as an operator changes it.

One cluster goes loadbalancer -> nodeport -> hostnetwork -> back to loadbalancer; after each change
verify's Ingress check (a GET with the Host header from the lab's client namespace, answered by a
test pod behind the Ingress) passes, and the cluster holds what the exposure means:

- loadbalancer: the controller's Service is type LoadBalancer; the address verify uses is the one
  the controller reported on the Ingress (MetalLB gave it); back from hostnetwork with a fixed
  `ingress_lb_ip`, that address;
- nodeport with a fixed `ingress_http_nodeport` and `externalTrafficPolicy: Local`: the nodes that
  run a controller pod answer on it, and (the negative control) a node without one does not; with
  `Cluster` every node answers;
- hostnetwork: no Service, a DaemonSet on the host network, each node with a controller pod answers
  on port 80.

In the lab the controller is the lab's stand-in for F5 NGINX Ingress Controller (its module is not
served here; docs/LAB.md): the manifests, Service, ports and RBAC are the installer's own.
"""

from __future__ import annotations

import re
import sys

import pytest

from tests.integration.harness import REPO, lab_tool
from tests.integration.renders import applied, traffic_lines

pytestmark = [pytest.mark.lab, pytest.mark.cluster, pytest.mark.upstream]

HOST = "verify.k8snet.test"
HTTP_GET = REPO / "roles/verify/files/http_get.py"


@pytest.fixture(scope="module")
def cluster(lab_manager):
    yield lab_manager.get("vagrant", 3, cluster=True)
    lab_tool("destroy", check=False)


def converge(run_playbook, lab, tmp_path, **extravars):
    result = run_playbook("site.yml", lab.inventory,
                          extravars={"k8s_render_dir": str(tmp_path / "staging"), **extravars})
    assert result.rc == 0, result.why()
    return result


def ingress_checks(result) -> list[str]:
    """verify's Ingress checks, each "Ingress http://<address>/ with Host ...: ok (200 verify-x)"."""
    external = " ".join(next(line for line in traffic_lines(result) if line.startswith("external-to-service")).split())
    assert " PASS " in external, external
    return re.findall(r"Ingress http://\S+/ with Host \S+: [^;]*", external)


def reached(result) -> set[str]:
    """The addresses verify reached the Ingress at (every check answered by a test pod)."""
    checks = ingress_checks(result)
    assert checks and all(": ok (200 verify-" in c for c in checks), checks
    return {re.match(r"Ingress http://(\S+)/", c).group(1) for c in checks}


def controller(lab) -> dict:
    """The controller's workloads and Service as the cluster has them, and the nodes its pods run on."""
    workloads = lab.kube_json("-n", "nginx-ingress", "get", "deployments,daemonsets")["items"]
    services = lab.kube_json("-n", "nginx-ingress", "get", "services")["items"]
    pods = lab.kube_json("-n", "nginx-ingress", "get", "pods", "-l", "app=nginx-ingress",
                         "--field-selector=status.phase=Running")["items"]
    return {"workloads": {w["kind"]: w["spec"]["template"]["spec"].get("hostNetwork", False) for w in workloads},
            "services": {s["metadata"]["name"]: s["spec"] for s in services},
            "nodes": sorted({p["spec"]["nodeName"] for p in pods})}


def client_get(lab, address: str) -> str:
    """A GET with the Ingress host from the client namespace: "<status> <first line>", or "no answer: ..."."""
    proc = lab.client_exec([sys.executable, str(HTTP_GET), f"http://{address}/hostname", HOST], check=False,
                           timeout=30)
    return (proc.stdout or proc.stderr).strip()


def test_each_ingress_exposure_is_reached_from_the_client_and_back(cluster, run_playbook, tmp_path):
    lab = cluster
    address = lab.addresses                                              # node -> its lab-bridge address

    first = converge(run_playbook, lab, tmp_path)
    live = controller(lab)
    assert live["services"]["nginx-ingress"]["type"] == "LoadBalancer", live
    (lb,) = reached(first)
    assert re.fullmatch(r"192\.168\.56\.2(4\d|50)", lb), lb               # from the pool, as reported

    local = converge(run_playbook, lab, tmp_path, ingress_exposure="nodeport", ingress_http_nodeport=30080)
    assert applied(local)["ingress"].startswith("ingress: 0 created, 2 updated, 0 deleted"), applied(local)
    live = controller(lab)
    spec = live["services"]["nginx-ingress"]
    assert (spec["type"], spec["externalTrafficPolicy"]) == ("NodePort", "Local"), spec
    assert {p["name"]: p["nodePort"] for p in spec["ports"]}["http"] == 30080
    answering = {f"{address[n]}:30080" for n in live["nodes"]}
    assert reached(local) == answering, (reached(local), live["nodes"])
    silent = [n for n in lab.nodes if n not in live["nodes"]]
    assert silent, f"every node runs a controller pod ({live['nodes']}): no node to show Local dropping on"
    for node in silent:                                                  # negative control: Local drops there
        said = client_get(lab, f"{address[node]}:30080")
        assert said.startswith("no answer"), (node, said)

    spread = converge(run_playbook, lab, tmp_path, ingress_exposure="nodeport", ingress_http_nodeport=30080,
                      ingress_external_traffic_policy="Cluster")
    assert reached(spread) == {f"{address[n]}:30080" for n in lab.nodes}
    for node in silent:         # the same node forwards now: the controller answers (verify removed its Ingress)
        said = client_get(lab, f"{address[node]}:30080")
        assert said.startswith("404 404 Not Found (no Ingress rule"), (node, said)

    host = converge(run_playbook, lab, tmp_path, ingress_exposure="hostnetwork")
    live = controller(lab)
    assert live["workloads"] == {"DaemonSet": True} and live["services"] == {}, live
    assert live["nodes"], live
    assert reached(host) == {f"{address[n]}:80" for n in live["nodes"]}

    back = converge(run_playbook, lab, tmp_path, ingress_lb_ip="192.168.56.249")
    live = controller(lab)
    assert live["workloads"] == {"Deployment": False}, live
    assert live["services"]["nginx-ingress"]["type"] == "LoadBalancer", live
    assert reached(back) == {"192.168.56.249"}


def test_a_controller_setting_change_returns_only_when_the_new_pods_are_ready(cluster, run_playbook, tmp_path):
    """`ingress_custom_resources: false` changes the controller's args: when the run returns, the
    Deployment has rolled out (observedGeneration caught up, every replica updated and Ready) and
    every controller pod left runs the new args; the pod from before is gone or terminating."""
    lab = cluster
    old = {p["metadata"]["uid"] for p in lab.kube_json("-n", "nginx-ingress", "get", "pods")["items"]}
    changed = run_playbook("site.yml", lab.inventory, skip_tags="verify",
                           extravars={"k8s_render_dir": str(tmp_path / "staging"),
                                      "ingress_lb_ip": "192.168.56.249", "ingress_custom_resources": False})
    assert changed.rc == 0, changed.why()
    deployment = lab.kube_json("-n", "nginx-ingress", "get", "deployment", "nginx-ingress")
    status, wanted = deployment["status"], deployment["spec"]["replicas"]
    assert status["observedGeneration"] == deployment["metadata"]["generation"], status
    assert status.get("updatedReplicas") == status.get("readyReplicas") == wanted, status
    pods = lab.kube_json("-n", "nginx-ingress", "get", "pods")["items"]
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    assert live and not {p["metadata"]["uid"] for p in live} & old, (old, live)
    for pod in live:
        assert "-enable-custom-resources=false" in pod["spec"]["containers"][0]["args"], pod["spec"]
        ready = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True", (pod["metadata"]["name"], ready)
    crds = [c["metadata"]["name"] for c in lab.kube_json("get", "crd")["items"]]
    assert [c for c in crds if c.endswith(".k8s.nginx.org")] == [], crds         # and its CRDs went
