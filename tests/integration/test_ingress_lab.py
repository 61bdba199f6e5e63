"""Ingress on the lab: both controllers with each exposure render what that combination needs, and the
plan stops on a host port already taken or a fixed NodePort outside the range, naming what is wrong."""

from __future__ import annotations

import pytest

from tests.integration.renders import container, load, one

pytestmark = pytest.mark.lab

FLANNEL_HEALTHZ = 8081          # flanneld's port on every node: a host-network pod must not take it
NODEPORTS = {"http": 30080, "https": 30443}
LAB_STATUS_ADDRESS = "192.168.56.11,192.168.56.12,192.168.56.13"
RETIRED = "the community ingress-nginx controller was retired in March 2026"
CONTROLLERS = {
    "nginx": {"service": "50-service-nginx-ingress-nginx-ingress.yaml", "workload": "nginx-ingress-nginx-ingress",
              "container": "nginx-ingress"},
    "ingress-nginx": {"service": "50-service-ingress-nginx-ingress-nginx-controller.yaml",
                      "workload": "ingress-nginx-ingress-nginx-controller", "container": "controller"},
}


def render(tmp_path, **more):
    return {"k8s_render_dir": str(tmp_path / "rendered"), **more}


def readiness_port(main: dict) -> int:
    """The port the readiness probe asks, a container port name resolved to its number."""
    port = main["readinessProbe"]["httpGet"]["port"]
    named = {p["name"]: p["containerPort"] for p in main.get("ports", []) if "name" in p}
    return named.get(port, port)


@pytest.mark.parametrize("exposure", ["loadbalancer", "nodeport", "hostnetwork"])
@pytest.mark.parametrize("controller", ["nginx", "ingress-nginx"])
def test_controller_and_exposure_render_what_they_need(lab, run_playbook, tmp_path, controller, exposure):
    fixed = {f"ingress_{name}_nodeport": port for name, port in NODEPORTS.items()} if exposure == "nodeport" else {}
    result = run_playbook("site.yml", lab.inventory, tags="addons", extravars=render(
        tmp_path, ingress_controller=controller, ingress_exposure=exposure, **fixed))
    assert result.rc == 0, result.why()
    assert (RETIRED in result.stdout) == (controller == "ingress-nginx")

    names = CONTROLLERS[controller]
    rendered = tmp_path / "rendered/ingress"
    workload = one(rendered, f"6?-*-{names['workload']}.yaml")
    main = container(workload, names["container"])
    pod = workload["spec"]["template"]["spec"]
    service_file = rendered / names["service"]
    if exposure == "loadbalancer":
        service = load(service_file)
        assert service["spec"]["type"] == "LoadBalancer"
        assert service["metadata"]["annotations"]["metallb.io/loadBalancerIPs"] == "192.168.56.240"
        assert service["spec"]["externalTrafficPolicy"] == "Local"
        assert workload["kind"] == "Deployment" and "hostNetwork" not in pod
    elif exposure == "nodeport":
        service = load(service_file)
        assert service["spec"]["type"] == "NodePort"
        assert {p["name"]: p["nodePort"] for p in service["spec"]["ports"]} == NODEPORTS
        if controller == "nginx":
            config = load(rendered / "26-configmap-nginx-ingress-nginx-config.yaml")
            assert config["data"]["external-status-address"] == LAB_STATUS_ADDRESS
        else:
            assert f"--publish-status-address={LAB_STATUS_ADDRESS}" in main["args"]
    else:
        assert not service_file.exists()                       # the nodes' own ports 80/443 are the entry
        assert workload["kind"] == "DaemonSet"
        assert (pod["hostNetwork"], pod["dnsPolicy"]) == (True, "ClusterFirstWithHostNet")
        assert readiness_port(main) != FLANNEL_HEALTHZ
        assert FLANNEL_HEALTHZ not in [p["containerPort"] for p in main.get("ports", [])]
        assert ("-ready-status-port=8082" if controller == "nginx" else "--report-node-internal-ip-address") \
            in main["args"]


@pytest.fixture
def port_80_taken_on_node2(lab):
    """A web server listening on 0.0.0.0:80 inside node2: its PID (killed afterwards)."""
    pid = lab.exec("node2", "setsid nohup python3 -m http.server 80 </dev/null >/dev/null 2>&1 & echo $!"
                   ).stdout.strip()
    try:
        # Wait (bounded) until it listens: ss lists the socket once bind()+listen() are done.
        lab.exec("node2", "for i in $(seq 100); do ss -Hltn 'sport = :80' | grep -q . && exit 0; sleep 0.05; "
                          "done; exit 1")
        yield int(pid)
    finally:
        lab.exec("node2", f"kill {pid}", check=False)


def test_hostnetwork_with_port_80_taken_stops_naming_node_port_and_process(lab, run_playbook, tmp_path,
                                                                           port_80_taken_on_node2):
    result = run_playbook("site.yml", lab.inventory, extravars=render(tmp_path, ingress_exposure="hostnetwork"))
    assert result.rc != 0
    assert (f"ingress_exposure = hostnetwork: needs port 80/tcp free on every node, but on node2 python3 "
            f"(pid {port_80_taken_on_node2}) listens on 0.0.0.0:80") in result.failed_messages()
    assert result.changed_hosts() == []


@pytest.mark.parametrize("value", [29999, "29999"], ids=["integer", "string-as-from-the-command-line"])
def test_fixed_nodeport_outside_the_range_stops_naming_the_variable(lab, run_playbook, tmp_path, value):
    result = run_playbook("site.yml", lab.inventory, extravars=render(
        tmp_path, ingress_exposure="nodeport", ingress_http_nodeport=value))
    assert result.rc != 0
    assert "ingress_http_nodeport = 29999: is outside k8s_nodeport_range 30000-32767" in result.failed_messages()
    assert result.changed_hosts() == []


def test_hostnetwork_exposure_second_run_changes_nothing(clean_nodes, run_playbook, tmp_path):
    lab = clean_nodes
    extravars = render(tmp_path, ingress_exposure="hostnetwork")
    first = run_playbook("site.yml", lab.inventory, extravars=extravars)
    assert first.rc == 0, first.why()
    again = run_playbook("site.yml", lab.inventory, extravars=extravars)
    assert again.rc == 0, again.why()
    assert again.changed_hosts() == []
