"""Action onprem.k8snet.k8s_exec: the module's logic in the controller's process (plugin_utils/in_process.py)."""

from __future__ import annotations

from ansible_collections.onprem.k8snet.plugins.modules import k8s_exec
from ansible_collections.onprem.k8snet.plugins.plugin_utils.in_process import InProcessAction


class ActionModule(InProcessAction):
    module = k8s_exec
