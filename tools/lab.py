#!/usr/bin/env python3
"""The lab: Debian 12 nodes as systemd-nspawn machines with Vagrant-style NICs, on one machine.

Every node boots its own systemd and sshd from one cached debootstrap rootfs, on a
per-node overlay (its files survive `restart` and an in-node reboot), with
  eth0  NAT-like: 10.0.2.15/24 on EVERY node, default route via 10.0.2.2, going nowhere
  eth1  the lab bridge k8snet-br0: 192.168.56.(10+k)/24, the controller is 192.168.56.1
and a client namespace k8snet-client (192.168.56.2) on the same bridge.

    tools/lab.py create [--nodes N] [--layout vagrant|renamed|multi|mtu] [--client-ip ADDR ...]
    tools/lab.py status | destroy | shell NODE | exec NODE -- CMD... | restart NODE
    tools/lab.py client-ip add|del ADDR | inventory [--layout L --nodes N] | rootfs

The code is the package tools/k8snet_lab (one module per concern). See docs/LAB.md.
Python 3.11 stdlib only; run as root.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from k8snet_lab.cli import main

if __name__ == "__main__":
    sys.exit(main())
