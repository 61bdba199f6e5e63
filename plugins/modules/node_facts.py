#!/usr/bin/python
"""Module onprem.k8snet.node_facts: everything the network plan needs from one node, in one call."""
# Ansible wants the documentation strings before the imports.

from __future__ import annotations

DOCUMENTATION = r"""
module: node_facts
author: k8snet maintainers
version_added: 0.1.0
short_description: Gather a node's network facts for the k8snet network plan
description:
  - Reports, in one call, what the network plan needs from a node, in the shape documented in
    C(docs/ARCHITECTURE.md) (section Facts). That is every interface (kind, state, MTU, MAC, master,
    parent, global addresses), the default route of each family, the route to O(can_reach), the
    ephemeral and reserved port ranges, kernel features, the firewall that filters input, sockets
    listening on O(ports) and an already running flannel overlay.
  - Runs C(ip -j -d addr show) (link details and addresses at once), C(ip -j route show default),
    C(ip -j -6 route show default), C(ip -j route get) for O(can_reach), C(ss -H -l -n -p -t -u) when
    O(ports) is not empty, C(nft -j list chains) (and C(iptables -S INPUT) when nftables shows no drop
    policy), C(iptables --version) when iptables is installed, and C(systemctl is-active firewalld) when firewalld
    is installed; reads C(/proc) and C(/sys).
  - Changes nothing. A missing tool (no C(ss), no C(nft)) leaves its part empty and says so in RV(notes);
    only a missing C(ip) fails the task, since without interfaces there is nothing to plan.
  - Runs on Python 3.8 and later; needs no Python packages beyond the standard library.
options:
  can_reach:
    description:
      - An address to resolve with C(ip route get); the interface and source address the host would use
        are returned as RV(facts.can_reach). Set it from C(flannel_iface_can_reach).
    type: str
  ports:
    description:
      - Ports whose listening sockets are reported with their owning process (for example 80 and 443,
        which host-network ingress needs free).
    type: list
    elements: dict
    default: []
    suboptions:
      protocol:
        description: Transport protocol.
        type: str
        choices: [tcp, udp]
        default: tcp
      port:
        description: Port number.
        type: int
        required: true
  sysctl_file:
    description:
      - The sysctl.d drop-in node preparation owns (M(onprem.k8snet.sysctl_conf)); its text and the runtime
        values of the parameters it may set are returned as RV(facts.sysctl), so that a run can tell whether
        node preparation has anything to do without connecting again.
    type: path
    default: /etc/sysctl.d/90-k8snet.conf
  checksums:
    description:
      - Files whose sha256 is returned as RV(facts.checksums) (C(null) when a file is absent or unreadable),
        so that a run fetches a file from the host only when the controller's copy differs (the admin
        kubeconfig in api mode).
    type: list
    elements: path
    default: []
  kernel_features:
    description:
      - Kernel features to report as C(builtin) (modules.builtin or the kernel config says C(=y)),
        C(loaded) (C(/sys/module/<name>) exists), C(module) (loadable, listed in modules.dep) or C(absent).
    type: list
    elements: str
    default: [br_netfilter, vxlan, overlay, wireguard]
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
notes:
  - Run it with privileges (C(become)) for the owning process of sockets and for the nftables ruleset;
    without them those parts are incomplete and RV(notes) says so.
seealso:
  - module: onprem.k8snet.network_plan
"""

EXAMPLES = r"""
- name: Gather the facts the plan needs
  onprem.k8snet.node_facts:
    can_reach: "{{ flannel_iface_can_reach | default(omit) }}"
    ports:
      - {protocol: tcp, port: 80}
      - {protocol: tcp, port: 443}
    kernel_features: [br_netfilter, vxlan, overlay, wireguard]
  register: network_plan_facts

- name: Show the interfaces
  ansible.builtin.debug:
    msg: "{{ network_plan_facts.facts.interfaces | map(attribute='name') | list }}"
"""

