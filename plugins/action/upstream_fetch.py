"""Action onprem.k8snet.upstream_fetch: the module's logic in the controller's process (plugin_utils/in_process.py)."""

from __future__ import annotations

from ansible_collections.onprem.k8snet.plugins.modules import upstream_fetch
from ansible_collections.onprem.k8snet.plugins.plugin_utils.in_process import InProcessAction


class ActionModule(InProcessAction):
    module = upstream_fetch
