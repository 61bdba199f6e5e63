"""The module side of the controller-only modules that also run in-process (plugins/plugin_utils/in_process.py).

Such a module exposes ARGUMENT_SPEC (and ARGUMENT_RULES) and a pure run(params, check_mode, diff) that
returns the result, with ``failed`` and ``msg`` set when it refuses; run_module() is its main().
"""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule


def run_module(run, argument_spec: dict, **rules) -> None:
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True, **rules)
    result = run(module.params, module.check_mode, module._diff)
    if result.get("failed"):
        module.fail_json(**result)
    module.exit_json(**result)
