#!/usr/bin/env python3
"""Benchmark: schema validation of every object of the pinned upstream manifests (module_utils/kube.py).

Prints the time with the schemas loaded cold (the first validation of a run) and warm (cached), and
their ratio; the target is the whole set in under 2 s cold. This was a timed unit test until
2026-12-03 (a timing in `make unit` fails on a loaded machine; figures belong here).
"""

from __future__ import annotations

import copy
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "collections"), str(ROOT)]

from ansible_collections.onprem.k8snet.plugins.module_utils import kube

from tests.unit.plugins.module_utils.test_kube import all_upstream_objects

TARGET_S = 2.0


def timed(objects: list[dict]) -> float:
    start = time.perf_counter()
    kube.validate_objects(copy.deepcopy(objects), "1.34")
    return time.perf_counter() - start


def main() -> int:
    objects = all_upstream_objects()
    kube.kube_schemas.cache_clear()
    cold = timed(objects)
    warm = min(timed(objects) for _ in range(3))
    print(f"schema validation: {len(objects)} upstream objects: cold {cold:.3f} s, warm {warm:.3f} s "
          f"(cold/warm x{cold / warm:.1f})")
    print(f"target: the whole set cold < {TARGET_S:.0f} s -> {'met' if cold < TARGET_S else 'MISSED'} ({cold:.3f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