RETURN = r"""
facts:
  description: The node's network facts (docs/ARCHITECTURE.md, "Facts").
  returned: always
  type: dict
  contains:
    hostname:
      description: The host name the node reports.
      type: str
      sample: node1
    interfaces:
      description:
        - Every link in C(ip link) order, with C(name), C(kind) (C(linkinfo.info_kind) such as veth, bridge,
          bond, vlan, vxlan, wireguard; C(ether) for a plain NIC, C(loopback) for lo), C(state) (C(up) when
          administratively up and with carrier, else C(down)), C(mtu), C(mac), C(master) (bridge or bond it is
          enslaved to), C(parent) (lower device of a vlan or macvlan) and C(addresses) (global scope only, as
          C({address, prefix, family})).
      type: list
      elements: dict
      sample:
        - {name: eth1, kind: veth, state: up, mtu: 1500, mac: "aa:bb:cc:dd:ee:ff", master: null, parent: null,
           addresses: [{address: 192.168.56.11, prefix: 24, family: 4}]}
    default_routes:
      description: At most one per family (the lowest metric) as C({family, gateway, dev}).
      type: list
      elements: dict
      sample: [{family: 4, gateway: 10.0.2.2, dev: eth0}]
    can_reach:
      description:
        - C(null) without O(can_reach); else C({target, dev, src}), plus C(error) (and C(dev) null) when the
          host has no route to the target. A target that is the host's own address names the interface
          holding it.
      type: dict
      sample: {target: 192.168.56.12, dev: eth1, src: 192.168.56.11}
    ip_local_port_range:
      description: C(net.ipv4.ip_local_port_range) as two integers.
      type: list
      elements: int
      sample: [32768, 60999]
    ip_local_reserved_ports:
      description: C(net.ipv4.ip_local_reserved_ports), raw text.
      type: str
      sample: ""
    kernel:
      description:
        - C(release), C(features) (name -> C(builtin), C(module), C(loaded) or C(absent)) and C(cgroup)
          (C(v2) unified hierarchy, C(v1) v1 controllers mounted, hybrid included, or C(unknown)).
      type: dict
      sample: {release: 6.1.0-18-amd64, features: {br_netfilter: builtin, vxlan: loaded, overlay: module,
               wireguard: absent}, cgroup: v2}
    firewall:
      description: C(kind) (C(firewalld), C(ufw), C(nftables), C(iptables) or C(none)) and a short C(detail).
      type: dict
      sample: {kind: nftables, detail: "table inet filter, chain input policy drop"}
    packet_filter:
      description:
        - C(tools), those of C(iptables-legacy), C(iptables-nft) and C(nft) the host has, and C(iptables), the
          backend its plain C(iptables) command drives (C(nft) or C(legacy)), null when it has no iptables at all
          (distributions that ship nftables only).
      type: dict
      sample: {tools: [iptables-legacy, iptables-nft, nft], iptables: nft}
    listening:
      description:
        - Sockets listening on O(ports) as C({protocol, port, address, process, pid}); C(process) and C(pid)
          are null for kernel sockets (the VXLAN socket of flannel.1) or without privileges.
      type: list
      elements: dict
      sample: [{protocol: tcp, port: 80, address: 0.0.0.0, process: nginx, pid: 1234}]
    sysctl:
      description:
        - C(path) and C(file) (the text of O(sysctl_file), null when absent) and C(runtime), the current value
          of each parameter node preparation may set (null when the kernel does not have it).
      type: dict
      sample: {path: /etc/sysctl.d/90-k8snet.conf, file: null, runtime: {net.ipv4.ip_forward: "0"}}
    flannel:
      description:
        - An existing flannel overlay (day 2). C(running) is true when a C(flannel.<VNI>) or C(flannel-wg)
          device exists and is up; C(addresses) are its global addresses as C(address/prefix).
      type: dict
      sample: {running: true, device: flannel.1, addresses: [10.244.1.0/32]}
    checksums:
      description: sha256 of each file of O(checksums), C(null) when it is absent.
      type: dict
      sample: {/etc/kubernetes/admin.conf: 3f1c...}
notes:
  description: What could not be gathered and why (a missing tool, no privileges); empty when all went well.
  returned: always
  type: list
  elements: str
  sample: ["ss not found: listening sockets are not reported (install iproute2)"]
duration:
  description: Seconds the gathering took on the node.
  returned: always
  type: float
  sample: 0.021
"""

