"""reset.yml on a live cluster (api mode, lab cluster): after site.yml, reset leaves no object labelled as
the project's, no record and no state ConfigMap, no node-public-ip annotation on the Nodes, and every
node as it was before the first run; a second reset finds nothing to do."""

from __future__ import annotations

import pytest

from tests.integration.harness import SYSCTL_FILE, lab_tool, wait_until

pytestmark = [pytest.mark.lab, pytest.mark.upstream]

KINDS = "daemonsets,deployments,services,configmaps,serviceaccounts,namespaces,clusterroles,clusterrolebindings," \
        "roles,rolebindings,secrets,validatingwebhookconfigurations,customresourcedefinitions"
OURS = "app.kubernetes.io/managed-by=k8snet"


@pytest.fixture
def spent_cluster(lab_cluster):
    yield lab_cluster
    lab_tool("destroy", check=False)


def node_state(lab, node: str) -> str:
    return lab.exec(node, f"cat {SYSCTL_FILE} 2>/dev/null; cat /proc/sys/net/ipv4/ip_forward "
                          "/proc/sys/net/ipv4/ip_local_reserved_ports").stdout


def public_ip_annotations(lab) -> dict[str, str]:
    """Node -> the flannel node-public-ip annotation the project writes (api mode), where there is one."""
    key = "flannel.alpha.coreos.com/node-public-ip"
    return {n["metadata"]["name"]: n["metadata"]["annotations"][key] for n in lab.kube_json("get", "nodes")["items"]
            if key in (n["metadata"].get("annotations") or {})}


def ours(lab) -> list[str]:
    items = lab.kube_json("get", KINDS, "-A", "-l", OURS)["items"]
    return sorted(f"{i['kind']}/{i['metadata'].get('namespace', '')}/{i['metadata']['name']}" for i in items)


def test_reset_leaves_nothing_of_the_project_in_the_cluster_or_on_the_nodes(spent_cluster, run_playbook, tmp_path):
    lab = spent_cluster("vagrant")
    before = {node: node_state(lab, node) for node in lab.nodes}
    staging = {"k8s_render_dir": str(tmp_path / "staging")}
    installed = run_playbook("site.yml", lab.inventory, skip_tags="verify", extravars=staging)
    assert installed.rc == 0, installed.failed_messages()
    assert "DaemonSet/kube-flannel/kube-flannel-ds" in ours(lab)
    assert public_ip_annotations(lab) == lab.addresses                       # what reset must take back
    assert any(node_state(lab, n) != before[n] for n in lab.nodes)          # the run did prepare the nodes

    reset = run_playbook("playbooks/reset.yml", lab.inventory, extravars=staging)
    assert reset.rc == 0, reset.failed_messages()
    wait_until(lambda: not ours(lab), 180, "the project's objects to be gone (namespaces terminate)")
    names = [c["metadata"]["name"] for c in lab.kube_json("-n", "kube-system", "get", "configmaps")["items"]]
    assert not [n for n in names if n.startswith("k8snet-")], names
    assert {node: node_state(lab, node) for node in lab.nodes} == before
    assert public_ip_annotations(lab) == {}                                  # the Node objects as they were

    again = run_playbook("playbooks/reset.yml", lab.inventory, extravars=staging)
    assert again.rc == 0, again.failed_messages()
    assert again.changed_hosts() == []
