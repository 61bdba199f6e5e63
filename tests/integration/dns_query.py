"""Ask a DNS server for a name's A records over UDP or TCP; print them, one per line (stdlib only).

    python3 dns_query.py SERVER PORT NAME udp|tcp

Run in the lab's client namespace (`ip netns exec k8snet-client ...`): the host has no dig, and
this is what a client outside the cluster sends. Exit 1 with the reason when no answer comes.
"""

from __future__ import annotations

import random
import socket
import struct
import sys

TIMEOUT = 3.0
TYPE_A, CLASS_IN = 1, 1


def query(name: str) -> tuple[int, bytes]:
    ident = random.randrange(1 << 16)
    header = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0)           # recursion desired, one question
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"
    return ident, header + labels + struct.pack("!HH", TYPE_A, CLASS_IN)


def skip_name(msg: bytes, at: int) -> int:
    while True:
        length = msg[at]
        if length & 0xC0 == 0xC0:                                           # a compression pointer ends it
            return at + 2
        at += 1 + length
        if length == 0:
            return at


def a_records(msg: bytes, ident: int) -> list[str]:
    got, flags, questions, answers = struct.unpack("!HHHH", msg[:8])
    if got != ident:
        raise ValueError(f"answer id {got} is not the query's {ident}")
    if flags & 0x000F:
        raise ValueError(f"rcode {flags & 0x000F}")
    at = 12
    for _ in range(questions):
        at = skip_name(msg, at) + 4
    found = []
    for _ in range(answers):
        at = skip_name(msg, at)
        rtype, _cls, _ttl, length = struct.unpack("!HHIH", msg[at:at + 10])
        at += 10
        if rtype == TYPE_A:
            found.append(socket.inet_ntoa(msg[at:at + length]))
        at += length
    return found


def ask(server: str, port: int, name: str, transport: str) -> list[str]:
    ident, packet = query(name)
    if transport == "udp":
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(TIMEOUT)
            s.sendto(packet, (server, port))
            return a_records(s.recv(4096), ident)
    with socket.create_connection((server, port), timeout=TIMEOUT) as s:
        s.sendall(struct.pack("!H", len(packet)) + packet)
        (length,) = struct.unpack("!H", s.recv(2))
        answer = b""
        while len(answer) < length:
            chunk = s.recv(length - len(answer))
            if not chunk:
                break
            answer += chunk
        return a_records(answer, ident)


def main(argv: list[str]) -> int:
    server, port, name, transport = argv
    try:
        records = ask(server, int(port), name, transport)
    except (OSError, ValueError, struct.error) as e:
        print(f"{transport} {server}:{port} {name}: {e}", file=sys.stderr)
        return 1
    print("\n".join(records))
    return 0 if records else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
