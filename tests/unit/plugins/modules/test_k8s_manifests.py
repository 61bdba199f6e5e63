"""The k8s_manifests module end to end, through its argument_spec, with exit_json/fail_json patched."""

from __future__ import annotations

import pytest
import yaml
from ansible_collections.onprem.k8snet.plugins.module_utils import render
from ansible_collections.onprem.k8snet.plugins.module_utils.kube import load_file
from ansible_collections.onprem.k8snet.plugins.module_utils.services import check_exposed_services
from ansible_collections.onprem.k8snet.plugins.modules import k8s_manifests

from tests.unit.planfixtures import PINNED, component_files, make_plan, pool, run_module

ALL_ON = {"gateway_api": {"enabled": True}, "flannel": {"annotate_nodes": True, "iface_arg": None}}


def run(component, dest, plan=None, *, check_mode=False, diff=False, **extra):
    args = {"component": component, "plan": plan or make_plan(**ALL_ON), "files": component_files(component),
            "dest": str(dest), **extra}
    return run_module(k8s_manifests.main, args, check_mode=check_mode, diff=diff)


@pytest.mark.parametrize("component", PINNED)
def test_render_is_idempotent(tmp_path, component):
    first = run(component, tmp_path)
    assert not first["failed"], first.get("msg")
    assert first["changed"] and first["directory"] == str(tmp_path / component)
    assert first["kube_version"] == "1.35"
    written = sorted(str(p.relative_to(tmp_path / component)) for p in (tmp_path / component).rglob("*.yaml"))
    assert sorted(first["created"]) == written
    for entry in first["objects"]:
        with open(entry["file"]) as handle:
            obj = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        assert (obj["kind"], obj["metadata"]["name"]) == (entry["kind"], entry["name"])
        assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "k8snet"
    assert [e["file"] for e in first["objects"]] == sorted(e["file"] for e in first["objects"])
    second = run(component, tmp_path)
    assert not second["changed"] and second["created"] == second["updated"] == second["deleted"] == []
    assert len(second["unchanged"]) == len(first["created"])


def test_objects_summary_marks_custom_resources_and_artifacts(tmp_path):
    result = run("metallb", tmp_path)
    custom = [(o["kind"], o["name"]) for o in result["objects"] if o["custom"]]
    assert custom == [("IPAddressPool", "lab-pool"), ("L2Advertisement", "lab-pool")]
    assert result["artifacts"] == [{"file": str(tmp_path / "metallb/patches/kube-proxy-strictarp.yaml"),
                                    "type": "fragment", "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
                                    "kind": "KubeProxyConfiguration", "name": ""}]
    flannel = run("flannel", tmp_path)
    assert [a["name"] for a in flannel["artifacts"]] == ["node1", "node2", "node3"]
    assert {a["type"] for a in flannel["artifacts"]} == {"patch"}


def test_check_mode_and_diff_write_nothing(tmp_path):
    result = run("metallb", tmp_path, check_mode=True, diff=True)
    assert result["changed"] and result["created"]
    assert not (tmp_path / "metallb").exists()
    assert len(result["diff"]) == len(result["created"])
    assert all(d["before"] == "" and d["before_header"] == "(absent)" for d in result["diff"])
    big = run("gateway", tmp_path, check_mode=True, diff=True)
    assert any("too large to show" in d["after"] for d in big["diff"])  # HTTPRoute's CRD is summarized
    assert not (tmp_path / "gateway").exists()


def test_pool_change_is_reported_with_diff(tmp_path):
    run("metallb", tmp_path)
    plan = make_plan(metallb={"pools": [pool(), pool("extra", ["192.168.56.240/29"])]})
    result = run("metallb", tmp_path, plan, diff=True)
    assert result["changed"]
    assert result["created"] == ["90-ipaddresspool-metallb-system-extra.yaml",
                                 "90-l2advertisement-metallb-system-extra.yaml"]
    assert [d["after_header"] for d in result["diff"]] == [str(tmp_path / "metallb" / p) for p in result["created"]]
    result = run("metallb", tmp_path)
    assert result["deleted"] == ["90-ipaddresspool-metallb-system-extra.yaml",
                                 "90-l2advertisement-metallb-system-extra.yaml"]


