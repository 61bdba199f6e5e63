"""Openings in an nftables ruleset whose input (or forward) chain drops by default.

Only ``accept`` rules are ever added, each tagged with a comment that starts
with ``k8snet:`` and names what it opens; so the project can find, compare and
remove exactly its own rules and can never cut an SSH session. Pure functions
over ``nft -j list ruleset`` output; ``onprem.k8snet.nft_openings`` does the I/O.
"""

from __future__ import annotations

TAG = "k8snet:"
INCLUDE_DIR = "/etc/nftables.d"
INCLUDE_FILE = INCLUDE_DIR + "/k8snet.nft"
INCLUDE_LINE = f'include "{INCLUDE_FILE}"  # k8snet: firewall openings for Kubernetes networking'


def drop_chains(ruleset: dict) -> list[dict]:
    """Base chains on the input or forward hook whose policy is drop: [{family, table, name, hook}]."""
    chains = []
    for item in ruleset.get("nftables", []):
        chain = item.get("chain")
        if chain and chain.get("hook") in ("input", "forward") and chain.get("policy") == "drop":
            chains.append({"family": chain["family"], "table": chain["table"], "name": chain["name"],
                           "hook": chain["hook"]})
    return chains


def our_rules(ruleset: dict) -> list[dict]:
    """Rules carrying our tag: [{family, table, chain, handle, comment}]."""
    rules = []
    for item in ruleset.get("nftables", []):
        rule = item.get("rule")
        if rule and str(rule.get("comment", "")).startswith(TAG):
            rules.append({"family": rule["family"], "table": rule["table"], "chain": rule["chain"],
                          "handle": rule["handle"], "comment": rule["comment"]})
    return rules


def _port_expr(port: str) -> str:
    return port.replace(" ", "")


def wanted_rules(chains: list[dict], openings: list[dict], forward_cidrs: list[str]) -> list[dict]:
    """Rules to have, as [{family, table, chain, comment, expr}] (expr is nft syntax without the comment)."""
    rules = []
    for chain in chains:
        where = {"family": chain["family"], "table": chain["table"], "chain": chain["name"]}
        if chain["hook"] == "input":
            for o in openings:
                proto, port = o["protocol"], _port_expr(str(o["port"]))
                comment = f"{TAG} {proto} {port} ({o.get('why') or 'k8snet'})"
                rules.append({**where, "comment": comment, "expr": f"{proto} dport {port} accept"})
        else:
            for cidr in forward_cidrs:
                v6 = ":" in cidr
                if (v6 and chain["family"] == "ip") or (not v6 and chain["family"] == "ip6"):
                    continue
                match = "ip6" if v6 else "ip"
                for direction in ("saddr", "daddr"):
                    comment = f"{TAG} forward {direction} {cidr} (pod network)"
                    rules.append({**where, "comment": comment, "expr": f"{match} {direction} {cidr} accept"})
    return rules


def _key(rule: dict) -> tuple:
    return rule["family"], rule["table"], rule["chain"], rule["comment"]


def plan_changes(ruleset: dict, wanted: list[dict]) -> tuple[list[dict], list[dict]]:
    """(rules to insert, our rules to delete) to go from the live ruleset to the wanted rules."""
    have = {_key(r): r for r in our_rules(ruleset)}
    want = {_key(r): r for r in wanted}
    to_add = [r for k, r in want.items() if k not in have]
    to_delete = [r for k, r in have.items() if k not in want]
    return to_add, to_delete


def insert_command(rule: dict) -> str:
    comment = rule["comment"].replace('"', "'")
    return f'insert rule {rule["family"]} {rule["table"]} {rule["chain"]} {rule["expr"]} comment "{comment}"'


def delete_command(rule: dict) -> str:
    return f'delete rule {rule["family"]} {rule["table"]} {rule["chain"]} handle {rule["handle"]}'


def persistent_file(wanted: list[dict]) -> str:
    """The include file: loaded after the main ruleset at boot (its tables exist by then)."""
    lines = ["# Managed by k8snet (onprem.k8snet.nft_openings); included from the main nftables config.",
             "# Only accept rules for the ports Kubernetes networking needs; removed by playbooks/reset.yml."]
    lines += [insert_command(r) for r in wanted]
    return "\n".join(lines) + "\n"


def with_include(config_text: str) -> str:
    """The main config with our include line at the end (after the tables it refers to)."""
    lines = [line for line in config_text.splitlines() if INCLUDE_FILE not in line]
    return "\n".join([*lines, INCLUDE_LINE]) + "\n"


def without_include(config_text: str) -> str:
    lines = [line for line in config_text.splitlines() if INCLUDE_FILE not in line]
    return "\n".join(lines) + "\n"
