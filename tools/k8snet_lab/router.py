"""The lab router (`create --router`): FRR (Debian's `frr`) in a namespace of its own on the lab bridge.

It peers over BGP with MetalLB's speakers on every node (AS ROUTER_ASN against SPEAKER_ASN),
installs what they announce (several next hops: ECMP) and routes between the lab bridge and a second,
router-only network toward the "remote client" namespace, which has no way to the nodes but through
the router. The nodes reach the remote network through the router too (a route each node gets when it
boots, see wire_node), as behind a real site router. The daemons run in the foreground, recorded by
PID like every process of the lab.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
from pathlib import Path

from .constants import LINK_PREFIX, STATE_DIR
from .network import bridged_namespace
from .state import locked_state, read_state, record
from .util import LabError, alive, identity, mac, run, signal_recorded, tail, wait_for

NS_ROUTER = "k8snet-router"
NS_REMOTE = "k8snet-remote"
ROUTER_LINK = f"{LINK_PREFIX}router"
ROUTER_IP = "192.168.56.4"                    # on the lab bridge, outside every pool of the lab inventories
REMOTE_NET = "172.16.9.0/24"                  # router-only network: the router .1, the remote client .2
ROUTER_REMOTE_IP = "172.16.9.1"
REMOTE_IP = "172.16.9.2"
BGP_POOL = "172.16.10.0/28"                   # the BGP variant's LoadBalancer addresses (no node holds them)
ROUTER_ASN = 64500
SPEAKER_ASN = 64512
ROUTER_DIR = STATE_DIR / "router"
LOG = STATE_DIR / "router.log"
DAEMONS = ("zebra", "bgpd")                   # zebra first: bgpd hands it the routes it installs
FRR = "/usr/lib/frr"


def bgpd_conf(nodes: list[str], hold_time: int = 9, keepalive: int = 3) -> str:
    """A router that peers with the speaker of every node and installs every path it is given.

    One neighbor per node address, not a listen range: with dynamic neighbors FRR 8.4 lost the sessions
    of speakers that reconnected all at once (a BGPPeer changed) while their TCP connections stayed up."""
    return (f"hostname {NS_ROUTER}\n"
            f"router bgp {ROUTER_ASN}\n"
            f" bgp router-id {ROUTER_IP}\n"
            " no bgp ebgp-requires-policy\n"
            " neighbor speakers peer-group\n"
            f" neighbor speakers remote-as {SPEAKER_ASN}\n"
            f" neighbor speakers timers {keepalive} {hold_time}\n"
            + "".join(f" neighbor {address} peer-group speakers\n" for address in nodes)
            + " address-family ipv4 unicast\n"
            "  maximum-paths 8\n"
            " exit-address-family\n")


def setup_netns() -> None:
    bridged_namespace(NS_ROUTER, ROUTER_LINK, 4, [f"{ROUTER_IP}/24"])
    # The router-only network: both ends inside the lab's namespaces, nothing on this machine's side.
    record("netns", NS_REMOTE)
    run("ip", "netns", "add", NS_REMOTE)
    run("ip", "-n", NS_ROUTER, "link", "add", "remote0", "address", mac(0, 4, 2), "type", "veth",
        "peer", "name", "eth0", "address", mac(0, 4, 3), "netns", NS_REMOTE)
    run("ip", "-n", NS_ROUTER, "-batch", "-",
        data=f"addr add {ROUTER_REMOTE_IP}/24 dev remote0\nlink set remote0 up\n")
    run("ip", "-n", NS_REMOTE, "-batch", "-", data="\n".join([
        "link set lo up", f"addr add {REMOTE_IP}/24 dev eth0", "link set eth0 up",
        f"route add default via {ROUTER_REMOTE_IP}"]) + "\n")
    run("ip", "netns", "exec", NS_ROUTER, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1",
        "net.ipv6.conf.all.disable_ipv6=1")


def start(nodes: list[str]) -> None:
    """The namespaces, then zebra and bgpd peering with ``nodes`` (addresses); returns once bgpd answers vtysh."""
    if not shutil.which("vtysh") or not all(Path(FRR, d).exists() for d in DAEMONS):
        raise LabError("--router needs FRR (Debian package frr): apt-get install frr")
    setup_netns()
    if ROUTER_DIR.exists():
        shutil.rmtree(ROUTER_DIR)
    ROUTER_DIR.mkdir(parents=True)
    (ROUTER_DIR / "zebra.conf").write_text(f"hostname {NS_ROUTER}\nip forwarding\n")
    (ROUTER_DIR / "bgpd.conf").write_text(bgpd_conf(nodes))
    shutil.chown(ROUTER_DIR, "frr", "frr")
    with open(LOG, "ab") as out:
        for daemon in DAEMONS:
            proc = subprocess.Popen(
                ["ip", "netns", "exec", NS_ROUTER, f"{FRR}/{daemon}", "-f", str(ROUTER_DIR / f"{daemon}.conf"),
                 "-i", str(ROUTER_DIR / f"{daemon}.pid"), "-z", str(ROUTER_DIR / "zserv.api"),
                 "--vty_socket", str(ROUTER_DIR), "-u", "frr", "-g", "frr", "--log", "stdout"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd="/")
            with locked_state() as state:
                state.setdefault("router", {})[daemon] = identity(proc.pid)
            wait_for(lambda d=daemon, p=proc: _answers(d, p), 20, f"the lab router's {daemon}", 0.2)


def _answers(daemon: str, proc: subprocess.Popen) -> bool:
    if proc.poll() is not None:
        raise LabError(f"the lab router's {daemon} exited with {proc.returncode}:\n{tail(LOG)}")
    return (ROUTER_DIR / f"{daemon}.vty").exists() and vtysh("show version", check=False).returncode == 0


def vtysh(*commands: str, check: bool = True) -> subprocess.CompletedProcess:
    args = [arg for c in commands for arg in ("-c", c)]
    return run("ip", "netns", "exec", NS_ROUTER, "vtysh", "--vty_socket", str(ROUTER_DIR), *args, check=check)


def show(command: str) -> dict:
    """A vtysh `show ... json` answer, parsed."""
    return json.loads(vtysh(f"{command} json").stdout or "{}")


def configure(*lines: str) -> None:
    """Change the running router (day-2 tests: another ASN, hold time)."""
    vtysh("configure terminal", *lines)


def stop(state: dict | None = None) -> None:
    """bgpd, then zebra (each by its recorded PID); the namespaces go with the rest of the lab's."""
    recs = (read_state() if state is None else state).get("router", {})
    for daemon in reversed(DAEMONS):
        rec = recs.get(daemon)
        signal_recorded(rec, signal.SIGTERM)
        try:
            wait_for(lambda r=rec: not alive(r), 5, f"the lab router's {daemon} to exit", 0.1)
        except LabError:
            signal_recorded(rec, signal.SIGKILL)


def running(state: dict) -> list[str]:
    """The router daemons of ``state`` still running, as `process PID (router daemon)` lines."""
    return [f"process {rec['pid']} (router {daemon})" for daemon, rec in state.get("router", {}).items()
            if alive(rec)]
