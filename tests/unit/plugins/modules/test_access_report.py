"""onprem.k8snet.access_report through its argument_spec: live objects, a render directory in tmp_path, or both."""

from __future__ import annotations

import pytest
import yaml
from ansible_collections.onprem.k8snet.plugins.modules import access_report

from tests.unit.planfixtures import run_module

NODES = {"node1": "192.168.56.11", "node2": "192.168.56.12"}


def service(name, kind="NodePort", ns="shop", **port):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"type": kind, "ports": [{"name": "http", "port": 80, "protocol": "TCP", **port}]}}


def host_network_pod(name):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"hostNetwork": True, "containers": [{"name": "c", "image": "busybox"}]}}


@pytest.fixture
def rendered(tmp_path):
    """A render directory: one object per file below component folders, and what must not be read."""
    (tmp_path / "exposed").mkdir()
    (tmp_path / "exposed" / "service-shop-web.yaml").write_text(yaml.safe_dump(service("web", nodePort=30080)))
    (tmp_path / "extra").mkdir()
    (tmp_path / "extra" / "two.yaml").write_text(
        yaml.safe_dump_all([host_network_pod("sniffer"), None]))
    (tmp_path / "extra" / "notes.yml").write_text(yaml.safe_dump(service("ignored")))   # not *.yaml
    return tmp_path


def report(check_mode=False, **args):
    return run_module(access_report.main, {"nodes": NODES, **args}, check_mode=check_mode)


def test_a_render_directory_is_read_recursively_and_only_its_yaml_objects(rendered):
    result = report(directory=str(rendered))
    assert result["failed"] is False and result["changed"] is False
    assert [(s["namespace"], s["name"], s["type"]) for s in result["services"]] == [("shop", "web", "NodePort")]
    assert "80/TCP (http) NodePort: http://192.168.56.12:30080 (node node2)" in result["services"][0]["ways"]
    assert result["host_network"] == ["Pod default/sniffer: hostNetwork"]
    assert result["lines"][0] == "shop/web (NodePort)"
    assert result["lines"][-2:] == ["Workloads on the host network or with hostPort (discouraged): ",
                                    "  Pod default/sniffer: hostNetwork"]


def test_live_objects_and_a_directory_are_reported_together_sorted(rendered):
    result = report(objects=[service("api", kind="ClusterIP", ns="backend")], directory=str(rendered))
    assert [f"{s['namespace']}/{s['name']}" for s in result["services"]] == ["backend/api", "shop/web"]


def test_nothing_to_report_says_so():
    result = report()
    assert result["services"] == [] and result["host_network"] == []
    assert result["lines"] == ["Workloads on the host network or with hostPort (discouraged): none"]


def test_check_mode_reports_the_same(rendered):
    assert report(check_mode=True, directory=str(rendered)) == report(directory=str(rendered))


def test_a_directory_that_is_not_there_fails_naming_it(tmp_path):
    result = report(directory=str(tmp_path / "rendered" / "lab"))
    assert result["failed"] is True
    assert result["msg"] == f"{tmp_path / 'rendered' / 'lab'} is not a directory (nothing rendered yet?)"


@pytest.mark.parametrize(("args", "named"), [({}, "nodes"), ({"nodes": NODES, "objects": "web"}, "objects"),
                                             ({"nodes": ["node1"]}, "nodes")])
def test_the_argument_spec_refuses_bad_input_naming_it(args, named):
    result = run_module(access_report.main, args)
    assert result["failed"] is True and named in result["msg"]


def test_every_result_carries_what_return_documents(rendered):
    assert set(yaml.safe_load(access_report.RETURN)) <= set(report(directory=str(rendered)))


def test_a_file_in_the_directory_that_is_no_kubernetes_object_fails_naming_it(rendered):
    (rendered / "notes.yaml").write_text("- just\n- a list\n")                 # once a traceback
    result = report(directory=str(rendered))
    assert result["failed"] is True and "notes.yaml: document 0 is not a Kubernetes object" in result["msg"]
