"""The user-facing contract: every public inventory variable, its default and its meaning.

This table is the one source for the variables' defaults (the plan applies
them), for the README's variable table (``tools/gen_docs.py`` writes it and a
unit test keeps it in sync) and for the "did you mean" check on misspelt
variables. Roles never read these variables directly: they read the plan.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from .addons.registry import ROLE_VARIABLES


@dataclass(frozen=True)
class Var:
    name: str
    default: object
    doc: str
    per_host: bool = False  # may differ between hosts (set in host_vars)
    default_doc: str | None = None  # how the default reads in the docs, when not literal


def _vars(*items: Var) -> dict[str, Var]:
    return {v.name: v for v in items}


CONTRACT: dict[str, Var] = _vars(
    # --- cluster ---------------------------------------------------------
    Var("k8s_pod_cidr", "10.244.0.0/16",
        "Cluster pod network (flannel `Network`). IPv4, IPv6, or dual-stack as a list "
        "(or comma-separated string) of one network of each family."),
    Var("k8s_service_cidr", "10.96.0.0/12",
        "Service VIP network; must match kube-apiserver `--service-cluster-ip-range`. "
        "Dual-stack as for `k8s_pod_cidr`."),
    Var("k8s_node_pod_prefix", 24,
        "Per-node IPv4 pod subnet size; must equal kube-controller-manager "
        "`--node-cidr-mask-size` (flannel's kube subnet manager takes node subnets from there)."),
    Var("k8s_node_pod_prefix_ipv6", 64,
        "Per-node IPv6 pod subnet size (`--node-cidr-mask-size-ipv6`), dual-stack/IPv6 only."),
    Var("k8s_nodeport_range", "30000-32767",
        "NodePort range `a-b`; must match kube-apiserver `--service-node-port-range`. "
        "Node preparation reserves it in `net.ipv4.ip_local_reserved_ports`."),
    Var("k8s_apply", "api",
        "`api`: apply objects to the live cluster (server-side apply). `render`: write the final "
        "objects as YAML files into `k8s_render_dir` (GitOps, CI, the lab).",
        default_doc="`render` in the lab inventory, `api` otherwise"),
    Var("k8s_render_dir", None,
        "Where `render` writes; relative paths are taken from the directory ansible-playbook runs in.",
        default_doc="`./rendered/<inventory name>`"),
    Var("k8s_kubeconfig", None,
        "Kubeconfig on the controller for `api` mode. Unset: `/etc/kubernetes/admin.conf` of the first "
        "`kube_control_plane` host (kubeadm's), copied to `~/.cache/k8snet/<inventory>/admin.conf`.",
        default_doc="fetched from the first control-plane node"),
    Var("k8s_version", None,
        "Kubernetes minor version of the cluster (1.35, 1.36 or 1.37: the minors upstream supports); objects are "
        "validated against its OpenAPI schema. api mode reads the API server's version (a value set here must "
        "agree); render mode takes it from here.",
        default_doc="the cluster's (api mode), `1.37` (render mode)"),
    Var("k8s_kube_proxy_mode", None,
        "kube-proxy's mode: `iptables`, `ipvs` or `nftables`. Flannel programs nftables (`EnableNFTables`) when "
        "it is `nftables` or when no host has iptables. api mode reads it from ConfigMap kube-system/kube-proxy "
        "(a value set here must agree); render mode takes it from here.",
        default_doc="the cluster's (api mode), `iptables` (render mode)"),
    Var("k8s_allow_disruptive", False,
        "Allow day-2 changes that break live pod traffic (pod/service CIDR, node prefix, backend, VNI/port) "
        "or remove pool addresses held by Services."),
    Var("k8s_adopt_existing", False,
        "api mode: take over objects of the same kind and name that another manager installed (kubectl-applied "
        "flannel, a Helm-installed MetalLB, a foreign IngressClass `nginx`). Off: their presence stops the run "
        "before the add-on is changed, naming each object and who installed it, with the migration steps."),
    Var("k8s_probe_scope", "changes",
        "What site.yml and reconfigure.yml probe on the wire: `changes` = everything on the first run, then "
        "only the node pairs and pool addresses that are new or changed since the last applied plan (a run "
        "with no change sends no probe); `all` = every pair and pool address on every run. "
        "verify.yml always probes everything."),
    Var("upstream_mirror", None,
        "Base URL (http, https, file) or local directory holding the pinned upstream manifests as "
        "`<project>/<version>/<path>`, for air-gapped sites.",
        default_doc="each file's upstream release URL"),
    Var("k8s_registry_mirror", None,
        "Registry prefix that replaces the registry of every add-on image, e.g. `registry.example.com/mirror`.",
        default_doc="upstream images"),
    Var("k8s_exposed_services", [],
        "Extra NodePort/LoadBalancer Services for existing workloads (see README, 'Exposing services')."),
    # --- flannel ---------------------------------------------------------
    Var("flannel_backend", "vxlan", "`vxlan`, `host-gw` or `wireguard`."),
    Var("flannel_iface", None,
        "Explicit NIC name or address for flannel (a list is tried in order); may be set per host.",
        per_host=True, default_doc="unset (automatic)"),
    Var("flannel_iface_regex", None,
        "Regex matched against NIC addresses, then names (unanchored, like flanneld's); may be set per host.",
        per_host=True, default_doc="unset"),
    Var("flannel_iface_can_reach", None,
        "Pick the NIC that routes to this address (`ip route get` on each host); may be set per host.",
        per_host=True, default_doc="unset"),
    Var("flannel_mtu", "auto",
        "UNDERLAY MTU written to `Backend.MTU`; `auto` omits it (flannel takes the NIC MTU and subtracts "
        "50 for vxlan, 80 for wireguard). Validation and probes use the resulting pod MTU."),
    Var("flannel_vni", 1, "VXLAN network identifier (device `flannel.<vni>`)."),
    Var("flannel_port", 8472, "VXLAN UDP port."),
    # --- metallb ---------------------------------------------------------
    Var("metallb_enabled", True, "Install MetalLB (LoadBalancer Services on-prem)."),
    Var("metallb_pools", [],
        "List of `{name, addresses, auto_assign, avoid_buggy_ips, mode: l2|bgp}`; addresses are CIDRs or "
        "`a-b` ranges. L2 pools must lie inside the subnet of every node's chosen NIC."),
    Var("metallb_bgp_peers", [],
        "List of `{address, asn, my_asn, port, hold_time, keepalive_time, password_secret, name}` (BGP pools). "
        "Timers are seconds or Go durations (`90s`, `1m30s`): `hold_time` 0 or 3..65535 s, `keepalive_time` "
        "below it (one alone gives the other: keepalives at a third of the hold time); the native speaker "
        "takes no `keepalive_time` (`frr`/`frr-k8s` do)."),
    Var("metallb_bgp_implementation", "native",
        "`native` (metallb-native.yaml) or `frr-k8s` (needed for BFD)."),
    Var("metallb_manage_kube_proxy", True,
        "In IPVS mode, set kube-proxy `strictARP: true` (api mode) instead of stopping with the change to make."),
    # --- ingress ---------------------------------------------------------
    Var("ingress_enabled", True, "Install an nginx Ingress controller."),
    Var("ingress_controller", "nginx",
        "`nginx` = F5 NGINX Ingress Controller (maintained); `ingress-nginx` = the community controller, "
        "retired March 2026, only for clusters that already run it."),
    Var("ingress_exposure", "loadbalancer", "`loadbalancer`, `nodeport` or `hostnetwork`."),
    Var("ingress_lb_ip", None, "Fixed VIP from a MetalLB pool (loadbalancer exposure).", default_doc="unset"),
    Var("ingress_http_nodeport", None, "Fixed HTTP NodePort (nodeport exposure).", default_doc="unset"),
    Var("ingress_https_nodeport", None, "Fixed HTTPS NodePort (nodeport exposure).", default_doc="unset"),
    Var("ingress_default_class", True, "Make IngressClass `nginx` the cluster's default class."),
    Var("ingress_kind", "deployment",
        "`deployment` or `daemonset` (hostnetwork exposure always uses a DaemonSet)."),
    Var("ingress_custom_resources", True,
        "Install the F5 controller's CRDs (VirtualServer, ...); `false` passes `-enable-custom-resources=false`."),
    Var("ingress_external_traffic_policy", "Local",
        "`Local` keeps client source IPs (only nodes with a controller pod answer); `Cluster` spreads load."),
    Var("gateway_api_enabled", False,
        "Also install the Gateway API v1.5.1 CRDs and NGINX Gateway Fabric."),
)

# Public variables that belong to one role (versions, pins, tunables). They are
# documented in that role's meta/argument_specs.yml; listing their prefixes
# here lets the misspelling check know them (the add-on roles' come from the registry).
ROLE_VARIABLE_PREFIXES = (*ROLE_VARIABLES, "node_prep_", "underlay_probe_", "network_plan_", "verify_")

# Names a misspelt contract variable is compared against.
_WATCHED_PREFIXES = ("k8s", "kube", "flan", "metal", "ingres", "ingress", "gateway", "upstream", "nginx")


def is_known(name: str) -> bool:
    return name in CONTRACT or name.startswith(ROLE_VARIABLE_PREFIXES)


def looks_like_ours(name: str) -> bool:
    """A name worth comparing with the contract (cheap pre-filter before difflib)."""
    lowered = name.lower()
    return lowered.startswith(_WATCHED_PREFIXES) or bool(closest(name))


def closest(name: str) -> str | None:
    match = difflib.get_close_matches(name, CONTRACT.keys(), n=1, cutoff=0.8)
    return match[0] if match else None


def defaults() -> dict[str, object]:
    return {name: var.default for name, var in CONTRACT.items()}
