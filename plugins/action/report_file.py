"""Action onprem.k8snet.report_file: the module's logic in the controller's process (plugin_utils/in_process.py)."""

from __future__ import annotations

from ansible_collections.onprem.k8snet.plugins.modules import report_file
from ansible_collections.onprem.k8snet.plugins.plugin_utils.in_process import InProcessAction


class ActionModule(InProcessAction):
    module = report_file
