#!/usr/bin/python
"""Module onprem.k8snet.sysctl_conf: one sysctl.d file, persisted and applied, in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
module: sysctl_conf
author: k8snet maintainers
version_added: 0.1.0
short_description: Persist and apply a set of kernel parameters in one sysctl.d file
description:
  - Writes the given kernel parameters to one file under C(/etc/sysctl.d/) and applies them at
    runtime, in a single call (M(ansible.posix.sysctl) takes one call per key).
  - On first creation the file records the runtime values it changes, so that C(state=absent)
    removes the file and puts those values back.
  - Reports the file diff and the runtime changes with C(--diff); in check mode nothing is written.
options:
  path:
    description: The drop-in file.
    type: path
    default: /etc/sysctl.d/90-k8snet.conf
  values:
    description: Parameters in dotted form, e.g. C(net.ipv4.ip_forward), and their values.
    type: dict
    default: {}
  state:
    description: C(present) writes and applies; C(absent) removes the file and restores the recorded values.
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
notes:
  - A parameter that does not exist on the host (for example C(net.bridge.*) without br_netfilter) fails
    the task, naming it.
"""

EXAMPLES = r"""
- name: Forward packets and reserve the NodePort range
  onprem.k8snet.sysctl_conf:
    values:
      net.ipv4.ip_forward: 1
      net.ipv4.ip_local_reserved_ports: 30000-32767
"""

RETURN = r"""
path:
  description: The file managed.
  returned: always
  type: str
runtime_changes:
  description: Parameters whose runtime value was (or, in check mode, would be) changed, as C(key -> [before, after]).
  returned: always
  type: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.onprem.k8snet.plugins.module_utils.sysctl import (
    normalize,
    parse,
    present,
    proc_path,
    read_file,
    runtime_changes,
)
from ansible_collections.onprem.k8snet.plugins.module_utils.sysctl import read_runtime as runtime_values


def read_runtime(module, keys):
    runtime = runtime_values(keys)
    for key, value in runtime.items():
        if value is None:
            module.fail_json(msg=f"kernel parameter {key} does not exist on this host ({proc_path(key)} is missing)")
    return runtime


def write_runtime(module, changes):
    for key, (_, value) in changes.items():
        try:
            with open(proc_path(key), "w") as handle:
                handle.write(value + "\n")
        except OSError as exc:
            module.fail_json(msg=f"cannot set {key} = {value}: {exc}")


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "default": "/etc/sysctl.d/90-k8snet.conf"},
            "values": {"type": "dict", "default": {}},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
        supports_check_mode=True,
    )
    path, state = module.params["path"], module.params["state"]
    wanted = {k: normalize(v) for k, v in module.params["values"].items()}
    current_text = read_file(path)

    if state == "absent":
        # Put back the values the drop-in recorded when it was first written.
        _, before = parse(current_text) if current_text else ({}, {})
        new_text = None
        changes = runtime_changes(before, read_runtime(module, before)) if before else {}
    else:
        new_text, changes = present(current_text, read_runtime(module, wanted), wanted)
    file_changed = current_text != new_text
    result = {"changed": file_changed or bool(changes), "path": path,
              "runtime_changes": {k: list(v) for k, v in changes.items()}}
    if module._diff:
        result["diff"] = [{"before_header": path, "after_header": path,
                           "before": current_text or "", "after": new_text or ""}]
        if changes:
            runtime_lines = "".join(f"{k} = {v[0]} -> {v[1]}\n" for k, v in changes.items())
            result["diff"].append({"before_header": "runtime", "after_header": "runtime",
                                   "before": "", "after": runtime_lines})
    if module.check_mode or not result["changed"]:
        module.exit_json(**result)

    if new_text is None:
        if current_text is not None:
            os.unlink(path)
    elif file_changed:
        tmp = f"{path}.k8snet-tmp"
        with open(tmp, "w") as handle:
            handle.write(new_text)
        os.chmod(tmp, 0o644)
        module.atomic_move(tmp, path)
    write_runtime(module, changes)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
