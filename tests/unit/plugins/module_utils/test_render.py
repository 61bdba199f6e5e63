"""Rendering: stable names, deterministic YAML, idempotence, pruning, check mode and diffs."""

from __future__ import annotations

import os

import pytest
import yaml
from ansible_collections.onprem.k8snet.plugins.module_utils import render
from ansible_collections.onprem.k8snet.plugins.module_utils.addons import Artifact

from tests.unit.planfixtures import build_component, make_plan, pool

OLD = 1_000_000_000  # an mtime far in the past, to see whether a file was rewritten


def metallb(*pools, **sections):
    return build_component("metallb", make_plan(metallb={"pools": list(pools)}, **sections))


def age_all(directory) -> None:
    for root, _dirs, names in os.walk(directory):
        for name in names:
            os.utime(os.path.join(root, name), (OLD, OLD))


def mtimes(directory) -> dict[str, float]:
    return {str(p.relative_to(directory)): p.stat().st_mtime for p in directory.rglob("*.yaml")}


def test_file_names():
    assert render.file_name({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "metallb-system"}}) == \
        "10-namespace-metallb-system.yaml"
    assert render.file_name({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                             "metadata": {"name": "metallb-system:speaker"}}) == \
        "30-clusterrole-metallb-system_speaker.yaml"
    assert render.file_name({"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
                             "metadata": {"name": "lab-pool", "namespace": "metallb-system"}}) == \
        "90-ipaddresspool-metallb-system-lab-pool.yaml"


def test_dump_is_deterministic_and_readable():
    obj = {"data": {"net-conf.json": "{\n  \"a\": 1\n}\n"}, "metadata": {"name": "x"}, "kind": "ConfigMap",
           "apiVersion": "v1"}
    text = render.dump(obj)
    assert text == render.dump(dict(reversed(list(obj.items()))))
    assert text.splitlines()[:3] == ["apiVersion: v1", "kind: ConfigMap", "metadata:"]
    assert "net-conf.json: |" in text
    assert yaml.safe_load(text) == obj


def test_render_then_rerender_changes_nothing(tmp_path):
    bundle = metallb(pool())
    first = render.render(str(tmp_path), bundle.objects, bundle.artifacts)
    assert first.changed and len(first.created) == len(bundle.objects) + len(bundle.artifacts)
    assert all((tmp_path / p).read_text().startswith(render.HEADER) for p in first.created)
    age_all(tmp_path)
    second = render.render(str(tmp_path), metallb(pool()).objects, bundle.artifacts)
    assert not second.changed and second.created == second.updated == second.deleted == []
    assert sorted(second.unchanged) == sorted(first.created)
    assert set(mtimes(tmp_path).values()) == {OLD}


def test_removed_pool_prunes_exactly_its_two_files(tmp_path):
    two = metallb(pool(), pool("second", ["192.168.56.230/32"]))
    render.render(str(tmp_path), two.objects, two.artifacts)
    age_all(tmp_path)
    one = metallb(pool())
    changes = render.render(str(tmp_path), one.objects, one.artifacts)
    assert changes.deleted == ["90-ipaddresspool-metallb-system-second.yaml",
                               "90-l2advertisement-metallb-system-second.yaml"]
    assert changes.created == changes.updated == []
    assert set(mtimes(tmp_path).values()) == {OLD}
    assert not (tmp_path / changes.deleted[0]).exists()


def test_changed_object_is_rewritten_with_a_diff(tmp_path):
    before = metallb(pool())
    render.render(str(tmp_path), before.objects, before.artifacts)
    after = metallb(pool(addresses=["192.168.56.200-192.168.56.230"]))
    changes = render.plan_changes(str(tmp_path), render.desired_files(after.objects, after.artifacts))
    assert changes.updated == ["90-ipaddresspool-metallb-system-lab-pool.yaml"]
    diff = changes.unified()["90-ipaddresspool-metallb-system-lab-pool.yaml"]
    assert "-  - 192.168.56.200-192.168.56.220\n" in diff and "+  - 192.168.56.200-192.168.56.230\n" in diff
    [entry] = changes.ansible_diff()
    assert entry["before_header"] == entry["after_header"] == str(tmp_path / changes.updated[0])
    assert "192.168.56.220" in entry["before"] and "192.168.56.230" in entry["after"]


def test_check_mode_writes_nothing(tmp_path):
    bundle = metallb(pool())
    changes = render.render(str(tmp_path / "metallb"), bundle.objects, bundle.artifacts, check=True)
    assert changes.changed and changes.created
    assert not (tmp_path / "metallb").exists()
    render.render(str(tmp_path / "metallb"), bundle.objects, bundle.artifacts)
    age_all(tmp_path)
    changes = render.render(str(tmp_path / "metallb"), metallb().objects, [], check=True)
    assert len(changes.deleted) == 3  # pool, advertisement, strictARP fragment
    assert len(mtimes(tmp_path)) == len(bundle.objects) + 1 and set(mtimes(tmp_path).values()) == {OLD}


def test_foreign_files_are_never_touched(tmp_path):
    bundle = metallb(pool())
    (tmp_path / "README.yaml").write_text("# mine\n")
    (tmp_path / "notes.txt").write_text("mine\n")
    render.render(str(tmp_path), bundle.objects, bundle.artifacts)
    changes = render.render(str(tmp_path), [], [])
    assert (tmp_path / "README.yaml").read_text() == "# mine\n" and (tmp_path / "notes.txt").exists()
    assert "README.yaml" not in changes.deleted
    squatter = tmp_path / render.file_name(bundle.objects[0])
    squatter.write_text("kind: Mine\n")
    with pytest.raises(render.RenderError, match="not written by this project"):
        render.render(str(tmp_path), bundle.objects, [])


def test_pruned_artifact_directory_is_removed(tmp_path):
    patch = Artifact(path="node-annotations/node1.yaml", kind="patch",
                     content={"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node1"}})
    render.render(str(tmp_path), [], [patch])
    assert (tmp_path / "node-annotations" / "node1.yaml").exists()
    changes = render.render(str(tmp_path), [], [])
    assert changes.deleted == ["node-annotations/node1.yaml"]
    assert not (tmp_path / "node-annotations").exists() and tmp_path.exists()


def test_two_objects_for_one_file_are_refused():
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "b"}}
    with pytest.raises(render.RenderError, match="both"):
        render.desired_files([obj, dict(obj)])
