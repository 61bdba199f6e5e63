#!/usr/bin/python
"""Module onprem.k8snet.network_picture: the network as network.svg (Graphviz) and a Mermaid block."""

from __future__ import annotations

DOCUMENTATION = r"""
module: network_picture
author: k8snet maintainers
version_added: 0.2.0
short_description: Draw the network of a plan as an SVG picture and a Mermaid flowchart
description:
  - Shows the nodes, the NIC chosen on each with its address and MTU, the other NICs and why each was
    skipped (in one word), the pod subnet of each node where the Nodes say it (api mode; otherwise the
    pod network and that the cluster gives the per-node subnets), the MetalLB pools with the
    LoadBalancer addresses in use, the ingress address or ports, and the NodePorts of the Services.
  - Up to 8 nodes each get a box. A larger cluster gets one box per NIC choice (same NIC name, subnet
    and MTU) naming its nodes and addresses in runs of first and last, such as C(node01) to C(node48)
    joined by an en dash, followed by the count C((48)).
  - Writes the picture to O(dest) as SVG, drawn by Graphviz's C(dot), when it differs from what is there;
    returns the same picture as a Mermaid flowchart (RV(mermaid), RV(markdown)) for a Git host to render.
  - Without the C(dot) command (Debian package C(graphviz)) or the Python package C(graphviz) on the
    controller, nothing is written and the module warns, naming what to install; RV(markdown) still has
    the Mermaid block.
  - Runs on the controller (the action plugin of the same name runs it in the controller's process).
options:
  plan:
    description: The network plan (C(network_plan_result.plan)).
    type: dict
    required: true
  objects:
    description:
      - Live objects (from M(onprem.k8snet.k8s_read) or M(kubernetes.core.k8s_info)); the Nodes give the
        per-node pod subnets, the Services the LoadBalancer addresses and NodePorts. Other kinds are ignored.
    type: list
    elements: dict
    default: []
  directory:
    description: A render directory to read objects from (every C(*.yaml) below it), in addition to O(objects).
    type: path
  dest:
    description: The SVG file to write, in the report directory beside C(ACCESS.md) and C(VERIFY.md).
    type: path
    required: true
attributes:
  check_mode:
    support: full
    details: Reports whether O(dest) would change and writes nothing.
  diff_mode:
    support: none
requirements:
  - the Python package graphviz and Graphviz's dot command on the controller (without them only the Mermaid block)
"""

EXAMPLES = r"""
- name: Draw what was rendered
  onprem.k8snet.network_picture:
    plan: "{{ network_plan_result.plan }}"
    directory: "{{ network_plan_result.plan.cluster.render_dir }}"
    dest: "{{ network_plan_result.plan.cluster.report_dir }}/network.svg"
  delegate_to: localhost
  run_once: true
  register: picture

- name: Put the Mermaid block into a Markdown report
  ansible.builtin.copy:
    dest: "{{ network_plan_result.plan.cluster.report_dir }}/NETWORK.md"
    content: "{{ picture.markdown }}"
    mode: "0644"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
dest:
  description: The SVG file.
  returned: always
  type: str
drawn:
  description: Whether Graphviz drew the SVG (false when it is missing, see the warning).
  returned: always
  type: bool
dot:
  description: The picture as Graphviz DOT source (empty without the Python package graphviz).
  returned: always
  type: str
mermaid:
  description: The same picture as a Mermaid flowchart.
  returned: always
  type: str
markdown:
  description: A section for a Markdown report, a heading, where the SVG is (or why it is not) and the Mermaid block.
  returned: always
  type: str
"""

import os

from ansible_collections.onprem.k8snet.plugins.module_utils import picture
from ansible_collections.onprem.k8snet.plugins.module_utils.in_process import run_module
from ansible_collections.onprem.k8snet.plugins.module_utils.kube import ManifestError, load_directory
from ansible_collections.onprem.k8snet.plugins.module_utils.render import write_if_changed

ARGUMENT_SPEC = {"plan": {"type": "dict", "required": True},
                 "objects": {"type": "list", "elements": "dict", "default": []},
                 "directory": {"type": "path"},
                 "dest": {"type": "path", "required": True}}


def run(params: dict, check_mode: bool = False, diff: bool = False) -> dict:
    """The module's result for these (validated) parameters; ``failed`` set when the render directory is missing."""
    objects, directory, dest = list(params["objects"]), params["directory"], params["dest"]
    if directory:
        try:
            objects += load_directory(directory)
        except ManifestError as exc:                 # not there, or a file that is not a Kubernetes object
            return {"failed": True, "msg": str(exc)}
    model = picture.build(params["plan"], objects)
    flowchart = picture.mermaid(model)
    result = {"changed": False, "dest": dest, "drawn": False, "dot": "", "mermaid": flowchart}
    name = os.path.basename(dest)
    try:
        result["dot"] = picture.dot(model)
        drawing = picture.svg(model)
    except picture.GraphvizMissing as missing:
        stale = f" (the {name} there is from an earlier run)" if os.path.exists(dest) else ""
        result["warnings"] = [f"{name} not drawn{stale}: {missing}; the Mermaid block in the report shows the same "
                              "picture"]
        result["markdown"] = picture.markdown(flowchart, f"{name} was not drawn ({missing}); this is the same picture.")
        return result
    note = f"The same picture, drawn by Graphviz: {name} beside this file."
    result.update(drawn=True, changed=write_if_changed(dest, drawing, check_mode),
                  markdown=picture.markdown(flowchart, note))
    return result


def main():
    run_module(run, ARGUMENT_SPEC)


if __name__ == "__main__":
    main()
