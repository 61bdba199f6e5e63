"""Run a controller-only module of this collection inside the controller's process.

network_plan, plan_diff, upstream_fetch and k8s_manifests only compute, or write on the controller
(delegate_to: localhost). As modules, every call starts an interpreter and passes the whole plan
through JSON twice; that fixed cost was most of a no-op re-run's controller time. Each of them has an
action plugin of the same name built on InProcessAction: it validates the task's arguments against the
module's ARGUMENT_SPEC and calls the module's run() directly. The module file stays the documented
interface (ansible-doc) and still runs as a plain module wherever action plugins are not used.
"""

from __future__ import annotations

import json

from ansible.plugins.action import ActionBase


class InProcessAction(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False
    module = None           # the module (from plugins/modules) whose ARGUMENT_SPEC and run() are used

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _, params = self.validate_argument_spec(argument_spec=self.module.ARGUMENT_SPEC,
                                                **getattr(self.module, "ARGUMENT_RULES", {}))
        # Arguments and results cross as JSON, as they would to and from a module: plain str, list and dict
        # (no tagged or lazy template values going in, no tuples or sets coming out), so that the module's
        # logic, the callbacks and later tasks see the same data either way.
        outcome = self.module.run(json.loads(json.dumps(params)), check_mode=bool(self._task.check_mode),
                                  diff=bool(self._task.diff))
        result.update(json.loads(json.dumps(outcome)))
        return result
