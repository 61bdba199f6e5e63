"""Day 2 in api mode: what to do with the cluster, from the desired objects and the live ones.

``decide`` sorts objects by identity (API group, kind, namespace, name; see ``kube.identity``)
into what to create, update, delete or leave alone, and what belongs to someone else.
``pool_shrink_refusals`` lists the LoadBalancer addresses a pool change would take away.
Both are pure: the caller reads the cluster (kubernetes.core.k8s_info) and acts.
"""

from __future__ import annotations

from .addr import AddrError, Span, address_span, parse_address
from .kube import COMPONENT_LABEL, MANAGED_BY, MANAGED_BY_VALUE, identity

# Written by the API server or by controllers, never drift even when a desired object sets them
# (upstream manifests carry `creationTimestamp: null` and `status: {}`).
SERVER_METADATA = frozenset({"uid", "resourceVersion", "managedFields", "creationTimestamp", "generation",
                             "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"})
# Webhook configurations, CRD conversion webhooks and APIServices get their CA injected.
INJECTED_KEYS = frozenset({"caBundle"})


def is_managed(obj: dict, component: str | None = None) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return labels.get(MANAGED_BY) == MANAGED_BY_VALUE and (component is None
                                                          or labels.get(COMPONENT_LABEL) == component)


def _ignored(path: tuple, key: str, value: object) -> bool:
    if key in INJECTED_KEYS or (path == ("metadata",) and key in SERVER_METADATA):
        return True
    if path == () and key == "status":
        return True
    # The API server allocates cluster IPs; only a headless Service ("None") asks for something.
    return path == ("spec",) and key in ("clusterIP", "clusterIPs") and value not in ("None", ["None"])


def differences(desired: object, live: object, path: tuple = ()) -> list[str]:
    """Paths where ``live`` does not hold what ``desired`` sets (empty: desired is a subset of live).

    Mappings compare only the keys desired sets (null or empty ones count as unset when live lacks
    them); lists compare item by item and must have the same length (an item the server defaults
    more fields in still matches).
    """
    if isinstance(desired, dict) and isinstance(live, dict):
        found = []
        for key, value in desired.items():
            if _ignored(path, key, value):
                continue
            if key not in live:
                if value not in (None, {}, []):
                    found.append(_path((*path, key)))
                continue
            found += differences(value, live[key], (*path, key))
        return found
    if isinstance(desired, list) and isinstance(live, list):
        if len(desired) != len(live):
            return [_path(path)]
        return [d for i, (a, b) in enumerate(zip(desired, live, strict=True)) for d in differences(a, b, (*path, i))]
    return [] if desired == live else [_path(path)]


def _path(parts: tuple) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(root)"


def decide(desired: list[dict], live: list[dict], component: str | None = None) -> dict[str, list[dict]]:
    """What to do, as lists of objects.

    - ``create``: desired objects with no live object of their identity;
    - ``update``: desired objects whose live object (ours) lacks or differs in something they set;
    - ``unchanged``: desired objects their live object (ours) already matches;
    - ``delete``: live objects of ours (``MANAGED_BY`` label and, when ``component`` is given, the
      ``kube.COMPONENT_LABEL`` of that component) that are no longer desired;
    - ``foreign``: LIVE objects with the identity of a desired one but without our label. Nothing
      is done to them; the caller refuses or warns.

    ``create``/``update``/``unchanged`` hold the desired objects (what to apply), ``delete`` and
    ``foreign`` the live ones (what is there). Every desired object and every live object of ours
    is in exactly one list. A desired identity given twice is a ValueError.
    """
    wanted: dict[tuple, dict] = {}
    for obj in desired:
        key = identity(obj)
        if key in wanted:
            raise ValueError(f"{key[1]} {key[2]}/{key[3]} is desired twice")
        wanted[key] = obj
    present = {identity(obj): obj for obj in live}
    result: dict[str, list[dict]] = {"create": [], "update": [], "delete": [], "unchanged": [], "foreign": []}
    for key, obj in wanted.items():
        current = present.get(key)
        if current is None:
            result["create"].append(obj)
        elif not is_managed(current):
            result["foreign"].append(current)
        else:
            result["update" if differences(obj, current) else "unchanged"].append(obj)
    result["delete"] = [obj for key, obj in present.items() if key not in wanted and is_managed(obj, component)]
    return result


# ---------------------------------------------------------------- MetalLB pools


def _pool_spans(pools: list[dict]) -> list[tuple[Span, str]]:
    spans = []
    for pool in pools or []:
        for r in pool.get("ranges") or []:
            first, last = parse_address(r["first"]), parse_address(r["last"])
            spans.append((Span(int(first), int(last), first.version, f"{first}-{last}"), pool.get("name", "?")))
    return spans


def _held_addresses(svc: dict) -> list[Span]:
    found = []
    for item in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
        try:
            found.append(address_span(parse_address(item.get("ip"))))
        except AddrError:
            continue  # a hostname, or nothing yet
    return found


def pool_shrink_refusals(old_pools: list[dict], new_pools: list[dict], services: list[dict]) -> list[str]:
    """One line per LoadBalancer address a Service holds from an old pool that no new pool contains."""
    old, new = _pool_spans(old_pools), _pool_spans(new_pools)
    new_names = {pool.get("name") for pool in new_pools or []}
    lines = []
    for svc in services or []:
        if (svc.get("spec") or {}).get("type") != "LoadBalancer":
            continue
        meta = svc.get("metadata") or {}
        who = f"{meta.get('namespace') or 'default'}/{meta.get('name')}"
        for address in _held_addresses(svc):
            if any(span.contains(address) for span, _ in new):
                continue
            for span, pool in old:
                if span.contains(address):
                    change = "removes that pool" if pool not in new_names else "shrinks that pool past it"
                    lines.append(f"Service {who} holds {address.label} from MetalLB pool {pool} ({span.text}); "
                                 f"the new plan {change}, so the Service would lose its address")
                    break
    return lines
