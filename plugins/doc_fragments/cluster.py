"""Documentation fragment onprem.k8snet.cluster: how the collection's k8s_* modules reach the cluster."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description: Path of the kubeconfig; the client's default (C(~/.kube/config), C(KUBECONFIG)) when empty.
    type: path
  context:
    description: Context of the kubeconfig to use.
    type: str
requirements:
  - kubernetes (Python client)
notes:
  - Runs on the controller, in its own process (through the action plugin of the same name); the playbooks set
    O(kubeconfig) once per play for the action group C(onprem.k8snet.k8s) (C(module_defaults)).
"""
