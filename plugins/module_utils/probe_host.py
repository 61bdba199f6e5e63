"""Host side of the underlay probes: pings in parallel, raw ARP, temporary firewall openings.

Runs on the nodes (Python 3.8+, standard library only). Everything a probe
creates is temporary and tagged so that the probe's teardown, or the next
probe, removes it.
"""

from __future__ import annotations

import json
import os
import select
import socket
import struct
import subprocess
import time

from . import nftables

PROBE_TAG = "k8snet-probe:"


# ---------------------------------------------------------------- ping

def ping_command(address: str, size: int | None, dev: str | None, dont_fragment: bool) -> list[str]:
    cmd = ["ping", "-n", "-q", "-c", "3", "-i", "0.2", "-w", "3"]
    if ":" in address:
        cmd.insert(1, "-6")
    if dev:
        cmd += ["-I", dev]
    if dont_fragment:
        cmd += ["-M", "do"]
    if size is not None:
        overhead = 48 if ":" in address else 28
        cmd += ["-s", str(max(size - overhead, 0))]
    return [*cmd, address]


def run_parallel(commands: dict) -> dict:
    """Run {key: argv} at once; {key: (rc, output)} when all are done (each command bounds its own time)."""
    procs = {key: subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for key, argv in commands.items()}
    return {key: (p.wait(), p.stdout.read()) for key, p in procs.items()}


def loopback_in_fresh_netns(name: str) -> tuple[int, str]:
    """Ping 127.0.0.1 inside a new network namespace with only lo up (what a pod's containers share).

    The namespace is removed again whatever happens; (rc, output) of the ping (or of the step that failed).
    """
    steps = [["ip", "netns", "add", name], ["ip", "-n", name, "link", "set", "lo", "up"],
             ["ip", "netns", "exec", name, "ping", "-n", "-q", "-c", "1", "-W", "1", "127.0.0.1"]]
    try:
        for argv in steps:
            proc = subprocess.run(argv, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                break
        return proc.returncode, (proc.stdout + proc.stderr).strip()
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


# ---------------------------------------------------------------- ARP

ETH_P_ARP = 0x0806


def arp_request(src_mac: bytes, src_ip: str, target_ip: str) -> bytes:
    broadcast = b"\xff" * 6
    header = broadcast + src_mac + struct.pack("!H", ETH_P_ARP)
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, src_mac, socket.inet_aton(src_ip),
                      b"\x00" * 6, socket.inet_aton(target_ip))
    return header + arp


def parse_arp_reply(frame: bytes) -> tuple[str, str] | None:
    """(sender ip, sender mac) of an ARP reply frame, else None."""
    if len(frame) < 42 or struct.unpack("!H", frame[12:14])[0] != ETH_P_ARP:
        return None
    op = struct.unpack("!H", frame[20:22])[0]
    if op != 2:
        return None
    mac = ":".join(f"{b:02x}" for b in frame[22:28])
    return socket.inet_ntoa(frame[28:32]), mac


def arp_sweep(dev: str, src_ip: str, targets: list[str], timeout: float = 1.0, rounds: int = 2) -> dict:
    """Send one ARP request per target (per round, to the unanswered) and collect replies: {ip: mac}."""
    answers: dict[str, str] = {}
    wanted = set(targets)
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    try:
        sock.bind((dev, ETH_P_ARP))
        src_mac = sock.getsockname()[4]
        own_mac = ":".join(f"{b:02x}" for b in src_mac)
        for _ in range(rounds):
            pending = [t for t in targets if t not in answers]
            if not pending:
                break
            for target in pending:
                sock.send(arp_request(src_mac, src_ip, target))
            deadline = time.monotonic() + timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                ready, _, _ = select.select([sock], [], [], left)
                if not ready:
                    break
                reply = parse_arp_reply(sock.recv(2048))
                if reply and reply[0] in wanted and reply[1] != own_mac:
                    answers.setdefault(reply[0], reply[1])
    finally:
        sock.close()
    return answers


# ---------------------------------------------------------------- temporary firewall openings

def _nft_ruleset(module):
    nft = module.get_bin_path("nft")
    if not nft:
        return None, None
    rc, out, _ = module.run_command([nft, "-j", "list", "ruleset"])
    return (nft, json.loads(out or "{}")) if rc == 0 else (nft, None)


def open_temporarily(module, openings: list[dict]) -> list[str]:
    """Accept the probe's ports on drop-policy input chains (nftables) or in firewalld's runtime config."""
    done = []
    nft, ruleset = _nft_ruleset(module)
    if ruleset is not None:
        chains = [c for c in nftables.drop_chains(ruleset) if c["hook"] == "input"]
        rules = nftables.wanted_rules(chains, openings, [])
        present = {(r["table"], r["chain"], r["comment"]) for r in _tagged(ruleset, PROBE_TAG)}
        batch = []
        for wanted in rules:
            rule = {**wanted, "comment": wanted["comment"].replace(nftables.TAG, PROBE_TAG, 1)}
            if (rule["table"], rule["chain"], rule["comment"]) not in present:
                batch.append(nftables.insert_command(rule))
        if batch:
            rc, _, err = module.run_command([nft, "-f", "-"], data="\n".join(batch) + "\n", binary_data=True)
            if rc != 0:
                module.fail_json(msg=f"could not open the probe ports temporarily: {err.strip()}")
            done += batch
    firewall_cmd = module.get_bin_path("firewall-cmd")
    if firewall_cmd and module.run_command([firewall_cmd, "--state"])[0] == 0:
        for o in openings:
            spec = f"{o['port']}/{o['protocol']}"
            if module.run_command([firewall_cmd, "--query-port", spec])[0] != 0:
                module.run_command([firewall_cmd, "--add-port", spec], check_rc=True)
                done.append(f"firewalld runtime {spec}")
                _remember_firewalld(spec)
    return done


