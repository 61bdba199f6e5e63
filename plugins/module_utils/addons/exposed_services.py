"""The Services of ``k8s_exposed_services`` (generated; no upstream file)."""

from __future__ import annotations

from ..services import build_service
from .common import finish, set_ip_families


def required_files(plan: dict) -> list[str]:
    return []


def build(plan: dict, files: dict[str, str]) -> list[dict]:
    services = []
    for entry in plan.get("exposed_services") or []:
        service = build_service(entry, entry.get("selector"))
        set_ip_families(service, plan)
        services.append(service)
    return finish(services, plan)
