"""The verification table: the four kinds of traffic, pass/fail, and the evidence.

In api mode the evidence comes from requests made through test workloads; in
render mode (no cluster) from what the hosts prove, and the rows that need a
live cluster say so.
"""

from __future__ import annotations

import json

PASS, FAIL, NEEDS_CLUSTER = "PASS", "FAIL", "NEEDS CLUSTER"
KINDS = ("intra-pod", "pod-to-pod", "pod-to-service", "external-to-service")


def _row(kind: str, status: str, evidence: str) -> dict:
    return {"kind": kind, "status": status, "evidence": evidence, "line": f"{kind:<20} {status:<13} {evidence}"}


def host_rows(plan: dict, hosts: dict, probe_scope: str | None = None) -> list[dict]:
    """hosts: {name: {"loopback_rc", "forwarding", "bridge_nf", "reserved_ports", "vxlan": [probe results]}}.

    probe_scope: what this run's underlay probes covered (``probe.scoped``), when they covered less than all.
    """
    names = sorted(hosts)
    bad_loop = [h for h in names if hosts[h].get("loopback_rc") != 0]
    pairs = [r for h in names for r in hosts[h].get("vxlan") or []]
    passed = [r for r in pairs if r.get("large")]
    bad_fwd = [h for h in names if hosts[h].get("forwarding") != "1" or hosts[h].get("bridge_nf") != "1"]
    np = plan["cluster"]["nodeport_range"]
    np_text = f"{np['start']}-{np['end']}"
    bad_np = [h for h in names if np_text not in (hosts[h].get("reserved_ports") or "")]
    rows = [
        _row("intra-pod", FAIL if bad_loop else PASS,
             f"loopback failed in a fresh network namespace on {', '.join(bad_loop)}" if bad_loop else
             f"127.0.0.1 answers inside a fresh network namespace on all {len(names)} nodes (what a pod's "
             "containers share)"),
        _row("pod-to-pod", FAIL if len(passed) < len(pairs) else NEEDS_CLUSTER, _pod_to_pod(plan, pairs, passed,
                                                                                           probe_scope)),
        _row("pod-to-service", FAIL if bad_fwd else NEEDS_CLUSTER,
             f"forwarding or bridge netfilter off on {', '.join(bad_fwd)}" if bad_fwd else
             "host side: forwarding and bridge netfilter on every node; Services need kube-proxy on a live cluster"),
        _row("external-to-service", FAIL if bad_np else NEEDS_CLUSTER,
             f"NodePort range {np_text} not reserved on {', '.join(bad_np)}" if bad_np else
             f"host side: NodePorts {np_text} reserved and opened on every node"
             + (", MetalLB pool addresses free on the wire" if plan["metallb"]["enabled"] and plan["metallb"]["pools"]
                else "") + "; NodePort, LoadBalancer and Ingress requests need a live cluster"),
    ]
    return rows


def _pod_to_pod(plan: dict, pairs: list, passed: list, probe_scope: str | None) -> str:
    partial = f" ({probe_scope})" if probe_scope and not probe_scope.startswith("all ") else ""
    if pairs:
        return f"host side: {len(passed)}/{len(pairs)} node pairs passed VXLAN pings at the pod MTU{partial}"
    if plan["flannel"]["backend"] == "vxlan" and partial:
        return f"host side: no VXLAN pair probed in this run{partial}"
    return f"host side: not probed in this run (backend {plan['flannel']['backend']})"


def _check(result: dict) -> dict:
    """One raw check (a k8s_exec or command result whose ``item`` says what it expects) judged."""
    item = result.get("item") or {}
    out = (result.get("stdout") or "").strip()
    expect = str(item.get("expect", ""))
    matched = out == expect if item.get("exact") else expect in out
    ok = result.get("rc") == 0 and matched
    if ok:
        detail = out.splitlines()[0][:60] if out else ""
    else:
        said = (result.get("stderr") or result.get("msg") or out or "no answer").strip().splitlines()
        detail = f"expected {expect!r}, got {said[0][:100] if said else 'nothing'!r}"
    return {"kind": item.get("kind"), "what": item.get("what", "?"), "ok": ok, "detail": detail}


def _lb_announcement(live: dict) -> list[dict]:
    """Who announces each LoadBalancer address: for an L2 pool the node MetalLB's ServiceL2Status names and the
    client's neighbour entry (the ARP owner); for a BGP pool the nodes of its ServiceBGPStatus and the peers
    they advertise it to."""
    rows = []
    announced = {}
    for status in live.get("l2_status") or []:
        svc = (status.get("status") or {}).get("serviceName")
        announced[svc] = (status.get("status") or {}).get("node")
    bgp = [(status.get("status") or {}) for status in live.get("bgp_status") or []]
    bgp = [st for st in bgp if st.get("serviceName") == "verify-lb"]
    for result in live.get("arp") or []:
        address = (result.get("item") or {}).get("arp")
        if "verify-lb" not in announced and bgp:
            nodes = sorted({st.get("node") for st in bgp if st.get("node")})
            peers = sorted({p for st in bgp for p in st.get("peers") or []})
            rows.append({"kind": "external-to-service", "what": f"BGP for {address}", "ok": bool(nodes and peers),
                         "detail": f"advertised by {', '.join(nodes)} to {', '.join(peers) or 'no peer'} "
                                   "(MetalLB ServiceBGPStatus)"})
            continue
        try:
            entries = json.loads(result.get("stdout") or "[]")
        except ValueError:
            entries = []
        mac = next((e.get("lladdr") for e in entries if e.get("lladdr")), None)
        node = announced.get("verify-lb")
        rows.append({"kind": "external-to-service", "what": f"ARP for {address}", "ok": bool(mac and node),
                     "detail": f"answered by {node} (MetalLB ServiceL2Status), client's neighbour entry {mac}"
                     if mac and node else f"no neighbour entry or no ServiceL2Status (mac {mac}, node {node})"})
    return rows