FIREWALLD_NOTE = "/run/k8snet-probe-firewalld"


def _remember_firewalld(spec: str) -> None:
    with open(FIREWALLD_NOTE, "a") as handle:
        handle.write(spec + "\n")


def _tagged(ruleset: dict, tag: str) -> list[dict]:
    return [item["rule"] for item in ruleset.get("nftables", [])
            if "rule" in item and str(item["rule"].get("comment", "")).startswith(tag)]


def close_temporary(module) -> list[str]:
    removed = []
    nft, ruleset = _nft_ruleset(module)
    if ruleset is not None:
        batch = [f"delete rule {r['family']} {r['table']} {r['chain']} handle {r['handle']}"
                 for r in _tagged(ruleset, PROBE_TAG)]
        if batch:
            module.run_command([nft, "-f", "-"], data="\n".join(batch) + "\n", binary_data=True, check_rc=True)
            removed += batch
    try:
        with open(FIREWALLD_NOTE) as handle:
            specs = [line.strip() for line in handle if line.strip()]
    except FileNotFoundError:
        specs = []
    firewall_cmd = module.get_bin_path("firewall-cmd")
    for spec in specs:
        if firewall_cmd:
            module.run_command([firewall_cmd, "--remove-port", spec])
            removed.append(f"firewalld runtime {spec}")
    if specs:
        os.unlink(FIREWALLD_NOTE)
    return removed


# ---------------------------------------------------------------- TCP/UDP listeners and probes

LISTENER_PIDFILE = "/run/k8snet-port-probe.pid"
LISTENER_MARK = b"k8snet-port-probe"


def bind_listeners(ports: list[dict]) -> tuple[list[socket.socket], list[str]]:
    """Bind every {protocol, port}; ports already in use are reported as busy ('udp/7946')."""
    sockets, busy = [], []
    for p in ports:
        kind = socket.SOCK_STREAM if p["protocol"] == "tcp" else socket.SOCK_DGRAM
        sock = socket.socket(socket.AF_INET, kind)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", int(p["port"])))
        except OSError:
            sock.close()
            busy.append(f"{p['protocol']}/{p['port']}")
            continue
        if kind == socket.SOCK_STREAM:
            sock.listen(64)
        sockets.append(sock)
    return sockets, busy


def serve(sockets: list[socket.socket], lifetime: float) -> None:
    """Accept and close TCP connections, echo UDP datagrams, until the lifetime ends."""
    deadline = time.monotonic() + lifetime
    while sockets:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select(sockets, [], [], left)
        for sock in ready:
            try:
                if sock.type == socket.SOCK_STREAM:
                    conn, _ = sock.accept()
                    conn.close()
                else:
                    data, peer = sock.recvfrom(2048)
                    sock.sendto(data, peer)
            except OSError:
                continue


def daemonize(sockets: list[socket.socket], lifetime: float) -> int:
    """Serve in a detached grandchild (no inherited stdio, so the SSH session can close); returns its PID."""
    read_end, write_end = os.pipe()
    if os.fork() == 0:
        os.setsid()
        pid = os.fork()
        if pid:
            os.write(write_end, str(pid).encode())
            os._exit(0)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        try:
            import ctypes  # name the process so teardown can recognise it
            ctypes.CDLL(None).prctl(15, LISTENER_MARK[:15], 0, 0, 0)
        except (OSError, AttributeError):
            pass
        serve(sockets, lifetime)
        os._exit(0)
    os.close(write_end)
    pid = int(os.read(read_end, 32) or b"0")
    os.close(read_end)
    os.wait()
    for sock in sockets:
        sock.close()
    with open(LISTENER_PIDFILE, "w") as handle:
        handle.write(str(pid))
    return pid


def stop_listeners() -> bool:
    try:
        with open(LISTENER_PIDFILE) as handle:
            pid = int(handle.read().strip() or 0)
    except (FileNotFoundError, ValueError):
        return False
    try:
        with open(f"/proc/{pid}/comm", "rb") as handle:
            ours = handle.read().strip() == LISTENER_MARK[:15]
        if ours:
            os.kill(pid, 15)
    except (FileNotFoundError, ProcessLookupError):
        ours = False
    os.unlink(LISTENER_PIDFILE)
    return ours


def check_port(target: dict, timeout: float = 2.0) -> dict:
    """TCP: a completed connect. UDP: our nonce echoed back by the peer's listener."""
    address, port = target["address"], int(target["port"])
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    result = dict(target)
    try:
        if target["protocol"] == "tcp":
            with socket.create_connection((address, port), timeout=timeout):
                result["ok"] = True
        else:
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.settimeout(timeout / 4)
                nonce = os.urandom(8)
                result["ok"] = False
                for _ in range(4):
                    sock.sendto(nonce, (address, port))
                    try:
                        if sock.recvfrom(64)[0] == nonce:
                            result["ok"] = True
                            break
                    except socket.timeout:  # noqa: UP041 (nodes may run Python 3.8)
                        continue
    except OSError as exc:
        result["ok"], result["error"] = False, exc.strerror or str(exc)
    return result
