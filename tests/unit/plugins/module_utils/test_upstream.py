"""Pinned downloads: URLs, mirror layout, the sha256-verified cache, and the upstream_fetch module."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import threading
from pathlib import Path

import pytest
from ansible_collections.onprem.k8snet.plugins.module_utils import upstream
from ansible_collections.onprem.k8snet.plugins.modules import upstream_fetch

from tests.unit.planfixtures import ADDONS, ROLE_PINS, manifest_rows, require_mirror, role_pins, run_module

FLANNEL = {"project": "flannel", "version": "v0.28.9", "path": "Documentation/kube-flannel.yml",
           "sha256": "e875824be2f552b45711dbda91af81b17eb961d00025d914d9fef18fad8f09c0"}
WRONG_SHA = "0" * 64


def pins(*projects: str) -> list[dict]:
    rows = [r for r in manifest_rows() if not projects or r["project"] in projects]
    return [{"project": r["project"], "version": r["version"], "path": r["relative_path"].split("/", 2)[2],
             "sha256": r["sha256"]} for r in rows if not r["relative_path"].endswith("LICENSE")]


class CountingOpener:
    """Wraps the real opener and records every URL read."""

    def __init__(self):
        self.urls: list[str] = []

    def __call__(self, url, timeout, validate_certs):
        self.urls.append(url)
        return upstream._default_opener(url, timeout, validate_certs)


@pytest.fixture
def http_mirror(monkeypatch):
    """A loopback HTTP server over the local mirror; yields (base URL, list of request paths)."""
    root = require_mirror()
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", requests
    server.shutdown()
    server.server_close()


# ------------------------------------------------------------------ URLs


def test_default_urls_are_the_tag_pinned_raw_github_urls_of_the_manifest():
    for row in manifest_rows():
        pin = upstream.Pin.from_dict({"project": row["project"], "version": row["version"],
                                      "path": row["relative_path"].split("/", 2)[2], "sha256": row["sha256"]})
        assert pin.relpath == row["relative_path"]
        assert upstream.source_url(pin, None) == row["upstream_url"]


def test_mirror_urls_follow_project_version_path():
    pin = upstream.Pin.from_dict(FLANNEL)
    assert upstream.source_url(pin, "https://mirror.example.com/up/") == \
        "https://mirror.example.com/up/flannel/v0.28.9/Documentation/kube-flannel.yml"
    assert upstream.source_url(pin, "/srv/mirror") == "file:///srv/mirror/flannel/v0.28.9/Documentation/kube-flannel.yml"
    assert upstream.source_url(pin, "file:///srv/m") == "file:///srv/m/flannel/v0.28.9/Documentation/kube-flannel.yml"
    explicit = upstream.Pin.from_dict({**FLANNEL, "url": "https://example.com/x.yml"})
    assert upstream.source_url(explicit, None) == "https://example.com/x.yml"


@pytest.mark.parametrize("change, word", [
    ({"path": "../../etc/passwd"}, "path"),
    ({"path": "/etc/passwd"}, "path"),
    ({"version": "v1/../.."}, "version"),
    ({"sha256": "abc"}, "sha256"),
    ({"project": "unknown-project"}, "no url"),
])
def test_bad_pins_are_refused(change, word):
    with pytest.raises(upstream.UpstreamError, match=word):
        upstream.Pin.from_dict({**FLANNEL, **change})


# ------------------------------------------------------------------ cache


@pytest.mark.parametrize("projects", [("flannel",), ("metallb",), ("nginx-ingress", "ingress-nginx"),
                                      ("gateway-api", "nginx-gateway-fabric")])
def test_fetch_from_local_mirror_then_cache_hit_without_download(tmp_path, projects):
    mirror = require_mirror()
    wanted = pins(*projects)
    opener = CountingOpener()
    first = upstream.fetch(wanted, mirror=str(mirror), cache_dir=str(tmp_path), opener=opener)
    assert sorted(first.downloaded) == sorted(p["path"] for p in wanted)
    assert first.cached == []
    assert len(opener.urls) == len(wanted)
    for pin in wanted:
        local = first.paths[pin["path"]]
        assert local == str(tmp_path / pin["project"] / pin["version"] / pin["path"])
        assert hashlib.sha256(Path(local).read_bytes()).hexdigest() == pin["sha256"]

    opener.urls.clear()
    second = upstream.fetch(wanted, mirror=str(mirror), cache_dir=str(tmp_path), opener=opener)
    assert opener.urls == []
    assert second.downloaded == [] and sorted(second.cached) == sorted(p["path"] for p in wanted)
    assert second.paths == first.paths


def test_http_mirror_is_read_once_then_cached(tmp_path, http_mirror):
    base, requests = http_mirror
    wanted = pins("metallb", "flannel")
    upstream.fetch(wanted, mirror=base, cache_dir=str(tmp_path))
    assert sorted(requests) == sorted(f"/{p['project']}/{p['version']}/{p['path']}" for p in wanted)
    requests.clear()
    result = upstream.fetch(wanted, mirror=base, cache_dir=str(tmp_path))
    assert requests == []
    assert len(result.cached) == len(wanted)


def test_sha256_mismatch_is_refused_and_nothing_reaches_the_final_path(tmp_path, http_mirror):
    base, _ = http_mirror
    with pytest.raises(upstream.UpstreamError) as info:
        upstream.fetch([{**FLANNEL, "sha256": WRONG_SHA}], mirror=base, cache_dir=str(tmp_path))
    message = str(info.value)
    assert "Documentation/kube-flannel.yml" in message
    assert f"{base}/flannel/v0.28.9/Documentation/kube-flannel.yml" in message
    assert WRONG_SHA in message and FLANNEL["sha256"] in message
    directory = tmp_path / "flannel" / "v0.28.9" / "Documentation"
    assert not (directory / "kube-flannel.yml").exists()
    assert list(directory.iterdir()) == []  # no temporary file left behind either


def test_corrupted_cache_file_is_downloaded_again(tmp_path):
    mirror = str(require_mirror())
    upstream.fetch([FLANNEL], mirror=mirror, cache_dir=str(tmp_path))
    cached = tmp_path / "flannel" / "v0.28.9" / "Documentation" / "kube-flannel.yml"
    cached.write_text("tampered\n")
    result = upstream.fetch([FLANNEL], mirror=mirror, cache_dir=str(tmp_path))
    assert result.downloaded == ["Documentation/kube-flannel.yml"]
    assert upstream.sha256_file(str(cached)) == FLANNEL["sha256"]


def test_corrupted_cache_and_wrong_download_leave_nothing(tmp_path):
    mirror = str(require_mirror())
    cached = tmp_path / "flannel" / "v0.28.9" / "Documentation" / "kube-flannel.yml"
    cached.parent.mkdir(parents=True)
    cached.write_text("stale\n")
    with pytest.raises(upstream.UpstreamError, match="sha256 mismatch"):
        upstream.fetch([{**FLANNEL, "sha256": WRONG_SHA}], mirror=mirror, cache_dir=str(tmp_path))
    assert not cached.exists()


def test_missing_file_and_bad_pin_are_reported_together(tmp_path, http_mirror):
    base, _ = http_mirror
    with pytest.raises(upstream.UpstreamError) as info:
        upstream.fetch([{**FLANNEL, "path": "Documentation/nope.yml"}, {**FLANNEL, "sha256": "x"}],
                       mirror=base, cache_dir=str(tmp_path))
    text = str(info.value)
    assert "cannot read" in text and "nope.yml" in text and "64 hex digits" in text


def test_same_path_of_two_projects_is_kept_apart_by_project(tmp_path):
    crds = [{"project": "nginx-ingress", "version": "v5.5.4", "path": "deploy/crds.yaml",
             "sha256": "9a79a8233162a61fc16820c17c62ec6c33f2c1666b69814f30603ef4e0b93098"},
            {"project": "nginx-gateway-fabric", "version": "v2.6.7", "path": "deploy/crds.yaml",
             "sha256": "942d031b4f5d0cd57194c8d0d6e7a09bddf4ced3e59609dd390db013434ec8fa"}]
    result = upstream.fetch([*crds, FLANNEL], mirror=str(require_mirror()), cache_dir=str(tmp_path))
    f5, ngf = result.by_project["nginx-ingress"]["deploy/crds.yaml"], result.by_project["nginx-gateway-fabric"][
        "deploy/crds.yaml"]
    assert f5 != ngf and upstream.sha256_file(ngf) == crds[1]["sha256"]
    assert "deploy/crds.yaml" not in result.paths and FLANNEL["path"] in result.paths


def test_one_project_pinned_twice_is_refused(tmp_path):
    other = {**FLANNEL, "version": "v0.28.8"}
    with pytest.raises(upstream.UpstreamError, match="pinned at both"):
        upstream.fetch([FLANNEL, other], mirror=str(require_mirror()), cache_dir=str(tmp_path))


# ------------------------------------------------------------------ module


def test_module_fetches_and_reports_cache_hits_unchanged(tmp_path):
    mirror = str(require_mirror())
    args = {"files": pins("flannel", "metallb"), "mirror": mirror, "cache_dir": str(tmp_path)}
    first = run_module(upstream_fetch.main, args)
    assert not first["failed"] and first["changed"] is False
    assert set(first["paths"]) == {p["path"] for p in args["files"]}
    assert len(first["downloaded"]) == len(args["files"])
    second = run_module(upstream_fetch.main, args, check_mode=True)
    assert second["downloaded"] == [] and len(second["cached"]) == len(args["files"])
    assert second["changed"] is False


def test_module_fails_naming_the_mismatch(tmp_path):
    result = run_module(upstream_fetch.main, {"files": [{**FLANNEL, "sha256": WRONG_SHA}],
                                              "mirror": str(require_mirror()), "cache_dir": str(tmp_path)})
    assert result["failed"]
    assert "sha256 mismatch" in result["msg"] and WRONG_SHA in result["msg"]
    assert not os.path.exists(tmp_path / "flannel" / "v0.28.9" / "Documentation" / "kube-flannel.yml")


def test_module_argument_spec_requires_sha256(tmp_path):
    pin = {k: v for k, v in FLANNEL.items() if k != "sha256"}
    result = run_module(upstream_fetch.main, {"files": [pin], "cache_dir": str(tmp_path)})
    assert result["failed"] and "sha256" in result["msg"]


# ------------------------------------------------------------------ the pin tables of the roles

@pytest.mark.parametrize("role", sorted(ROLE_PINS))
def test_role_pins_match_the_manifest(role):
    rows = {r["relative_path"]: r["sha256"] for r in manifest_rows()}
    for pin in role_pins(role):
        assert rows[upstream.Pin.from_dict(pin).relpath] == pin["sha256"], pin["path"]


@pytest.mark.parametrize("component, role", [(a.name, a.role) for a in ADDONS.values() if a.pins])
def test_role_pins_cover_every_file_the_builders_read(component, role):
    from ansible_collections.onprem.k8snet.plugins.module_utils import addons

    from tests.unit.planfixtures import make_plan

    pinned = {p["path"] for p in role_pins(role)}
    needed = set()
    for ingress in ({"exposure": e, "kind": k, "controller": c, "custom_resources": True}
                    for e in ("loadbalancer", "nodeport", "hostnetwork") for k in ("deployment", "daemonset")
                    for c in ("nginx", "ingress-nginx")):
        for bgp in ("native", "frr-k8s"):
            plan = make_plan(ingress=ingress, metallb={"bgp_implementation": bgp}, gateway_api={"enabled": True})
            needed |= set(addons.required_files(component, plan))
    assert needed == pinned


def test_without_mirror_the_tests_skip_loudly_or_use_the_internet(tmp_path, monkeypatch):
    from tests.unit import planfixtures

    found, why = planfixtures._internet_mirror.__wrapped__(tmp_path)
    if found is None:  # offline: the reason is the first failing download
        assert "cannot read https://raw.githubusercontent.com/" in why
    else:
        assert (found / "MANIFEST.tsv").is_file() and (found / "flannel" / "v0.28.9").is_dir()
    monkeypatch.setenv("K8SNET_UPSTREAM_MIRROR", str(tmp_path / "nothing"))
    with pytest.raises(pytest.skip.Exception, match=r"SKIPPED LOUDLY.*has no MANIFEST\.tsv"):
        planfixtures.require_mirror()
