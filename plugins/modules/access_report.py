#!/usr/bin/python
"""Module onprem.k8snet.access_report: how to reach every Service, live or rendered."""

from __future__ import annotations

DOCUMENTATION = r"""
module: access_report
author: k8snet maintainers
version_added: 0.1.0
short_description: List how to reach each Service, and the workloads that use the host network
description:
  - For every Service, the development access options operators reach for, that is the NodePort URL
    on every node, the LoadBalancer address, the Ingress host and path that route to it, the
    C(kubectl port-forward) command and the API server proxy URL.
  - Lists the workloads that use C(hostNetwork) or C(hostPort) (discouraged), except this project's
    own host-network ingress controller.
  - Reads live objects (O(objects), from M(kubernetes.core.k8s_info)) or a render directory
    (O(directory), every C(*.yaml) below it). Changes nothing; run it on the controller.
options:
  objects:
    description: Kubernetes objects (Services, Ingresses, workloads).
    type: list
    elements: dict
    default: []
  directory:
    description: A render directory to read objects from, in addition to O(objects).
    type: path
  nodes:
    description: Node name to the address to use in NodePort URLs.
    type: dict
    required: true
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: How to reach what was rendered
  onprem.k8snet.access_report:
    directory: rendered/lab
    nodes: {node1: 192.168.56.11, node2: 192.168.56.12}
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
lines:
  description: The report as readable lines.
  returned: always
  type: list
  elements: str
services:
  description: Per Service C({namespace, name, type, ways}).
  returned: always
  type: list
  elements: dict
host_network:
  description: Workloads using hostNetwork or hostPort.
  returned: always
  type: list
  elements: str
"""


from ansible_collections.onprem.k8snet.plugins.module_utils.access import report
from ansible_collections.onprem.k8snet.plugins.module_utils.in_process import run_module
from ansible_collections.onprem.k8snet.plugins.module_utils.kube import ManifestError, load_directory

ARGUMENT_SPEC = {"objects": {"type": "list", "elements": "dict", "default": []},
                 "directory": {"type": "path"},
                 "nodes": {"type": "dict", "required": True}}


def run(params: dict, check_mode: bool = False, diff: bool = False) -> dict:
    """Every way to reach each Service; ``failed`` set when the render directory cannot be read."""
    del check_mode, diff
    objects = list(params["objects"])
    if params["directory"]:
        try:
            objects += load_directory(params["directory"])
        except ManifestError as exc:                 # not there, or a file that is not a Kubernetes object
            return {"failed": True, "changed": False, "msg": str(exc)}
    return {"changed": False, **report(objects, params["nodes"])}


def main():
    run_module(run, ARGUMENT_SPEC)


if __name__ == "__main__":
    main()
