"""The lab (tools/lab.py) and ansible-runner, as the integration tests use them.

    lab = ensure_lab("vagrant")            # a lab of this layout, created when needed
    lab.exec("node1", "ip -br addr").stdout
    result = run_playbook("tests/integration/playbooks/ping.yml", lab.inventory)
    assert result.rc == 0, result.stdout
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import ansible_runner

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))
from k8snet_lab.util import wait_for  # noqa: E402 (the lab's own poller: one place)

LAB_TOOL = REPO / "tools/lab.py"
CLIENT_NETNS = "k8snet-client"
DEFAULT_LAYOUT, DEFAULT_NODES = "vagrant", 3
# A cold machine builds every binary and image first (docs/LAB.md: about 15 min on 2 cores).
CLUSTER_CREATE_TIMEOUT = 3600
CLUSTER_ALLOWED = True         # conftest sets it before each test's fixtures: is the test marked `cluster`?


class LabCommandError(AssertionError):
    """A command in the lab failed; the message carries its output."""


def lab_tool(*args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, str(LAB_TOOL), *args], capture_output=True, text=True,
                          timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise LabCommandError(f"tools/lab.py {' '.join(args)} failed ({proc.returncode}):\n"
                              f"{proc.stdout}{proc.stderr}")
    return proc


def wait_until(condition, timeout: float, what: str, interval: float = 1.0):
    """Poll `condition()` until it returns a true value (returned); fail naming `what` at the deadline."""
    return wait_for(condition, timeout, what, interval)


def preflight_problem() -> str | None:
    """Why the lab cannot run on this machine, or None."""
    if os.geteuid() != 0:
        return "the lab tests need root (namespaces, links, mounts): run them as root (`make integration`)"
    tools = ("systemd-nspawn", "debootstrap", "ip", "nft", "nsenter", "ssh")
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        return f"the lab tests need {', '.join(missing)}: `make deps` installs them (apt)"
    return None


def _checked(proc: subprocess.CompletedProcess, what: str, check: bool) -> subprocess.CompletedProcess:
    if check and proc.returncode != 0:
        raise LabCommandError(f"{what} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return proc


@dataclass
class Lab:
    """A running lab, as `tools/lab.py status --json` describes it."""

    layout: str
    nodes: list[str]
    addresses: dict[str, str]                     # node -> inventory address (192.168.56.1x)
    inventory: Path
    key: Path
    state: dict = field(repr=False)
    cluster: bool = False                          # a kubeadm cluster (tools/lab.py create --cluster)
    router: bool = False                           # with the BGP router and the remote client (--router)
    kube_proxy_mode: str = "iptables"              # --kube-proxy-mode
    without_iptables: bool = False                 # --without-iptables

    @classmethod
    def current(cls) -> Lab | None:
        proc = lab_tool("status", "--json", check=False)
        if proc.returncode != 0:
            return None
        state = json.loads(proc.stdout)
        return cls(layout=state["layout"], nodes=list(state["nodes"]),
                   addresses={n: c["address"] for n, c in state["nodes"].items()},
                   inventory=Path(state["inventory"]), key=Path(state["key"]), state=state,
                   cluster=bool(state.get("cluster")), router=bool(state.get("router")),
                   kube_proxy_mode=(state.get("cluster") or {}).get("kube_proxy_mode") or "iptables",
                   without_iptables=bool((state.get("cluster") or {}).get("without_iptables")))

    def healthy(self) -> bool:
        return all(s["up"] and s["ssh"] for s in self.state["status"].values())

    def nics(self, node: str) -> list[dict]:
        """The NICs the lab gave `node`: name, kind (nat|bridge), address, mtu, peer (root-side link)."""
        return self.state["nodes"][node]["nics"]

    def status(self) -> dict:
        """Fresh per-node status: up, ssh, pids, boots, memory_kib."""
        return json.loads(lab_tool("status", "--json").stdout)["status"]

    def exec(self, node: str, cmd: str | list[str], check: bool = True, timeout: float = 60,
             ) -> subprocess.CompletedProcess:
        """Run inside the node (its namespaces, not SSH); a string goes through `sh -c`."""
        argv = ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        proc = lab_tool("exec", node, "--", *argv, check=False, timeout=timeout)
        return _checked(proc, f"{node}: {cmd}", check)

    def client_exec(self, cmd: str | list[str], check: bool = True, timeout: float = 60,
                    netns: str = CLIENT_NETNS) -> subprocess.CompletedProcess:
        """Run in the client namespace (192.168.56.2 on the lab bridge), or in another of the lab's
        (`netns`: the remote client behind the router, router.NS_REMOTE)."""
        argv = ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        proc = subprocess.run(["ip", "netns", "exec", netns, *argv], capture_output=True, text=True,
                              timeout=timeout, check=False)
        return _checked(proc, f"{'client' if netns == CLIENT_NETNS else netns}: {cmd}", check)

    def ssh(self, node: str, cmd: str, check: bool = True, timeout: float = 60,
            ) -> subprocess.CompletedProcess:
        """Run over SSH with the lab key, as Ansible does."""
        argv = ["ssh", "-i", str(self.key), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                f"root@{self.addresses[node]}", cmd]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        return _checked(proc, f"ssh {node}: {cmd}", check)

    def restart(self, node: str) -> None:
        lab_tool("restart", node)

    def client_ip(self, action: str, address: str) -> None:
        lab_tool("client-ip", action, address)

    @property
    def kubeconfig(self) -> Path:
        return Path(lab_tool("kubeconfig").stdout.strip())

    def kubectl(self, *args: str, check: bool = True, timeout: float = 120,
                data: str | None = None) -> subprocess.CompletedProcess:
        """The lab's own kubectl (built with the cluster) against the lab cluster."""
        argv = [self.state["kubectl"], f"--kubeconfig={self.kubeconfig}", *args]
        proc = subprocess.run(argv, input=data, capture_output=True, text=True, timeout=timeout, check=False)
        return _checked(proc, f"kubectl {' '.join(args)}", check)

    def kube_json(self, *args: str) -> dict:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def pods_on(self, namespace: str, node: str) -> dict[str, bool]:
        """name -> Running with every container ready, for the pods of `namespace` on `node`."""
        pods = self.kube_json("-n", namespace, "get", "pods", f"--field-selector=spec.nodeName={node}")["items"]
        return {p["metadata"]["name"]: p["status"]["phase"] == "Running"
                and all(c.get("ready") for c in p["status"].get("containerStatuses", [])) for p in pods}


