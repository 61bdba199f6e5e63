"""The few requests the collection's own cluster modules make (k8s_apply, k8s_read, k8s_objects,
k8s_exec), through the kubernetes dynamic client.

The client is imported when this file is: the linear strategy loads an action plugin's class in the
controller's main process, so the first in-process k8s_read or k8s_apply imports it there once and
every later task's worker inherits it (the import is most of such a task's cost).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

try:
    from kubernetes import client as k8s_api
    from kubernetes import config, dynamic
    from kubernetes.dynamic import exceptions
    from kubernetes.stream import stream
except ImportError:  # reported by the module (missing_required_lib), not at import
    HAS_KUBERNETES, exceptions = False, None
else:
    HAS_KUBERNETES = True


# The options every k8s_* module takes to reach the cluster (documented in doc_fragments/cluster.py).
CONNECTION_SPEC = {"kubeconfig": {"type": "path"}, "context": {"type": "str"}}


class ClusterError(Exception):
    """A request the modules cannot go on from; the message names what and why."""


def message(error: Exception) -> str:
    """The API server's own message of a failed request (its JSON body), else the error's text."""
    body = getattr(error, "body", None)
    if body:
        try:
            return json.loads(body).get("message") or str(body)
        except (TypeError, ValueError, AttributeError):
            return str(body)
    return str(error)


def failure(subject: str, kubeconfig: str | None, error: Exception) -> dict:
    """A module result for a request that failed: our own refusal as it is, the client's errors (connection
    refused, TLS, auth) as what the cluster of that kubeconfig answered."""
    if isinstance(error, ClusterError):
        return {"failed": True, "changed": False, "msg": str(error)}
    where = kubeconfig or "the default kubeconfig"
    return {"failed": True, "changed": False,
            "msg": f"{subject}: the cluster of {where} did not answer as expected: {message(error)}"}


# Requests in flight at once when the order does not matter (the client's pool keeps 5 per CPU).
WORKERS = 8


class Cluster:
    """One connection to the cluster of a kubeconfig (the client's defaults when it is empty)."""

    _discovery = threading.Lock()                # the discovery cache is not safe to fill from two threads

    def __init__(self, kubeconfig: str | None, context: str | None):
        if not HAS_KUBERNETES:
            raise ClusterError("the kubernetes Python client is not installed in the controller's Python")
        self.exceptions = exceptions
        if kubeconfig and not os.path.exists(kubeconfig):
            raise ClusterError(f"k8s_kubeconfig {kubeconfig} does not exist")
        self.client = dynamic.DynamicClient(config.new_client_from_config(config_file=kubeconfig, context=context))

    def each(self, work, items: list) -> list:
        """``work(item)`` for every item, up to WORKERS requests at once, the answers in the items' order;
        the first item's error (in that order) is raised. For requests that do not depend on each other."""
        if len(items) < 2:
            return [work(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(WORKERS, len(items))) as pool:
            futures = [pool.submit(work, item) for item in items]
        return [f.result() for f in futures]

    def server_version(self) -> str:
        """The API server's own version (its /version, asked now: the discovery cache may keep another's)."""
        return k8s_api.VersionApi(self.client.client).get_code().git_version

    def resource(self, api_version: str, kind: str):
        with self._discovery:
            try:
                return self.client.resources.get(api_version=api_version, kind=kind)
            except self.exceptions.ResourceNotFoundError:
                self.client.resources.invalidate_cache()           # a CRD this run just created
                return self.client.resources.get(api_version=api_version, kind=kind)

    def get(self, r: dict) -> dict | None:
        """The object of a reference ({apiVersion, kind, namespace, name}), or None (also when its kind is unknown)."""
        try:
            res = self.resource(r["apiVersion"], r["kind"])
        except self.exceptions.ResourceNotFoundError:
            return None
        try:
            return self.client.get(res, name=r["name"], namespace=r.get("namespace") or None).to_dict()
        except self.exceptions.NotFoundError:
            return None

    def find(self, api_version: str, kind: str, *, namespace: str | None = None, name: str | None = None,
             label_selectors: list[str] | None = None, field_selectors: list[str] | None = None) -> list[dict]:
        """The objects a query matches; none when the kind is not served (its CRD is not installed)."""
        if name:
            found = self.get({"apiVersion": api_version, "kind": kind, "namespace": namespace, "name": name})
            return [found] if found else []
        try:
            res = self.resource(api_version, kind)
        except self.exceptions.ResourceNotFoundError:
            return []
        listed = self.client.get(res, namespace=namespace or None,
                                 label_selector=",".join(label_selectors or []) or None,
                                 field_selector=",".join(field_selectors or []) or None).to_dict()
        kind_of_items = {"apiVersion": api_version, "kind": kind}     # a List's items do not carry them
        return [{**kind_of_items, **item} for item in listed.get("items") or []]

    def apply(self, obj: dict, manager: str, force: bool, dry_run: bool) -> dict:
        res = self.resource(obj["apiVersion"], obj["kind"])
        meta = obj.get("metadata") or {}
        kwargs = {"field_manager": manager, "force_conflicts": force}
        if dry_run:
            kwargs["dry_run"] = "All"
        return self.client.server_side_apply(res, body=obj, name=meta.get("name"),
                                             namespace=meta.get("namespace") if res.namespaced else None,
                                             **kwargs).to_dict()

    def patch(self, r: dict, body: dict, dry_run: bool = False) -> dict:
        """A JSON merge patch of one object (a None value removes that key)."""
        res = self.resource(r["apiVersion"], r["kind"])
        kwargs = {"dry_run": "All"} if dry_run else {}
        return self.client.patch(res, body=body, name=r["name"], namespace=r.get("namespace") or None,
                                 content_type="application/merge-patch+json", **kwargs).to_dict()

    def delete(self, r: dict, grace_period: int | None = None) -> None:
        res = self.resource(r["apiVersion"], r["kind"])
        with contextlib.suppress(self.exceptions.NotFoundError):
            self.client.delete(res, name=r["name"], namespace=r.get("namespace") or None,
                               propagation_policy="Background", grace_period_seconds=grace_period)

    def wait_gone(self, refs: list[dict], timeout: float, interval: float = 0.5) -> list[dict]:
        """Wait until none of the objects exists any more; those still there after ``timeout`` seconds."""
        _, still = wait_each(self, refs, lambda live: None if live is None else "still there", timeout, interval)
        return [r for r, _ in still]

    def exec(self, namespace: str, pod: str, container: str | None, argv: list[str], timeout: float) -> dict:
        """Run ``argv`` in a container of a running pod; its exit code, stdout and stderr.

        One at a time: the client's stream() swaps the connection's request function while it opens."""
        core = k8s_api.CoreV1Api(self.client.client)
        kwargs = {"container": container} if container else {}
        resp = stream(core.connect_get_namespaced_pod_exec, pod, namespace, command=argv, stdout=True,
                      stderr=True, stdin=False, tty=False, _preload_content=False, **kwargs)
        out, err, deadline = [], [], time.monotonic() + timeout
        try:
            while resp.is_open():
                if time.monotonic() >= deadline:
                    raise ClusterError(f"{' '.join(argv)} in {namespace}/{pod} did not end within {timeout:g} s")
                resp.update(timeout=1)
                if resp.peek_stdout():
                    out.append(resp.read_stdout())
                if resp.peek_stderr():
                    err.append(resp.read_stderr())
            status = json.loads(resp.read_channel(3) or "{}")
        finally:
            resp.close()
        return {"rc": exit_code(status), "stdout": "".join(out), "stderr": "".join(err)}


def wait_each(cluster, refs: list[dict], problem, timeout: float, interval: float, *,
              first: list | None = None) -> tuple[list[tuple[dict, float]], list[tuple[dict, str]]]:
    """Look at every object of ``refs`` until ``problem(live)`` (what is not done yet, or None) is None for each, at
    most ``timeout`` seconds: ``first`` is the first look when the caller has it, then every object not done yet is
    read again, all at once, every ``interval`` seconds. The objects done with the seconds each took, in the order
    they got done; the objects still not done with their last reason."""
    started = time.monotonic()
    lives = cluster.each(cluster.get, refs) if first is None else first
    done = []
    while True:
        still = []
        for r, live in zip(refs, lives, strict=True):
            reason = problem(live)
            if reason is None:
                done.append((r, time.monotonic() - started))
            else:
                still.append((r, reason))
        if not still or time.monotonic() - started >= timeout:
            return done, still
        time.sleep(interval)
        refs = [r for r, _ in still]
        lives = cluster.each(cluster.get, refs)


def exit_code(status: dict) -> int:
    """The exit code in the status an exec's error channel ends with (Success, or NonZeroExitCode with
    the code as the ExitCode cause); a failure to run the command at all is an error naming why."""
    if status.get("status") == "Success":
        return 0
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            return int(cause["message"])
    raise ClusterError(status.get("message") or f"the exec ended without a status ({status})")