import gzip
import hashlib
import os
import socket
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.onprem.k8snet.plugins.module_utils import hostfacts, sysctl

SYSCTL = "/proc/sys/net/ipv4"
ARGUMENT_SPEC = {
    "can_reach": {"type": "str"},
    "ports": {"type": "list", "elements": "dict", "default": [],
              "options": {"protocol": {"type": "str", "choices": ["tcp", "udp"], "default": "tcp"},
                          "port": {"type": "int", "required": True}}},
    "kernel_features": {"type": "list", "elements": "str",
                        "default": ["br_netfilter", "vxlan", "overlay", "wireguard"]},
    "sysctl_file": {"type": "path", "default": sysctl.DEFAULT_PATH},
    "checksums": {"type": "list", "elements": "path", "default": []},
}


def read_text(path):
    """A file's text, or None when it does not exist or cannot be read."""
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rt") as handle:
                return handle.read()
        with open(path) as handle:
            return handle.read()
    except (OSError, EOFError, UnicodeDecodeError):
        return None


def is_dir(path):
    return os.path.isdir(path)


def kernel_release():
    return os.uname().release


class Gatherer:
    """Runs the commands once each and records what could not be run."""

    def __init__(self, module):
        self.module = module
        self.notes = []

    def run(self, tool, args, what, install=None):
        """(rc, stdout, stderr), or None with a note when ``tool`` is not installed."""
        path = self.module.get_bin_path(tool)
        if not path:
            hint = f" (install {install})" if install else ""
            self.notes.append(f"{tool} not found: {what} not reported{hint}")
            return None
        return self.module.run_command([path, *args], environ_update={"LC_ALL": "C"})

    def output(self, tool, args, what, install=None):
        """stdout of a command that should succeed, or None with a note."""
        result = self.run(tool, args, what, install)
        if result is None:
            return None
        rc, out, err = result
        if rc != 0:
            self.notes.append(f"{tool} {' '.join(args)} failed ({(err or out).strip() or f'rc {rc}'}): "
                              f"{what} not reported")
            return None
        return out

    # ------------------------------------------------------------ parts
    def interfaces(self):
        ip = self.module.get_bin_path("ip")
        if not ip:
            self.module.fail_json(msg="the ip command is not installed on this node; install iproute2")
        rc, out, err = self.module.run_command([ip, "-j", "-d", "addr", "show"])
        if rc != 0:
            self.module.fail_json(msg=f"ip -j -d addr show failed: {err.strip()}", rc=rc)
        return hostfacts.parse_interfaces(out)

    def default_routes(self):
        v4 = self.output("ip", ["-j", "route", "show", "default"], "the IPv4 default route")
        v6 = self.output("ip", ["-j", "-6", "route", "show", "default"], "the IPv6 default route")
        return hostfacts.parse_default_routes(v4, v6)

    def can_reach(self, target, interfaces):
        if not target:
            return None
        rc, out, err = self.run("ip", ["-j", "route", "get", target], "the route to can_reach")
        return hostfacts.parse_route_get(target, out if rc == 0 else None, err, interfaces)

    def kernel(self, features):
        release = kernel_release()
        builtin = hostfacts.module_names(read_text(f"/lib/modules/{release}/modules.builtin"))
        pending = [f for f in features if f.replace("-", "_") not in builtin]
        config = None
        if pending:
            config = read_text("/proc/config.gz") or read_text(f"/boot/config-{release}")
        loaded = {f: is_dir(f"/sys/module/{f.replace('-', '_')}") for f in features}
        available = set()
        if any(not loaded[f] and hostfacts.feature_state(f, False, builtin, config, set()) == "absent"
               for f in pending):
            # modules.dep is the largest file here (hundreds of KB): read only when it can decide something.
            available = hostfacts.module_names(read_text(f"/lib/modules/{release}/modules.dep"))
        features = {f: hostfacts.feature_state(f, loaded[f], builtin, config, available) for f in features}
        cgroup = hostfacts.cgroup_version(read_text("/sys/fs/cgroup/cgroup.controllers") is not None,
                                          read_text("/proc/mounts"))
        return {"release": release, "features": features, "cgroup": cgroup}

    def firewalld_active(self):
        if not self.module.get_bin_path("firewalld"):
            return False
        result = self.run("systemctl", ["is-active", "firewalld"], "whether firewalld runs")
        return bool(result) and result[1].strip() == "active"

    def firewall(self):
        if self.firewalld_active():
            return hostfacts.detect_firewall(firewalld_active=True)
        if self.module.get_bin_path("ufw") and hostfacts.ufw_enabled(read_text("/etc/ufw/ufw.conf")):
            return hostfacts.detect_firewall(ufw_enabled=True)
        chains = None
        if self.module.get_bin_path("nft"):
            chains = self.output("nft", ["-j", "list", "chains"], "the nftables ruleset")
        iptables = None
        if not (chains and hostfacts.nft_drop_input_chains(chains)) and self.module.get_bin_path("iptables"):
            iptables = self.output("iptables", ["-S", "INPUT"], "the iptables INPUT policy")
        return hostfacts.detect_firewall(nft_chains=chains, iptables_input=iptables)

    def packet_filter(self):
        present = [t for t in hostfacts.PACKET_FILTER_TOOLS if self.module.get_bin_path(t)]
        version = self.output("iptables", ["--version"], "the iptables backend") \
            if self.module.get_bin_path("iptables") else None
        return hostfacts.packet_filter(present, version)

    def listening(self, ports):
        if not ports:
            return []
        out = self.output("ss", ["-H", "-l", "-n", "-p", "-t", "-u"], "listening sockets", install="iproute2")
        return hostfacts.parse_listening(out, ports) if out is not None else []


