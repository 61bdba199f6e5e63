#!/usr/bin/python
"""Module onprem.k8snet.port_probe: TCP/UDP reachability between nodes with temporary listeners."""

from __future__ import annotations

DOCUMENTATION = r"""
module: port_probe
author: k8snet maintainers
version_added: 0.1.0
short_description: Prove that TCP and UDP ports are reachable between nodes
description:
  - With O(state=listening), binds the given ports on this node and serves them from a detached
    process that accepts TCP connections and echoes UDP datagrams, and that exits by itself after
    O(lifetime) seconds. Ports already in use are reported as C(busy) (an existing service answers
    TCP; UDP to it cannot be proven). On hosts whose firewall drops by default the ports are opened
    at runtime only (tagged C(k8snet-probe:)).
  - With O(state=probe), connects to every target (TCP) or sends a nonce and waits for its echo (UDP),
    all at once.
  - With O(state=absent), stops the listener and removes the temporary openings.
  - Leaves no configuration behind, so it reports C(changed=false); it runs the same in check mode.
options:
  state:
    description: What to do.
    type: str
    choices: [listening, probe, absent]
    required: true
  ports:
    description: Ports to listen on, as C({protocol, port, why}).
    type: list
    elements: dict
    default: []
  targets:
    description: Ports to reach, as C({peer, address, protocol, port, why}).
    type: list
    elements: dict
    default: []
  busy:
    description: Per peer, the C(protocol/port) its listener could not bind (UDP to those is skipped).
    type: dict
    default: {}
  lifetime:
    description: Seconds after which the listener exits even if O(state=absent) never comes.
    type: int
    default: 120
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Listen on MetalLB's memberlist port
  onprem.k8snet.port_probe:
    state: listening
    ports: [{protocol: tcp, port: 7946}, {protocol: udp, port: 7946}]
"""

RETURN = r"""
busy:
  description: Ports this node could not bind, as C(protocol/port).
  returned: state=listening
  type: list
  elements: str
results:
  description: Per target the target plus C(ok) (and C(error) or C(skipped)).
  returned: state=probe
  type: list
  elements: dict
"""

from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.onprem.k8snet.plugins.module_utils.probe_host import (
    bind_listeners,
    check_port,
    close_temporary,
    daemonize,
    open_temporarily,
    stop_listeners,
)


def main():
    module = AnsibleModule(
        argument_spec={
            "state": {"type": "str", "choices": ["listening", "probe", "absent"], "required": True},
            "ports": {"type": "list", "elements": "dict", "default": []},
            "targets": {"type": "list", "elements": "dict", "default": []},
            "busy": {"type": "dict", "default": {}},
            "lifetime": {"type": "int", "default": 120},
        },
        supports_check_mode=True,
    )
    p = module.params
    if p["state"] == "listening":
        stop_listeners()
        sockets, busy = bind_listeners(p["ports"])
        opened = open_temporarily(module, [{**port, "port": str(port["port"])} for port in p["ports"]])
        pid = daemonize(sockets, p["lifetime"]) if sockets else None
        module.exit_json(changed=False, busy=busy, pid=pid, opened=opened)
    if p["state"] == "probe":
        todo, results = [], []
        for target in p["targets"]:
            if target["protocol"] == "udp" and f"udp/{target['port']}" in p["busy"].get(target["peer"], []):
                results.append({**target, "ok": False, "skipped": "port in use on the peer; UDP not provable"})
            else:
                todo.append(target)
        with ThreadPoolExecutor(max_workers=min(64, max(1, len(todo)))) as pool:
            results += list(pool.map(check_port, todo))
        module.exit_json(changed=False, results=results)
    stopped = stop_listeners()
    module.exit_json(changed=False, stopped=stopped, removed=close_temporary(module))


if __name__ == "__main__":
    main()
