#!/usr/bin/python
"""Module onprem.k8snet.upstream_fetch: pinned upstream manifests into the controller cache, sha256-verified."""

from __future__ import annotations

DOCUMENTATION = r"""
module: upstream_fetch
author: k8snet maintainers
version_added: 0.1.0
short_description: Download pinned upstream manifests into a local cache, verified by sha256
description:
  - Provides every pinned file of an add-on release (flannel, MetalLB, the ingress controllers,
    Gateway API, NGINX Gateway Fabric) as a local file, for M(onprem.k8snet.k8s_manifests).
  - A file comes from its tag-pinned upstream URL, or from O(mirror), laid out as
    C(<mirror>/<project>/<version>/<path>) (air-gapped sites copy the releases there).
  - Files are cached in C(<cache_dir>/<project>/<version>/<path>). A cached file whose sha256 matches
    the pin is used without any download. Anything else is downloaded to a temporary file, verified,
    and only then moved into the cache; a cached file that no longer matches its pin is downloaded again.
  - When a download does not match the pin the module fails naming the file, the URL, the expected and
    the actual sha256, and nothing is written to the cache path. Errors of all files are reported together.
  - Runs on the controller (C(delegate_to=localhost), C(run_once=true)). Filling the cache is not a
    change to any managed system, so the module never reports C(changed); see RV(downloaded).
options:
  files:
    description:
      - The pins. Each names one file of one release.
      - Two pins of different projects must not share a O(files[].path) in one call.
    type: list
    elements: dict
    required: true
    suboptions:
      project:
        description:
          - Project directory in the mirror and the cache, e.g. C(flannel), C(metallb), C(nginx-ingress),
            C(ingress-nginx), C(gateway-api), C(nginx-gateway-fabric).
        type: str
        required: true
      version:
        description: Release tag, e.g. C(v0.28.9).
        type: str
        required: true
      path:
        description: Path of the file inside the project's repository at that tag.
        type: str
        required: true
      sha256:
        description: Expected sha256 of the file (64 hex digits).
        type: str
        required: true
      url:
        description:
          - Upstream URL of the file.
          - Defaults to C(https://raw.githubusercontent.com/<repository>/<version>/<path>) for the known projects.
        type: str
  mirror:
    description:
      - Base URL (C(http://), C(https://), C(file://)) or local directory holding the files as
        C(<project>/<version>/<path>). Unset or empty means each file's upstream URL.
    type: str
  cache_dir:
    description:
      - Controller directory of the cache.
      - Defaults to C(~/.cache/k8snet/upstream) (C($XDG_CACHE_HOME/k8snet/upstream) when that is set).
    type: path
  timeout:
    description: Seconds to wait for each download to start or send data.
    type: int
    default: 30
  validate_certs:
    description: Verify TLS certificates of https sources.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    details:
      - Downloads happen in check mode too, because later tasks need the files to show what they would
        change; only the controller cache is written.
  diff_mode:
    support: none
notes:
  - Uses Ansible's own URL handling, so C(http_proxy)/C(https_proxy)/C(no_proxy) apply.
"""

EXAMPLES = r"""
- name: Fetch the pinned flannel manifest (from the mirror of the plan, if any)
  onprem.k8snet.upstream_fetch:
    files: "{{ flannel_manifests | map('combine', {'project': 'flannel', 'version': flannel_version}) }}"
    mirror: "{{ network_plan_result.plan.cluster.upstream_mirror }}"
  delegate_to: localhost
  run_once: true
  register: flannel_files

- name: One explicit pin, from an internal web server
  onprem.k8snet.upstream_fetch:
    files:
      - project: metallb
        version: v0.16.1
        path: config/manifests/metallb-native.yaml
        sha256: bf25feebb7582ca7df845efd52ffbc2960d6cbf4cfc972f47fded9f788b67f0b
    mirror: https://artifacts.example.com/k8snet-upstream
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
paths:
  description: Pin path -> local file in the cache, for paths only one project pins.
  returned: success
  type: dict
  sample:
    Documentation/kube-flannel.yml: /home/me/.cache/k8snet/upstream/flannel/v0.28.9/Documentation/kube-flannel.yml
by_project:
  description:
    - Project -> pin path -> local file. Unlike RV(paths) it keeps apart two projects that pin the same
      path (C(deploy/crds.yaml) of nginx-ingress and of NGINX Gateway Fabric), which RV(paths) leaves out.
  returned: success
  type: dict
sources:
  description: Pin path -> the URL the file is (or was) read from.
  returned: success
  type: dict
downloaded:
  description: Pin paths downloaded by this run.
  returned: success
  type: list
  elements: str
cached:
  description: Pin paths taken from the cache without a download.
  returned: success
  type: list
  elements: str
cache_dir:
  description: The cache directory used.
  returned: always
  type: str
"""

from ansible_collections.onprem.k8snet.plugins.module_utils import upstream
from ansible_collections.onprem.k8snet.plugins.module_utils.in_process import run_module

PIN_OPTIONS = {
    "project": {"type": "str", "required": True},
    "version": {"type": "str", "required": True},
    "path": {"type": "str", "required": True},
    "sha256": {"type": "str", "required": True},
    "url": {"type": "str"},
}


ARGUMENT_SPEC = {
    "files": {"type": "list", "elements": "dict", "required": True, "options": PIN_OPTIONS},
    "mirror": {"type": "str"},
    "cache_dir": {"type": "path"},
    "timeout": {"type": "int", "default": upstream.DEFAULT_TIMEOUT},
    "validate_certs": {"type": "bool", "default": True},
}


def run(params: dict, check_mode: bool = False, diff: bool = False) -> dict:
    """The module's result for these (validated) parameters; ``failed`` set when a file cannot be provided."""
    cache_dir = params["cache_dir"] or upstream.default_cache_dir()
    try:
        result = upstream.fetch(params["files"], mirror=params["mirror"] or None, cache_dir=cache_dir,
                                timeout=params["timeout"], validate_certs=params["validate_certs"])
    except upstream.UpstreamError as exc:
        return {"failed": True, "msg": f"Cannot provide the pinned upstream files:\n{exc}", "cache_dir": cache_dir}
    return {"changed": False, "paths": result.paths, "by_project": result.by_project, "sources": result.sources,
            "downloaded": result.downloaded, "cached": result.cached, "cache_dir": cache_dir}


def main():
    run_module(run, ARGUMENT_SPEC)


if __name__ == "__main__":
    main()