def test_schema_errors_fail_listing_everything_and_write_nothing(tmp_path):
    plan = make_plan(metallb={"pools": [pool("bad", addresses=[12]), pool("worse", addresses=["ok", 13])]})
    result = run("metallb", tmp_path, plan)
    assert result["failed"] and "nothing was written" in result["msg"]
    assert result["errors"] == ["IPAddressPool metallb-system/bad: spec.addresses[0]: 12 is not of type 'string'",
                                "IPAddressPool metallb-system/worse: spec.addresses[1]: 13 is not of type 'string'"]
    assert not (tmp_path / "metallb").exists()


def test_validation_can_be_skipped_and_versions_chosen(tmp_path):
    plan = make_plan(metallb={"pools": [pool("bad", addresses=[12])]})
    assert run("metallb", tmp_path, plan, validate=False)["changed"]
    result = run("flannel", tmp_path / "v", kube_version="1.31")
    assert not result["failed"] and result["kube_version"] == "1.31"
    result = run("flannel", tmp_path / "w", kube_version="1.9")
    assert result["failed"] and "no schemas for Kubernetes 1.9" in result["msg"]


def test_missing_upstream_file_is_named(tmp_path):
    result = run_module(k8s_manifests.main, {"component": "flannel", "plan": make_plan(), "files": {},
                                             "dest": str(tmp_path)})
    assert result["failed"] and "Documentation/kube-flannel.yml" in result["msg"]


def test_argument_spec_rejects_unknown_component(tmp_path):
    result = run_module(k8s_manifests.main, {"component": "calico", "plan": {}, "dest": str(tmp_path)})
    assert result["failed"] and "component" in result["msg"]


def test_exposed_services_render_the_dns_example(tmp_path):
    entries, problems = check_exposed_services(
        [{"name": "coredns-np", "namespace": "kube-system", "type": "nodeport", "selector": {"k8s-app": "kube-dns"},
          "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "node_port": 30053},
                    {"name": "dns-tcp", "port": 53, "protocol": "TCP", "node_port": 30053}]}],
        nodeport_range=(30000, 32767), metallb_enabled=True, pool_spans=[], reserved_nodeports={},
        used_lb_ips={}, apply_mode="render")
    assert not problems.errors
    plan = make_plan()
    plan["exposed_services"] = entries
    result = run_module(k8s_manifests.main, {"component": "exposed_services", "plan": plan, "dest": str(tmp_path)})
    assert not result.get("failed"), result.get("msg")
    [service] = load_file(str(tmp_path / "exposed_services" / "50-service-kube-system-coredns-np.yaml"))
    assert [(p["protocol"], p["port"], p["nodePort"]) for p in service["spec"]["ports"]] == \
        [("UDP", 53, 30053), ("TCP", 53, 30053)]
    assert service["spec"]["type"] == "NodePort"
    assert service["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "k8snet"


def test_disabling_a_component_prunes_its_files(tmp_path):
    run("gateway", tmp_path)
    result = run("gateway", tmp_path, make_plan())
    assert result["changed"] and result["objects"] == [] and len(result["deleted"]) > 30
    assert [p for p in (tmp_path / "gateway").iterdir() if p.name.endswith(".yaml")] == []
    assert render.existing_files(str(tmp_path / "gateway")) == {}


def real_plan(**cluster_vars) -> dict:
    from ansible_collections.onprem.k8snet.plugins.module_utils.plan import build_plan

    from tests.unit.inputs import lab_inputs

    plan, problems = build_plan(lab_inputs(3, **cluster_vars))
    assert plan is not None, problems.report()
    return plan


def test_plan_fixture_has_the_real_plan_layout():
    real, fixture = real_plan(), make_plan()
    for section in ("cluster", "flannel", "metallb", "ingress", "gateway_api"):
        assert set(fixture[section]) == set(real[section]), section
    assert set(fixture["nodes"]["node1"]) >= set(real["nodes"]["node1"]) - {"kernel_modules", "firewall"}
    assert set(fixture["nodes"]["node1"]["iface"]) == set(real["nodes"]["node1"]["iface"])


@pytest.mark.parametrize("component", PINNED)
def test_a_real_plan_renders_and_validates(tmp_path, component):
    plan = real_plan(metallb_pools=[{"name": "lab-pool", "addresses": ["192.168.56.200-192.168.56.220"]}],
                     gateway_api_enabled=True, ingress_lb_ip="192.168.56.200")
    result = run(component, tmp_path, plan)
    assert not result["failed"], result.get("msg")
    assert result["objects"]


def test_a_plan_of_the_wrong_shape_is_named(tmp_path):
    result = run("flannel", tmp_path, {"cluster": {"kube_version": "1.35"}})
    assert result["failed"] and "does not have the expected layout (KeyError('pod_cidr'))" in result["msg"]
