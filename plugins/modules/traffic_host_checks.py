#!/usr/bin/python
"""Module onprem.k8snet.traffic_host_checks: what one node proves about pod and service traffic."""

from __future__ import annotations

DOCUMENTATION = r"""
module: traffic_host_checks
author: k8snet maintainers
version_added: 0.1.0
short_description: Check on a node what pod and service traffic rely on, in one call
description:
  - Pings 127.0.0.1 inside a fresh network namespace with only C(lo) up (what the containers of a pod
    share), and removes the namespace again.
  - Reads the runtime values of the kernel parameters pod and service traffic rely on.
  - Changes nothing that outlives the call; the verify role turns the results of every node into the
    traffic table.
options:
  sysctls:
    description: Kernel parameters to read, in dotted form.
    type: list
    elements: str
    default: [net.ipv4.ip_forward, net.bridge.bridge-nf-call-iptables, net.ipv4.ip_local_reserved_ports]
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
notes:
  - Needs root (network namespaces). The namespace is named C(k8snet-verify-<pid>).
"""

EXAMPLES = r"""
- name: Check loopback and the kernel settings
  onprem.k8snet.traffic_host_checks:
  register: verify_host
"""

RETURN = r"""
loopback_rc:
  description: Exit status of the ping inside the fresh namespace (0 = loopback works).
  returned: always
  type: int
loopback_output:
  description: What the ping (or the namespace setup that failed) printed.
  returned: always
  type: str
sysctls:
  description: Each parameter's runtime value; null when the kernel does not have it.
  returned: always
  type: dict
  sample: {net.ipv4.ip_forward: "1"}
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.onprem.k8snet.plugins.module_utils.probe_host import loopback_in_fresh_netns
from ansible_collections.onprem.k8snet.plugins.module_utils.sysctl import read_runtime


def main():
    module = AnsibleModule(
        argument_spec={"sysctls": {"type": "list", "elements": "str",
                                   "default": ["net.ipv4.ip_forward", "net.bridge.bridge-nf-call-iptables",
                                               "net.ipv4.ip_local_reserved_ports"]}},
        supports_check_mode=True,
    )
    rc, output = loopback_in_fresh_netns(f"k8snet-verify-{os.getpid()}")
    module.exit_json(changed=False, loopback_rc=rc, loopback_output=output,
                     sysctls=read_runtime(module.params["sysctls"]))


if __name__ == "__main__":
    main()
