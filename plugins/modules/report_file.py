#!/usr/bin/python
"""Module onprem.k8snet.report_file: a report written on the controller when its text differs."""

from __future__ import annotations

DOCUMENTATION = r"""
module: report_file
author: k8snet maintainers
version_added: 0.3.0
short_description: Write a report (VERIFY.md, ACCESS.md) on the controller when its text differs
description:
  - What verify and access write into the report directory, written in the controller's own process (through
    the action plugin of the same name) instead of C(ansible.builtin.copy)'s two module runs a file.
  - The file is written (mode C(0644), its directory created when missing) only when its text differs,
    beside the old one and then renamed over it, so a reader never sees half a report.
  - Reports C(changed) when it wrote; the roles set C(changed_when=false), a report being a run's output,
    not a change to the hosts or the cluster. In check mode nothing is written.
options:
  dest:
    description: Path of the report on the controller.
    type: path
    required: true
  content:
    description: The report's text.
    type: str
    required: true
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Write the verification report into the report directory
  onprem.k8snet.report_file:
    dest: "{{ plan.cluster.report_dir }}/VERIFY.md"
    content: "{{ report.markdown }}"
  changed_when: false
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
dest:
  description: The report's path.
  returned: always
  type: str
  sample: reports/lab/VERIFY.md
"""

from ansible_collections.onprem.k8snet.plugins.module_utils.in_process import run_module
from ansible_collections.onprem.k8snet.plugins.module_utils.render import write_if_changed

ARGUMENT_SPEC = {"dest": {"type": "path", "required": True},
                 "content": {"type": "str", "required": True}}


def run(params: dict, check_mode: bool = False, diff: bool = False) -> dict:
    """Writes the report when its text differs; ``failed`` set when it cannot be written."""
    del diff
    dest, content = params["dest"], params["content"]
    try:
        changed = write_if_changed(dest, content, check_mode)
    except OSError as e:
        return {"failed": True, "changed": False, "dest": dest, "msg": f"{dest}: {e.strerror or e}"}
    return {"changed": changed, "dest": dest}


def main():
    run_module(run, ARGUMENT_SPEC)


if __name__ == "__main__":
    main()