def sha256(path):
    """The file's sha256 (hex), or None when it does not exist or cannot be read."""
    try:
        with open(path, "rb") as handle:            # hosts may run Python 3.8: no hashlib.file_digest
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return None


def sysctl_state(path):
    """The drop-in's text and the runtime values node preparation compares with the plan."""
    return {"path": path, "file": read_text(path), "runtime": sysctl.read_runtime(sysctl.WATCHED, read=read_text)}


def gather(module):
    """The facts dict and the notes, from the module's parameters."""
    params = module.params
    g = Gatherer(module)
    interfaces = g.interfaces()
    facts = {
        "hostname": socket.gethostname(),
        "interfaces": interfaces,
        "default_routes": g.default_routes(),
        "can_reach": g.can_reach(params["can_reach"], interfaces),
        "ip_local_port_range": hostfacts.parse_port_range(read_text(f"{SYSCTL}/ip_local_port_range")),
        "ip_local_reserved_ports": (read_text(f"{SYSCTL}/ip_local_reserved_ports") or "").strip(),
        "kernel": g.kernel(params["kernel_features"]),
        "firewall": g.firewall(),
        "packet_filter": g.packet_filter(),
        "listening": g.listening(params["ports"]),
        "sysctl": sysctl_state(params["sysctl_file"]),
        "flannel": hostfacts.flannel_overlay(interfaces),
        "checksums": {path: sha256(path) for path in params["checksums"]},
    }
    return facts, g.notes


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    start = time.monotonic()
    facts, notes = gather(module)
    module.exit_json(changed=False, facts=facts, notes=notes, duration=round(time.monotonic() - start, 3))


if __name__ == "__main__":
    main()
