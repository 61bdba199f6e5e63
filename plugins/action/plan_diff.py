"""Action onprem.k8snet.plan_diff: the module's logic in the controller's process (plugin_utils/in_process.py)."""

from __future__ import annotations

from ansible_collections.onprem.k8snet.plugins.modules import plan_diff
from ansible_collections.onprem.k8snet.plugins.plugin_utils.in_process import InProcessAction


class ActionModule(InProcessAction):
    module = plan_diff
