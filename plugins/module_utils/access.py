"""How to reach each Service (the development access options), and who uses the host's network.

Pure functions over Kubernetes objects, live (api mode) or rendered (render mode).
"""

from __future__ import annotations

from .kube import LB_IPS_ANNOTATION, MANAGED_BY, MANAGED_BY_VALUE, containers, pod_spec

WORKLOAD_KINDS = ("Pod", "Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "Job", "CronJob")


def _ns_name(obj: dict) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return meta.get("namespace") or "default", meta.get("name", "?")


def _is_https(port: dict) -> bool:
    return "https" in str(port.get("name", "")) or port.get("port") == 443


def lb_addresses(svc: dict) -> list[str]:
    """Live status first; in a rendered object the MetalLB annotation is what will be assigned."""
    status = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    found = [i.get("ip") or i.get("hostname") for i in status if i.get("ip") or i.get("hostname")]
    if not found:
        annotation = ((svc.get("metadata") or {}).get("annotations") or {}).get(LB_IPS_ANNOTATION)
        found = [a.strip() for a in annotation.split(",")] if annotation else []
    return found


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def ingress_routes(ingresses: list[dict]) -> dict[tuple[str, str], list[str]]:
    """(namespace, service) -> URLs of the Ingress rules that send traffic to it."""
    routes: dict[tuple[str, str], list[str]] = {}
    for ing in ingresses:
        ns, _ = _ns_name(ing)
        spec = ing.get("spec") or {}
        tls_hosts = {h for t in spec.get("tls") or [] for h in t.get("hosts") or []}
        for rule in spec.get("rules") or []:
            host = rule.get("host") or "*"
            scheme = "https" if host in tls_hosts else "http"
            for path in (rule.get("http") or {}).get("paths") or []:
                backend = (path.get("backend") or {}).get("service") or {}
                if backend.get("name"):
                    routes.setdefault((ns, backend["name"]), []).append(f"{scheme}://{host}{path.get('path', '/')}")
    return routes


def service_access(svc: dict, nodes: dict[str, str], routes: dict) -> dict:
    ns, name = _ns_name(svc)
    spec = svc.get("spec") or {}
    kind = spec.get("type", "ClusterIP")
    ways = []
    for port in spec.get("ports") or []:
        proto = port.get("protocol", "TCP")
        label = f"{port.get('port')}/{proto}" + (f" ({port['name']})" if port.get("name") else "")
        scheme = "https" if _is_https(port) else "http"
        if kind in ("NodePort", "LoadBalancer") and port.get("nodePort"):
            ways += [f"{label} NodePort: {scheme + '://' if proto == 'TCP' else proto.lower() + ' '}"
                     f"{_host(addr)}:{port['nodePort']} (node {node})" for node, addr in nodes.items()]
        elif kind == "NodePort":
            ways.append(f"{label} NodePort: assigned by the API server (not fixed)")
        if kind == "LoadBalancer":
            addresses = lb_addresses(svc) or ["<pending: no address assigned yet>"]
            ways += [f"{label} LoadBalancer: {_host(a)}:{port.get('port')}" for a in addresses]
        if proto == "TCP":
            ref = port.get("name") or port.get("port")
            proxy_name = f"{'https:' if _is_https(port) else ''}{name}:{ref}"
            ways.append(f"{label} port-forward: kubectl -n {ns} port-forward svc/{name} "
                        f"{8000 + int(port.get('port', 0)) % 1000}:{port.get('port')}")
            ways.append(f"{label} apiserver proxy: /api/v1/namespaces/{ns}/services/{proxy_name}/proxy/")
    ways += [f"Ingress: {url}" for url in routes.get((ns, name), [])]
    return {"namespace": ns, "name": name, "type": kind, "ways": ways}


def host_network_users(objects: list[dict]) -> list[str]:
    """Workloads using hostNetwork or hostPort (discouraged), except this project's host-network ingress."""
    found = []
    for obj in objects:
        spec = pod_spec(obj)
        if not spec:
            continue
        labels = (obj.get("metadata") or {}).get("labels") or {}
        ours = labels.get(MANAGED_BY) == MANAGED_BY_VALUE
        ns, name = _ns_name(obj)
        what = []
        if spec.get("hostNetwork"):
            what.append("hostNetwork")
        ports = [p.get("hostPort") for c in containers(obj) for p in c.get("ports") or [] if p.get("hostPort")]
        if ports:
            what.append("hostPort " + ", ".join(map(str, sorted(set(ports)))))
        if what and not (ours and "ingress" in ns):
            found.append(f"{obj.get('kind')} {ns}/{name}: {' and '.join(what)}")
    return found


def report(objects: list[dict], nodes: dict[str, str]) -> dict:
    services = [o for o in objects if o.get("kind") == "Service"]
    routes = ingress_routes([o for o in objects if o.get("kind") == "Ingress"])
    access = [service_access(s, nodes, routes) for s in sorted(services, key=_ns_name)]
    users = host_network_users([o for o in objects if o.get("kind") in WORKLOAD_KINDS])
    lines = []
    for entry in access:
        lines.append(f"{entry['namespace']}/{entry['name']} ({entry['type']})")
        lines += [f"  {way}" for way in entry["ways"]]
    lines.append("Workloads on the host network or with hostPort (discouraged): " + ("none" if not users else ""))
    lines += [f"  {u}" for u in users]
    return {"services": access, "host_network": users, "lines": lines}
