"""A host's command line for tests of modules that run commands: nothing real is run.

``Commands`` takes AnsibleModule's place for ``get_bin_path`` and ``run_command``
(``install(monkeypatch)``): ``tools`` are the names found on PATH (as /usr/sbin/<name>),
``outputs`` maps (tool name, *arguments) to (rc, stdout, stderr), or to a function of the
command's standard input (``data``) that returns one, for commands whose effect later ones
see. ``calls`` records every command run, as that key; a command without an output fails
the test. ``required=True`` and ``check_rc=True`` fail the module as AnsibleModule does.

``Nft`` is an nft whose ruleset the ``nft -f -`` batches change (insert and delete by handle),
so a module run twice sees what its first run did.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

from ansible.module_utils import basic


class Commands:
    def __init__(self, tools=(), outputs=None):
        self.tools = set(tools)
        self.outputs = dict(outputs or {})
        self.calls: list[tuple] = []
        self.stdin: dict[tuple, list[str]] = {}

    def get_bin_path(self, name, required=False, opt_dirs=None):
        return f"/usr/sbin/{name}" if name in self.tools else None

    def run_command(self, args, data=None, **kwargs):
        key = (Path(args[0]).name, *args[1:])
        self.calls.append(key)
        if data is not None:
            self.stdin.setdefault(key, []).append(data)
        if key not in self.outputs:
            raise AssertionError(f"unexpected command {key}")
        answer = self.outputs[key]
        return answer(data) if callable(answer) else answer

    def ran(self, tool: str) -> list[tuple]:
        return [call for call in self.calls if call[0] == tool]

    def install(self, monkeypatch) -> Commands:
        fake = self

        def get_bin_path(module, name, required=False, opt_dirs=None):
            path = fake.get_bin_path(name)
            if path is None and required:
                module.fail_json(msg=f"Failed to find required executable \"{name}\" in paths: /usr/sbin:/usr/bin")
            return path

        def run_command(module, args, check_rc=False, **kwargs):
            rc, out, err = fake.run_command(args, **kwargs)
            if rc != 0 and check_rc:
                module.fail_json(cmd=args, rc=rc, stdout=out, stderr=err, msg=err.rstrip())
            return rc, out, err

        monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", get_bin_path)
        monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
        return self


INSERT = re.compile(r'^insert rule (\S+) (\S+) (\S+) (.+) comment "(.*)"$')
DELETE = re.compile(r"^delete rule (\S+) (\S+) (\S+) handle (\d+)$")


class Nft:
    """``nft -j list ruleset`` and ``nft -f -`` over one ruleset (JSON as nft prints it)."""

    def __init__(self, ruleset: dict, refuse: str | None = None):
        self.ruleset = copy.deepcopy(ruleset)
        self.refuse = refuse                     # stderr of a batch nft refuses, or None
        self.handle = 100

    def attach(self, commands: Commands) -> Nft:
        commands.tools.add("nft")
        commands.outputs["nft", "-j", "list", "ruleset"] = lambda _: (0, json.dumps(self.ruleset), "")
        commands.outputs["nft", "-f", "-"] = self.apply
        return self

    def rules(self) -> list[dict]:
        return [item["rule"] for item in self.ruleset["nftables"] if "rule" in item]

    def comments(self, prefix: str) -> list[str]:
        return [r["comment"] for r in self.rules() if r.get("comment", "").startswith(prefix)]

    def apply(self, batch: str):
        if self.refuse:
            return 1, "", self.refuse
        items = self.ruleset["nftables"]
        for line in batch.splitlines():
            if match := INSERT.match(line):
                family, table, chain, expr, comment = match.groups()
                self.handle += 1
                items.append({"rule": {"family": family, "table": table, "chain": chain, "handle": self.handle,
                                       "comment": comment, "expr": [{"k8snet-test": expr}]}})
            elif match := DELETE.match(line):
                family, table, chain, handle = match.groups()
                items[:] = [i for i in items if not ("rule" in i and (i["rule"]["family"], i["rule"]["table"],
                            i["rule"]["chain"], i["rule"]["handle"]) == (family, table, chain, int(handle)))]
            elif line.strip():
                raise AssertionError(f"nft batch line the fake does not know: {line}")
        return 0, "", ""
