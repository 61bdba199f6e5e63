#!/usr/bin/python
"""Module onprem.k8snet.nft_openings: accept rules in an nftables drop-policy ruleset, persisted."""

from __future__ import annotations

DOCUMENTATION = r"""
module: nft_openings
author: k8snet maintainers
version_added: 0.1.0
short_description: Open ports in an nftables ruleset that drops by default, and keep them across reboots
description:
  - Finds the base chains on the input and forward hooks whose policy is drop, and inserts C(accept)
    rules at their top for the given ports (input) and pod networks (forward). Chains that accept by
    default are left alone; with no such chain nothing is changed.
  - Every rule carries a comment starting with C(k8snet:); the module only ever adds, compares or
    deletes rules with that tag, and only accept rules, so it cannot cut an SSH session.
  - Runtime changes are applied in one atomic C(nft -f) transaction. Persistence is an include
    file (C(/etc/nftables.d/k8snet.nft)) referenced from the end of the main nftables configuration.
options:
  openings:
    description: Ports to accept on the input hook.
    type: list
    elements: dict
    default: []
    suboptions:
      protocol:
        description: The transport protocol.
        type: str
        required: true
        choices: [tcp, udp]
      port:
        description: A port number or a range C(a-b).
        type: raw
        required: true
      why:
        description: What needs the port (written into the rule's comment; C(k8snet) when not given).
        type: str
  forward_cidrs:
    description: Networks to accept on the forward hook in both directions (the pod networks).
    type: list
    elements: str
    default: []
  config:
    description: The main nftables configuration loaded at boot.
    type: path
    default: /etc/nftables.conf
  state:
    description: C(present) adds what is missing and removes stale k8snet rules; C(absent) removes them all.
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
requirements:
  - nft (nftables) on the host
"""

EXAMPLES = r"""
- name: Open flannel's VXLAN port and the NodePort range
  onprem.k8snet.nft_openings:
    openings:
      - {protocol: udp, port: "8472", why: flannel vxlan}
      - {protocol: tcp, port: 30000-32767, why: NodePort Services}
    forward_cidrs: [10.244.0.0/16]
"""

RETURN = r"""
chains:
  description: The drop-policy chains found, as C({family, table, name, hook}).
  returned: always
  type: list
  elements: dict
added:
  description: Comments of the rules added (or that would be added).
  returned: always
  type: list
  elements: str
removed:
  description: Comments of the k8snet rules removed.
  returned: always
  type: list
  elements: str
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.onprem.k8snet.plugins.module_utils import nftables


def read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def write(module, path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.k8snet-tmp"
    with open(tmp, "w") as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    module.atomic_move(tmp, path)


def main():
    module = AnsibleModule(
        argument_spec={
            "openings": {"type": "list", "elements": "dict", "default": []},
            "forward_cidrs": {"type": "list", "elements": "str", "default": []},
            "config": {"type": "path", "default": "/etc/nftables.conf"},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
        supports_check_mode=True,
    )
    for i, opening in enumerate(module.params["openings"]):
        if opening.get("protocol") not in ("tcp", "udp") or opening.get("port") in (None, ""):
            module.fail_json(msg=f"openings[{i}] = {opening}: needs protocol (tcp or udp) and port (a number or "
                                 "a range a-b)")
    nft = module.get_bin_path("nft", required=True)
    rc, out, err = module.run_command([nft, "-j", "list", "ruleset"])
    if rc != 0:
        module.fail_json(msg=f"nft -j list ruleset failed: {err.strip()}")
    ruleset = json.loads(out or "{}")
    chains = nftables.drop_chains(ruleset)
    present = module.params["state"] == "present"
    wanted = nftables.wanted_rules(chains, module.params["openings"], module.params["forward_cidrs"]) if present else []
    to_add, to_delete = nftables.plan_changes(ruleset, wanted)

    config_path = module.params["config"]
    config_text = read(config_path)
    include_text = read(nftables.INCLUDE_FILE)
    if wanted:
        if config_text is None:
            module.fail_json(msg=f"{len(chains)} nftables chain(s) drop by default but {config_path} does not exist, "
                             "so openings could not be kept across reboots; nothing was changed. Point 'config' "
                             "at the file your ruleset is loaded from, or add these rules to it:\n"
                             + "\n".join(nftables.insert_command(r) for r in wanted), chains=chains)
        new_include, new_config = nftables.persistent_file(wanted), nftables.with_include(config_text)
    else:
        new_include = None
        new_config = nftables.without_include(config_text) if config_text and nftables.INCLUDE_FILE in config_text \
            else config_text
    files_changed = new_include != include_text or new_config != config_text
    result = {"changed": bool(to_add or to_delete or files_changed), "chains": chains,
              "added": [r["comment"] for r in to_add], "removed": [r["comment"] for r in to_delete]}
    if module._diff:
        runtime = "".join(f"+ {nftables.insert_command(r)}\n" for r in to_add) + \
                  "".join(f"- {r['comment']}\n" for r in to_delete)
        result["diff"] = [
            {"before_header": nftables.INCLUDE_FILE, "after_header": nftables.INCLUDE_FILE,
             "before": include_text or "", "after": new_include or ""},
            {"before_header": config_path, "after_header": config_path,
             "before": config_text or "", "after": new_config or ""},
            {"before_header": "nft runtime", "after_header": "nft runtime", "before": "", "after": runtime},
        ]
    if module.check_mode or not result["changed"]:
        module.exit_json(**result)

    if to_add or to_delete:
        batch = "\n".join([nftables.delete_command(r) for r in to_delete] +
                          [nftables.insert_command(r) for r in to_add]) + "\n"
        rc, out, err = module.run_command([nft, "-f", "-"], data=batch, binary_data=True)
        if rc != 0:
            module.fail_json(msg=f"nft refused the openings (nothing was changed): {err.strip()}", batch=batch)
    if new_include is None:
        if include_text is not None:
            os.unlink(nftables.INCLUDE_FILE)
    elif new_include != include_text:
        write(module, nftables.INCLUDE_FILE, new_include)
    if new_config != config_text and new_config is not None:
        write(module, config_path, new_config)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