def session_state(log_lines: list[str], address: str) -> str:
    """The last BGP session event a MetalLB speaker logged for the peer at ``address``: ``established``,
    or why not (``down``, the connect error, the peer's notification), or that it logged none."""
    state = "no session event in the speaker's log"
    for line in log_lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if not isinstance(event, dict) or str(event.get("peer", "")).split(":")[0] != address:
            continue
        if event.get("event") == "sessionUp":
            state = "established"
        elif event.get("event") == "sessionDown":
            state = "down"
        elif event.get("level") == "error" and event.get("error"):
            state = f"{event.get('msg', 'error')}: {event['error']}"
    return state


def _bgp_sessions(live: dict) -> list[dict]:
    """One row per speaker and BGP peer: the session as the speaker reports it."""
    rows = []
    for node, lines in sorted((live.get("bgp_logs") or {}).items()):
        for peer in live.get("bgp_peers") or []:
            state = session_state(lines or [], str(peer.get("address")))
            rows.append({"kind": "external-to-service", "ok": state == "established",
                         "what": f"BGP session {node} -> {peer.get('name')} {peer.get('address')}",
                         "detail": f"{state} (MetalLB speaker log)"})
    return rows


# What roles/verify/files/batch_checks.sh (one exec running several checks) prints before each
# check's output and before its stderr: "@@k8snet-check <index> <exit code>", then "@@k8snet-stderr".
CHECK_MARK, STDERR_MARK = "@@k8snet-check ", "@@k8snet-stderr"


def split_batch(result: dict) -> list[dict]:
    """One exec or command that ran several checks (its item is [pod or client, [check, ...]]) as one result per check,
    each like a single k8s_exec result: item, rc, stdout, stderr. A check the output does not reach
    (the exec failed before it) gets the exec's error. A result of one check (not a batch) is returned
    as it is."""
    item = result.get("item")
    if not (isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[1], list)):
        return [result]
    found: dict[int, dict] = {}
    current = None
    for line in (result.get("stdout") or "").split("\n"):
        if line.startswith(CHECK_MARK):
            index, rc = line[len(CHECK_MARK):].split()
            current = found[int(index)] = {"rc": int(rc), "stdout": [], "stderr": []}
            stream = current["stdout"]
        elif line == STDERR_MARK and current is not None:
            stream = current["stderr"]
        elif current is not None:
            stream.append(line)
    error = result.get("msg") or result.get("stderr") or "the batch did not reach this check"
    return [{"item": check, "rc": found[i]["rc"], "stdout": "\n".join(found[i]["stdout"]).strip(),
             "stderr": "\n".join(found[i]["stderr"]).strip()} if i in found
            else {"item": check, "rc": None, "stdout": "", "stderr": error}
            for i, check in enumerate(item[1])]


def live_checks(live: dict) -> dict:
    """The raw results of the api-mode checks as {kind: [{what, ok, detail}]}."""
    checks: dict[str, list[dict]] = {kind: [] for kind in KINDS}
    # The checks inside each pod ran as one exec per pod, those from the client as one command (batches).
    batches = [*(live.get("pod") or []), *(live.get("external") or [])]
    for result in [one for batch in batches for one in split_batch(batch)]:
        check = _check(result)
        checks.setdefault(check["kind"], []).append(check)
    checks["external-to-service"].extend(_lb_announcement(live) + _bgp_sessions(live))
    return checks


def live_rows(live: dict) -> list[dict]:
    """Rows from the api-mode checks made through the test workloads."""
    checks = live_checks(live)
    rows = []
    for kind in KINDS:
        items = checks.get(kind) or []
        failed = [c for c in items if not c["ok"]]
        evidence = "; ".join(f"{c['what']}: {'ok' if c['ok'] else 'FAILED'}"
                             + (f" ({c['detail']})" if c["detail"] else "") for c in items) or "not checked"
        rows.append(_row(kind, FAIL if failed or not items else PASS, evidence))
    return rows


def markdown(rows: list[dict], inventory: str, mode: str) -> str:
    lines = [f"# k8snet verification: {inventory} ({mode} mode)", "",
             "| traffic | result | evidence |", "|---|---|---|"]
    lines += [f"| {r['kind']} | {r['status']} | {r['evidence'].replace('|', '/')} |" for r in rows]
    if any(r["status"] == NEEDS_CLUSTER for r in rows):
        lines += ["", "NEEDS CLUSTER: what the hosts can prove passed; the real requests need a live cluster "
                      "(`k8s_apply: api`)."]
    return "\n".join(lines) + "\n"
