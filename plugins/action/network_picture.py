"""Action onprem.k8snet.network_picture: the module's logic in the controller's process (plugin_utils/in_process.py)."""

from __future__ import annotations

from ansible_collections.onprem.k8snet.plugins.modules import network_picture
from ansible_collections.onprem.k8snet.plugins.plugin_utils.in_process import InProcessAction


class ActionModule(InProcessAction):
    module = network_picture