class LabManager:
    """One lab per test session: created on first use, re-created on a layout change, destroyed at the end.

    With K8SNET_LAB_KEEP=1 a healthy lab of the wanted shape that is already up is reused
    and the lab is left up at the end.
    """

    def __init__(self, keep: bool = False):
        self.keep = keep
        self.ours = False

    def get(self, layout: str = DEFAULT_LAYOUT, nodes: int = DEFAULT_NODES, cluster: bool = False,
            router: bool = False, *, kube_proxy_mode: str = "iptables", without_iptables: bool = False,
            day0: bool = False) -> Lab:
        """`day0`: a cluster that an earlier module left installed (flannel's namespace there) is made anew."""
        if cluster and not CLUSTER_ALLOWED:
            raise AssertionError("a test that makes a lab cluster must be marked `cluster`: make test runs the "
                                 "unmarked ones while the cluster's binaries are still being built")
        current = Lab.current()
        if (current and current.layout == layout and len(current.nodes) == nodes and current.healthy()
                and current.cluster == cluster and current.router == router
                and current.kube_proxy_mode == kube_proxy_mode and current.without_iptables == without_iptables
                and (self.ours or self.keep)
                and not (day0 and cluster
                         and current.kubectl("get", "namespace", "kube-flannel", check=False).returncode == 0)):
            return current
        shape = [*(["--router"] if router else []), *(["--without-iptables"] if without_iptables else []),
                 *(["--kube-proxy-mode", kube_proxy_mode] if kube_proxy_mode != "iptables" else [])]
        lab_tool("create", "--layout", layout, "--nodes", str(nodes), *(["--cluster"] if cluster else []),
                 *shape, timeout=CLUSTER_CREATE_TIMEOUT if cluster else 600)
        self.ours = True
        lab = Lab.current()
        assert lab is not None, "tools/lab.py create succeeded but status finds no lab"
        return lab

    def finish(self) -> None:
        if self.ours and not self.keep:
            lab_tool("destroy", check=False)


SYSCTL_FILE = "/etc/sysctl.d/90-k8snet.conf"


def write_inventory(directory: Path, hosts_yml: str, group_vars: Path, host_vars: dict | None = None) -> Path:
    """An inventory directory: hosts.yml, group_vars linked to `group_vars`, host_vars {host: {var: value}}."""
    directory.mkdir(parents=True)
    (directory / "hosts.yml").write_text(hosts_yml)
    (directory / "group_vars").symlink_to(group_vars.resolve())
    for host, variables in (host_vars or {}).items():
        (directory / "host_vars").mkdir(exist_ok=True)
        (directory / "host_vars" / f"{host}.yml").write_text(json.dumps(variables))
    return directory


