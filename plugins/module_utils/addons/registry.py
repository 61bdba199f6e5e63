"""The add-ons, in apply order: the one list that the builders, the roles, site.yml, the docs and the
tests read (the roles through the ``onprem.k8snet.addons`` lookup).

An add-on is a component (its objects carry ``onprem.k8snet/component: <name>`` and render into
``<render dir>/<name>/``), one role (its pinned upstream files in ``defaults/main.yml`` and
``tasks/pins.yml``, and in ``tasks/main.yml`` what it needs from the live cluster before its objects
are applied), the upstream projects its pins name, and a builder module in this package. Pure data
(``contract`` reads it for the role variables; the package's __init__ maps builder names to modules).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class AddOn:
    name: str                                # the component
    role: str                                # the role with its pins and its live pre-steps
    pins: dict[str, str] = field(default_factory=dict)       # pin table -> upstream project (see below)
    builders: dict[str, str] = field(default_factory=dict)   # plan variant -> builder module; "" = any
    pre_steps: bool = True                   # the role's tasks/main.yml runs before the add-ons are applied
    pod_network: bool = False                # the others are applied once it is up on every Node (k8s_apply)

    # A pin table named P is the role defaults P_version (the release tag) and P_manifests (the files at
    # that tag, each {path, sha256}); upstream_fetch downloads them from the project's repository.

    @property
    def projects(self) -> tuple[str, ...]:
        return tuple(self.pins.values())

    @property
    def variables(self) -> tuple[str, ...]:
        """The role's own variables (not contract variables): the pin tables."""
        return tuple(f"{table}_{part}" for table in self.pins for part in ("version", "manifests"))

    def builder(self, plan: dict) -> str:
        """The builder module's name for this plan (the ingress add-on has one per controller)."""
        if "" in self.builders:
            return self.builders[""]
        return self.builders.get((plan.get("ingress") or {}).get("controller") or "", "")

    def as_dict(self) -> dict:
        return {"name": self.name, "role": self.role, "projects": list(self.projects), "pins": bool(self.pins),
                "pre_steps": self.pre_steps, "pod_network": self.pod_network}


_ORDERED = (
    # The pod network: every other add-on's pods need it to start.
    AddOn("flannel", "flannel", {"flannel": "flannel"}, {"": "flannel"}, pod_network=True),
    AddOn("metallb", "metallb", {"metallb": "metallb"}, {"": "metallb"}),
    AddOn("ingress", "ingress", {"ingress": "nginx-ingress", "ingress_nginx": "ingress-nginx"},
          {"nginx": "nginx_ingress", "ingress-nginx": "ingress_nginx"}),
    AddOn("gateway", "gateway_api", {"gateway_api": "gateway-api", "gateway_api_ngf": "nginx-gateway-fabric"},
          {"": "gateway"}),
    # No pinned files: its Services are built from the inventory; its role completes them from the live
    # cluster in the validation phase (site.yml), not among the pre-steps.
    AddOn("exposed_services", "exposed_services", {}, {"": "exposed_services"}, pre_steps=False),
)

ADDONS: dict[str, AddOn] = {a.name: a for a in _ORDERED}
COMPONENTS: tuple[str, ...] = tuple(ADDONS)
POD_NETWORK: frozenset[str] = frozenset(a.name for a in _ORDERED if a.pod_network)
COMPONENT_PROJECTS: dict[str, tuple[str, ...]] = {a.name: a.projects for a in _ORDERED}
ROLE_VARIABLES: tuple[str, ...] = tuple(v for a in _ORDERED for v in a.variables)
