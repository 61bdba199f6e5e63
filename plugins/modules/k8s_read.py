#!/usr/bin/python
"""Module onprem.k8snet.k8s_read: the objects of one query, read from the live cluster."""

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_read
author: k8snet maintainers
version_added: 0.2.0
short_description: Read the objects of one kind (or one object), or of several queries, from the live cluster
description:
  - What the roles read from the cluster in api mode (the last applied plan, Services, Nodes, kube-proxy's
    configuration, an IngressClass), with the options of C(kubernetes.core.k8s_info) that they use.
  - Runs on the controller in its own process (through the action plugin of the same name), so a read costs
    a request, not a Python interpreter and the client's import; a run makes a dozen of them.
  - A kind the cluster does not serve (its CRD is not installed) and a named object that does not exist
    both give no resources, not an error.
  - With O(queries), several reads in one call, sent at once (RV(results), by key). What the network plan checks
    the cluster against is one task, not one per kind.
  - Objects come back as C(kubectl get) shows them, without C(metadata.managedFields) (the field managers'
    bookkeeping, the largest part of most objects; every later task that templates the answers pays for its size).
  - Changes nothing; check mode reads the same.
options:
  api_version:
    description: API group and version of the kind.
    type: str
    default: v1
  kind:
    description:
      - The kind to read (C(Service), C(Node), C(ConfigMap), ...).
      - Required unless O(queries) is given.
    type: str
  namespace:
    description: Only objects of this namespace; every namespace when empty.
    type: str
  name:
    description: Only the object of this name.
    type: str
  label_selectors:
    description: Label selectors (C(key=value), C(key!=value), C(key)), all of which must match.
    type: list
    elements: str
    default: []
  field_selectors:
    description: Field selectors (C(spec.nodeName=node1)), all of which must match.
    type: list
    elements: str
    default: []
  server_version:
    description:
      - Also ask the API server for its version (its C(/version)), returned as RV(server_version).
      - One request more; the network plan reads it once, with kube-proxy's configuration.
    type: bool
    default: false
  queries:
    description:
      - Several reads at once instead of O(kind) (mutually exclusive with it), each named by its C(key) in
        RV(results). The first that fails fails the call, naming it.
    type: list
    elements: dict
    suboptions:
      key:
        description: The name of this read in RV(results).
        type: str
        required: true
      api_version:
        description: As O(api_version).
        type: str
        default: v1
      kind:
        description: As O(kind).
        type: str
        required: true
      namespace:
        description: As O(namespace).
        type: str
      name:
        description: As O(name).
        type: str
      label_selectors:
        description: As O(label_selectors).
        type: list
        elements: str
        default: []
      field_selectors:
        description: As O(field_selectors).
        type: list
        elements: str
        default: []
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
extends_documentation_fragment:
  - onprem.k8snet.cluster
"""

EXAMPLES = r"""
- name: Read the LoadBalancer Services
  onprem.k8snet.k8s_read:
    kind: Service
    kubeconfig: "{{ plan.cluster.kubeconfig }}"
  register: services
  delegate_to: localhost
  run_once: true

- name: Read the flannel pod of one node
  onprem.k8snet.k8s_read:
    kind: Pod
    namespace: kube-flannel
    label_selectors: [app=flannel]
    field_selectors: [spec.nodeName=node1]

- name: Read kube-proxy's configuration and the API server's version
  onprem.k8snet.k8s_read:
    kind: ConfigMap
    namespace: kube-system
    name: kube-proxy
    server_version: true
  register: kube_proxy

- name: Read the Nodes and kube-proxy's configuration in one call
  onprem.k8snet.k8s_read:
    queries:
      - {key: nodes, kind: Node}
      - {key: kube_proxy, kind: ConfigMap, namespace: kube-system, name: kube-proxy}
  register: live
  # live.results.nodes, live.results.kube_proxy
"""

RETURN = r"""
resources:
  description: The objects found, each with its apiVersion and kind.
  returned: unless O(queries) is given
  type: list
  elements: dict
results:
  description: The objects each query found, by its key.
  returned: when O(queries) is given
  type: dict
  sample: {nodes: [{apiVersion: v1, kind: Node, metadata: {name: node1}}], kube_proxy: []}
server_version:
  description: The API server's gitVersion.
  returned: when O(server_version) is true
  type: str
  sample: v1.37.2
"""

from ansible_collections.onprem.k8snet.plugins.module_utils.in_process import run_module
from ansible_collections.onprem.k8snet.plugins.module_utils.k8s_client import CONNECTION_SPEC, Cluster, failure

QUERY_SPEC = {
    "api_version": {"type": "str", "default": "v1"},
    "kind": {"type": "str"},
    "namespace": {"type": "str"},
    "name": {"type": "str"},
    "label_selectors": {"type": "list", "elements": "str", "default": []},
    "field_selectors": {"type": "list", "elements": "str", "default": []},
}
ARGUMENT_SPEC = {
    **QUERY_SPEC,
    "server_version": {"type": "bool", "default": False},
    "queries": {"type": "list", "elements": "dict",
                "options": {"key": {"type": "str", "required": True}, **QUERY_SPEC,
                            "kind": {"type": "str", "required": True}}},
    **CONNECTION_SPEC,
}
ARGUMENT_RULES = {"required_one_of": [("kind", "queries")], "mutually_exclusive": [("kind", "queries")]}


def described(query: dict) -> str:
    kind, namespace, name = query["kind"], query.get("namespace"), query.get("name")
    return f"{kind} {namespace}/{name}" if name and namespace else f"{kind} {name}" if name else \
        f"{kind} in namespace {namespace}" if namespace else kind


def read(cluster: Cluster, query: dict) -> list[dict]:
    found = cluster.find(query.get("api_version") or "v1", query["kind"], namespace=query.get("namespace"),
                         name=query.get("name"), label_selectors=query.get("label_selectors") or [],
                         field_selectors=query.get("field_selectors") or [])
    for item in found:                                   # as kubectl get shows them
        (item.get("metadata") or {}).pop("managedFields", None)
    return found


def attempt(cluster: Cluster, query: dict) -> tuple[list | None, Exception | None]:
    """read(), its error returned instead of raised (to be named with its query)."""
    try:
        return read(cluster, query), None
    except Exception as e:
        return None, e


def run(params: dict, check_mode: bool = False, diff: bool = False, cluster: Cluster | None = None) -> dict:
    """The objects of the query (or of each query); a failure comes back as {failed, msg} (it also runs in the
    controller's process)."""
    del check_mode, diff
    queries = params.get("queries")
    what = "the cluster" if queries else described(params)
    try:
        cluster = cluster or Cluster(params.get("kubeconfig"), params.get("context"))
        if queries:
            answers = cluster.each(lambda query: attempt(cluster, query), queries)
            for query, (_, error) in zip(queries, answers, strict=True):
                if error is not None:
                    what = described(query)
                    raise error
            out = {"results": {query["key"]: found for query, (found, _) in zip(queries, answers, strict=True)}}
        else:
            out = {"resources": read(cluster, params)}
        version = {"server_version": cluster.server_version()} if params.get("server_version") else {}
    except Exception as e:
        return failure(f"reading {what}", params.get("kubeconfig"), e)
    return {"changed": False, **out, **version}


def main() -> None:
    run_module(run, ARGUMENT_SPEC, **ARGUMENT_RULES)


if __name__ == "__main__":
    main()