def clean_node_state(lab: Lab) -> None:
    """Every node as before any run (what reset.yml guarantees, done by hand so that a test stands alone):
    no sysctl file, forwarding off, no reserved ports, no nftables ruleset or k8snet openings."""
    for node in lab.nodes:
        lab.exec(node, f"rm -f {SYSCTL_FILE} /etc/nftables.d/k8snet.nft; "
                       "echo 0 > /proc/sys/net/ipv4/ip_forward; "
                       "echo > /proc/sys/net/ipv4/ip_local_reserved_ports; "
                       "systemctl disable --now nftables >/dev/null 2>&1; nft flush ruleset; "
                       "printf '#!/usr/sbin/nft -f\\nflush ruleset\\n' > /etc/nftables.conf")


def ensure_lab(layout: str = DEFAULT_LAYOUT, nodes: int = DEFAULT_NODES) -> Lab:
    """Outside pytest (benchmarks, scripts): a lab of this shape, reusing a healthy one."""
    return LabManager(keep=True).get(layout, nodes)


# ---------------------------------------------------------------- ansible-runner

@dataclass
class PlaybookResult:
    rc: int
    status: str                                   # successful | failed | timeout | canceled
    stats: dict[str, dict[str, int]]              # host -> ok/changed/failures/unreachable/skipped
    events: list[dict] = field(repr=False)
    stdout: str = field(repr=False)

    def changed_hosts(self) -> list[str]:
        return sorted(h for h, s in self.stats.items() if s["changed"])

    def failed_results(self) -> list[dict]:
        """event_data of every failed (not ignored) or unreachable task result, loop items included."""
        kinds = ("runner_on_failed", "runner_item_on_failed", "runner_on_unreachable")
        return [e["event_data"] for e in self.events
                if e.get("event") in kinds and not e["event_data"].get("ignore_errors")]

    @staticmethod
    def messages(res: dict) -> list[str]:
        """The `msg` of one failed task result, then those of its failed loop items."""
        msgs = [str(res["msg"])] if res.get("msg") else []
        return msgs + [str(item["msg"]) for item in res.get("results", []) if item.get("failed") and item.get("msg")]

    def why(self) -> str:
        """What failed, for an assertion's message: each failed task as `host | task: msg` (the task is what a
        flake in CI needs named), else the end of the output."""
        lines = [f"{data.get('host')} | {data.get('task')}: "
                 f"{' / '.join(self.messages(data.get('res', {}))) or data.get('res', {})}"
                 for data in self.failed_results()]
        return "\n".join(lines) or self.stdout[-4000:]

    def failed_messages(self) -> str:
        """All `msg` of failed task results, one per line (a test asserts the right variable is named)."""
        return "\n".join(m for data in self.failed_results() for m in self.messages(data.get("res", {})))

def host_stats(raw: dict | None) -> dict[str, dict[str, int]]:
    names = {"ok": "ok", "changed": "changed", "failures": "failures", "dark": "unreachable",
             "skipped": "skipped"}
    raw = raw or {}
    hosts = {h for key in names for h in raw.get(key, {})}
    return {h: {ours: raw.get(theirs, {}).get(h, 0) for theirs, ours in names.items()} for h in sorted(hosts)}


def run_playbook(playbook: str | Path, inventory: str | Path, *, extravars: dict | None = None,
                 limit: str | None = None, tags: str | None = None, skip_tags: str | None = None,
                 check: bool = False, diff: bool = False,
                 envvars: dict | None = None, on_event=None) -> PlaybookResult:
    """ansible-playbook through ansible-runner, from the repository root with its ansible.cfg.

    ``on_event(event)`` sees every event as it arrives, while the run goes on (a test injects a fault
    at a phase); the events are kept either way.
    """
    playbook = Path(playbook)
    playbook = playbook if playbook.is_absolute() else REPO / playbook
    env = {"ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
           # ansible-playbook of this venv, also when pytest was started without activating it
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           **(envvars or {})}
    cmdline = " ".join(flag for flag, on in (("--check", check), ("--diff", diff)) if on)
    with tempfile.TemporaryDirectory(prefix="k8snet-runner-") as private:
        runner = ansible_runner.run(
            private_data_dir=private, project_dir=str(REPO), playbook=str(playbook),
            inventory=str(inventory), extravars=extravars or {}, limit=limit, tags=tags, skip_tags=skip_tags,
            cmdline=cmdline or None, envvars=env, quiet=True,
            event_handler=(lambda event: on_event(event) or True) if on_event else None,
        )
        # The artifacts (stdout, events, stats) live in `private`: read them before it goes.
        return PlaybookResult(rc=runner.rc, status=runner.status, stats=host_stats(runner.stats),
                              events=list(runner.events), stdout=runner.stdout.read())
