"""MetalLB v0.16.1: ``metallb-native.yaml`` (or ``metallb-frr-k8s.yaml``) plus the generated configuration.

Generated in ``metallb-system``, one of each per pool of the plan (named after the pool):
``IPAddressPool`` v1beta1; ``L2Advertisement`` for L2 pools, its ``interfaces`` being the NICs
the nodes chose; ``BGPAdvertisement`` for BGP pools; and one ``BGPPeer`` v1beta2 per peer.
The memberlist Secret is not generated (the controller creates it; api mode applies the speakers' DaemonSet
once it exists, see onprem.k8snet.k8s_apply).

Artifact: ``patches/kube-proxy-strictarp.yaml``, the KubeProxyConfiguration fragment that IPVS
mode needs (render mode users merge it into ConfigMap kube-system/kube-proxy themselves).
"""

from __future__ import annotations

from .common import Artifact, finish, load

NAMESPACE = "metallb-system"
API = "metallb.io/v1beta1"
PEER_API = "metallb.io/v1beta2"
MANIFESTS = {"native": "config/manifests/metallb-native.yaml",
             "frr-k8s": "config/manifests/metallb-frr-k8s.yaml"}


def required_files(plan: dict) -> list[str]:
    metallb = plan["metallb"]
    return [MANIFESTS[metallb.get("bgp_implementation") or "native"]] if metallb.get("enabled") else []


def _object(kind: str, name: str, spec: dict, api: str = API) -> dict:
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": NAMESPACE}, "spec": spec}


def pool_objects(pool: dict) -> list[dict]:
    spec = {"addresses": list(pool["addresses"]), "autoAssign": bool(pool.get("auto_assign", True)),
            "avoidBuggyIPs": bool(pool.get("avoid_buggy_ips", False))}
    objects = [_object("IPAddressPool", pool["name"], spec)]
    if pool.get("mode", "l2") == "l2":
        advertisement = {"ipAddressPools": [pool["name"]]}
        interfaces = sorted(set((pool.get("interfaces") or {}).values()))
        if interfaces:
            advertisement["interfaces"] = interfaces
        objects.append(_object("L2Advertisement", pool["name"], advertisement))
    else:
        objects.append(_object("BGPAdvertisement", pool["name"], {"ipAddressPools": [pool["name"]]}))
    return objects


def _duration(value) -> str:
    """MetalLB durations are Go strings (``90s``); the inventory may give plain seconds."""
    return f"{value}s" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def peer_object(peer: dict) -> dict:
    spec: dict = {"myASN": peer["my_asn"], "peerASN": peer["asn"], "peerAddress": peer["address"],
                  "peerPort": peer.get("port") or 179}
    if peer.get("hold_time") is not None:
        spec["holdTime"] = _duration(peer["hold_time"])
    if peer.get("keepalive_time") is not None:
        spec["keepaliveTime"] = _duration(peer["keepalive_time"])
    secret = peer.get("password_secret")
    if secret:
        spec["passwordSecret"] = ({"name": secret, "namespace": NAMESPACE} if isinstance(secret, str)
                                  else dict(secret))
    selectors = peer.get("node_selectors")
    if selectors:
        spec["nodeSelectors"] = [{"matchLabels": selectors}] if isinstance(selectors, dict) else list(selectors)
    return _object("BGPPeer", peer["name"], spec, PEER_API)


def generated(plan: dict) -> list[dict]:
    metallb = plan["metallb"]
    objects = [obj for pool in metallb.get("pools") or [] for obj in pool_objects(pool)]
    objects += [peer_object(peer) for peer in metallb.get("bgp_peers") or []]
    return objects


def build(plan: dict, files: dict[str, str]) -> list[dict]:
    if not plan["metallb"].get("enabled"):
        return []
    objects = load(files, required_files(plan)[0])
    return finish(objects + generated(plan), plan)


STRICT_ARP_COMMENT = """\
kube-proxy in IPVS mode answers ARP for every Service IP on every node unless strictARP is set,
which breaks MetalLB L2 announcements. Merge this into `config.conf` of ConfigMap
kube-system/kube-proxy (kubeadm: the KubeProxyConfiguration of the cluster configuration), then
restart kube-proxy. For example:
  kubectl -n kube-system get configmap kube-proxy -o yaml \\
    | sed -e 's/strictARP: false/strictARP: true/' | kubectl apply -f -
  kubectl -n kube-system rollout restart daemonset kube-proxy
In iptables or nftables mode the setting changes nothing."""


def artifacts(plan: dict, files: dict[str, str]) -> list[Artifact]:
    if not plan["metallb"].get("enabled"):
        return []
    fragment = {"apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
                "ipvs": {"strictARP": True}}
    return [Artifact(path="patches/kube-proxy-strictarp.yaml", content=fragment, kind="fragment",
                     comment=STRICT_ARP_COMMENT)]
