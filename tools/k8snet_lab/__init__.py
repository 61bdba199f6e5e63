"""The lab: Debian nodes as systemd-nspawn machines with Vagrant-style NICs, on one machine.

One module per concern; `tools/lab.py` is the command line (cli.py). See docs/LAB.md.
Python 3.11 stdlib only; run as root.
"""
