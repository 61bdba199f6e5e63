#!/usr/bin/python
"""Module onprem.k8snet.k8s_exec: one command run in a container of a running pod."""

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_exec
author: k8snet maintainers
version_added: 0.3.0
short_description: Run a command in a container of a running pod and return its exit code and output
description:
  - What verify runs inside its test pods (api mode), as C(kubernetes.core.k8s_exec) would, in the controller's
    own process (through the action plugin of the same name), so an exec costs a request, not a Python
    interpreter and the client's import each (about 7 s a call on a 2-core controller).
  - The command is given as its argument vector (no shell, no splitting); a non-zero exit code is returned
    in RV(rc), not a failure, so the caller judges it (C(failed_when)). The module fails when the command
    could not be run at all (no such pod or container, the pod not running, no answer from the cluster) or
    did not end within O(timeout).
  - Reports C(changed=false), as it cannot know what the command changed (set C(changed_when) for a command
    that changes something). Not run in check mode.
options:
  namespace:
    description: Namespace of the pod.
    type: str
    required: true
  pod:
    description: Name of the pod.
    type: str
    required: true
  container:
    description: The container to run the command in; the pod's first container when empty.
    type: str
  argv:
    description: The command and its arguments.
    type: list
    elements: str
    required: true
  timeout:
    description: Seconds the command may take before the module gives up on it.
    type: int
    default: 60
attributes:
  check_mode:
    support: none
  diff_mode:
    support: none
extends_documentation_fragment:
  - onprem.k8snet.cluster
"""

EXAMPLES = r"""
- name: Ask the web container of verify-a for its hostname over localhost
  onprem.k8snet.k8s_exec:
    namespace: k8snet-verify
    pod: verify-a
    container: client
    argv: [curl, -sS, -m, "5", http://127.0.0.1:8080/hostname]
  register: answer
  failed_when: answer.rc != 0 or answer.stdout != 'verify-a'
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
rc:
  description: The command's exit code.
  returned: success
  type: int
  sample: 0
stdout:
  description: What the command wrote to its standard output.
  returned: success
  type: str
  sample: verify-a
stderr:
  description: What the command wrote to its standard error.
  returned: success
  type: str
  sample: ""
"""

from ansible_collections.onprem.k8snet.plugins.module_utils.in_process import run_module
from ansible_collections.onprem.k8snet.plugins.module_utils.k8s_client import CONNECTION_SPEC, Cluster, failure

ARGUMENT_SPEC = {
    "namespace": {"type": "str", "required": True},
    "pod": {"type": "str", "required": True},
    "container": {"type": "str"},
    "argv": {"type": "list", "elements": "str", "required": True},
    "timeout": {"type": "int", "default": 60},
    **CONNECTION_SPEC,
}


def run(params: dict, check_mode: bool = False, diff: bool = False, cluster: Cluster | None = None) -> dict:
    """The command's exit code and output; a command that could not run comes back as {failed, msg}."""
    del diff
    where = f"{params['namespace']}/{params['pod']}" + (f" ({params['container']})" if params.get("container") else "")
    if check_mode:
        return {"changed": False, "skipped": True, "msg": f"check mode: nothing run in {where}"}
    if not params["argv"]:
        return {"failed": True, "changed": False, "msg": f"argv: no command to run in {where}"}
    try:
        cluster = cluster or Cluster(params.get("kubeconfig"), params.get("context"))
        done = cluster.exec(params["namespace"], params["pod"], params.get("container"), params["argv"],
                            params["timeout"])
    except Exception as e:
        return failure(f"running {params['argv'][0]} in {where}", params.get("kubeconfig"), e)
    return {"changed": False, **done}


def main() -> None:
    run_module(run, ARGUMENT_SPEC)


if __name__ == "__main__":
    main()
