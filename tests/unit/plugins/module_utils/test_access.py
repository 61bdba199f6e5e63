"""The access report: every way to reach a Service, and who uses the host network."""

from __future__ import annotations

from ansible_collections.onprem.k8snet.plugins.module_utils.access import report

NODES = {"node1": "192.168.56.11", "node2": "192.168.56.12"}


def svc(name, kind, ports, *, ns="default", annotations=None, status_ip=None):
    obj = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": name, "namespace": ns, "annotations": annotations or {}},
           "spec": {"type": kind, "ports": ports}}
    if status_ip:
        obj["status"] = {"loadBalancer": {"ingress": [{"ip": status_ip}]}}
    return obj


def test_nodeport_service_has_a_url_per_node_and_the_dev_options():
    out = report([svc("web", "NodePort", [{"name": "http", "port": 80, "nodePort": 30080, "protocol": "TCP"}])],
                 NODES)
    ways = out["services"][0]["ways"]
    assert "80/TCP (http) NodePort: http://192.168.56.11:30080 (node node1)" in ways
    assert "80/TCP (http) NodePort: http://192.168.56.12:30080 (node node2)" in ways
    assert "80/TCP (http) port-forward: kubectl -n default port-forward svc/web 8080:80" in ways
    assert "80/TCP (http) apiserver proxy: /api/v1/namespaces/default/services/web:http/proxy/" in ways


def test_udp_nodeport_and_https_proxy():
    out = report([svc("coredns-np", "NodePort", [
        {"name": "dns", "port": 53, "protocol": "UDP", "nodePort": 30053},
        {"name": "https", "port": 443, "protocol": "TCP", "nodePort": 30443}], ns="kube-system")], NODES)
    ways = out["services"][0]["ways"]
    assert "53/UDP (dns) NodePort: udp 192.168.56.11:30053 (node node1)" in ways
    assert not any("53/UDP" in w and "port-forward" in w for w in ways)  # port-forward is TCP only
    assert "443/TCP (https) apiserver proxy: /api/v1/namespaces/kube-system/services/https:coredns-np:https/proxy/" \
        in ways


def test_loadbalancer_live_status_wins_over_the_rendered_annotation():
    rendered = svc("ing", "LoadBalancer", [{"port": 80, "protocol": "TCP"}],
                   annotations={"metallb.io/loadBalancerIPs": "192.168.56.240"})
    live = svc("ing", "LoadBalancer", [{"port": 80, "protocol": "TCP"}], status_ip="192.168.56.241")
    assert "80/TCP LoadBalancer: 192.168.56.240:80" in report([rendered], NODES)["services"][0]["ways"]
    assert "80/TCP LoadBalancer: 192.168.56.241:80" in report([live], NODES)["services"][0]["ways"]
    pending = svc("x", "LoadBalancer", [{"port": 80, "protocol": "TCP"}])
    assert any("<pending" in w for w in report([pending], NODES)["services"][0]["ways"])


def test_ingress_routes_are_listed_under_their_service():
    ingress = {"kind": "Ingress", "metadata": {"name": "i", "namespace": "default"},
               "spec": {"tls": [{"hosts": ["app.example.com"]}],
                        "rules": [{"host": "app.example.com", "http": {"paths": [
                            {"path": "/api", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}
    out = report([svc("web", "ClusterIP", [{"port": 80, "protocol": "TCP"}]), ingress], NODES)
    assert "Ingress: https://app.example.com/api" in out["services"][0]["ways"]


def test_host_network_users_except_our_ingress():
    def ds(name, ns, labels, spec):
        return {"kind": "DaemonSet", "metadata": {"name": name, "namespace": ns, "labels": labels},
                "spec": {"template": {"spec": spec}}}
    objects = [
        ds("nginx-ingress", "nginx-ingress", {"app.kubernetes.io/managed-by": "k8snet"}, {"hostNetwork": True}),
        ds("node-exporter", "monitoring", {}, {"hostNetwork": True}),
        ds("legacy", "default", {},
           {"containers": [{"name": "c", "ports": [{"containerPort": 80, "hostPort": 8080}]}]}),
    ]
    assert report(objects, NODES)["host_network"] == [
        "DaemonSet monitoring/node-exporter: hostNetwork", "DaemonSet default/legacy: hostPort 8080"]
