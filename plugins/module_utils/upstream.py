"""Pinned upstream manifests: where each file comes from, the controller cache, sha256 verification.

A pin names one file of one upstream release: ``{project, version, path, sha256, url}``.
``url`` is optional; by default it is the tag-pinned raw.githubusercontent.com address of
the project's repository. With a mirror (base URL or local directory) the file is taken from
``<mirror>/<project>/<version>/<path>`` instead, the layout of a plain copy of the releases.

Files are cached on the controller under ``<cache_dir>/<project>/<version>/<path>``. A cached
file is used only when its sha256 matches the pin; everything else is downloaded to a temporary
file next to the final path, verified, and only then renamed into place, so a wrong or
truncated download never reaches the cache.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass, field
from urllib.parse import quote

from ansible.module_utils.urls import open_url

# The GitHub repository of each project, for the default (tag-pinned) download URL.
UPSTREAM_REPOS = {
    "flannel": "flannel-io/flannel",
    "metallb": "metallb/metallb",
    "nginx-ingress": "nginx/kubernetes-ingress",
    "ingress-nginx": "kubernetes/ingress-nginx",
    "nginx-gateway-fabric": "nginx/nginx-gateway-fabric",
    "gateway-api": "kubernetes-sigs/gateway-api",
}
RAW_BASE = "https://raw.githubusercontent.com"
DEFAULT_TIMEOUT = 30
_CHUNK = 1 << 16
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SEGMENT = re.compile(r"^[A-Za-z0-9._-]+$")


class UpstreamError(Exception):
    """One or more pinned files could not be provided; the message lists every one."""


@dataclass(frozen=True)
class Pin:
    project: str
    version: str
    path: str
    sha256: str
    url: str | None = None

    @classmethod
    def from_dict(cls, data: dict) -> Pin:
        missing = [k for k in ("project", "version", "path", "sha256") if not data.get(k)]
        if missing:
            raise UpstreamError(f"pin {data!r} lacks {', '.join(missing)}")
        pin = cls(project=str(data["project"]), version=str(data["version"]), path=str(data["path"]),
                  sha256=str(data["sha256"]).lower(), url=data.get("url") or None)
        pin.check()
        return pin

    def check(self) -> None:
        """Refuse values that would escape the cache or mirror directory, and malformed digests."""
        where = f"pin {self.project}/{self.version}/{self.path}"
        for name in ("project", "version"):
            if not _SEGMENT.match(getattr(self, name)) or getattr(self, name) in (".", ".."):
                raise UpstreamError(f"{where}: {name} {getattr(self, name)!r} must be one path segment")
        parts = self.path.split("/")
        if self.path.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise UpstreamError(f"{where}: path must be relative, without '.', '..' or empty segments")
        if not _SHA256.match(self.sha256):
            raise UpstreamError(f"{where}: sha256 {self.sha256!r} is not 64 hex digits")
        if self.url is None and self.project not in UPSTREAM_REPOS:
            raise UpstreamError(f"{where}: no url given and project {self.project!r} has no known repository "
                                f"(known: {', '.join(sorted(UPSTREAM_REPOS))})")

    @property
    def relpath(self) -> str:
        """The file's place in a mirror and in the cache: ``<project>/<version>/<path>``."""
        return f"{self.project}/{self.version}/{self.path}"

    @property
    def upstream_url(self) -> str:
        if self.url:
            return self.url
        return f"{RAW_BASE}/{UPSTREAM_REPOS[self.project]}/{self.version}/{self.path}"


@dataclass
class FetchResult:
    paths: dict[str, str] = field(default_factory=dict)  # pin path -> local file (paths of one project only)
    by_project: dict[str, dict[str, str]] = field(default_factory=dict)  # project -> pin path -> local file
    sources: dict[str, str] = field(default_factory=dict)  # pin path -> URL it is read from
    downloaded: list[str] = field(default_factory=list)  # pin paths read from their source this time
    cached: list[str] = field(default_factory=list)  # pin paths whose verified cache copy was reused


def default_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "k8snet", "upstream")


def source_url(pin: Pin, mirror: str | None) -> str:
    """Where to read the pinned file: its upstream URL, or the mirror's copy."""
    if not mirror:
        return pin.upstream_url
    rel = quote(pin.relpath)
    if _SCHEME.match(mirror):
        return f"{mirror.rstrip('/')}/{rel}"
    directory = os.path.abspath(os.path.expanduser(mirror))
    return f"file://{quote(directory)}/{rel}"


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _default_opener(url: str, timeout: int, validate_certs: bool):
    return open_url(url, timeout=timeout, validate_certs=validate_certs, follow_redirects="safe")


def _download(url: str, final: str, opener, timeout: int, validate_certs: bool) -> tuple[str, str]:
    """Stream ``url`` into a temporary file beside ``final``; return (temp path, sha256)."""
    os.makedirs(os.path.dirname(final), exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{os.path.basename(final)}.", suffix=".part",
                                dir=os.path.dirname(final))
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            response = opener(url, timeout, validate_certs)
            try:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    digest.update(chunk)
                    out.write(chunk)
            finally:
                response.close()
    except BaseException:
        os.unlink(temp)
        raise
    return temp, digest.hexdigest()


def fetch_one(pin: Pin, mirror: str | None, cache_dir: str, *, opener=None, timeout: int = DEFAULT_TIMEOUT,
              validate_certs: bool = True) -> tuple[str, bool]:
    """Return (local path, downloaded?) for one pin; raise UpstreamError when it cannot be verified."""
    final = os.path.join(cache_dir, *pin.relpath.split("/"))
    stale = None
    if os.path.isfile(final):
        actual = sha256_file(final)
        if actual == pin.sha256:
            return final, False
        # Someone changed the pin or the cache; download again rather than trust either.
        stale = actual
    url = source_url(pin, mirror)
    try:
        temp, actual = _download(url, final, opener or _default_opener, timeout, validate_certs)
    except Exception as exc:  # urllib, ssl, socket and OS errors all end here
        raise UpstreamError(f"{pin.path} ({pin.project} {pin.version}): cannot read {url}: {exc}") from exc
    if actual != pin.sha256:
        os.unlink(temp)
        if stale is not None:
            os.unlink(final)
        raise UpstreamError(f"{pin.path} ({pin.project} {pin.version}): sha256 mismatch for {url}: "
                            f"expected {pin.sha256}, got {actual}; nothing was written to {final}")
    os.chmod(temp, 0o644)
    os.replace(temp, final)
    return final, True


def fetch(pins: list[dict | Pin], mirror: str | None = None, cache_dir: str | None = None, *, opener=None,
          timeout: int = DEFAULT_TIMEOUT, validate_certs: bool = True) -> FetchResult:
    """Provide every pinned file from the cache or its source; errors for all pins are raised together."""
    cache_dir = os.path.abspath(os.path.expanduser(cache_dir or default_cache_dir()))
    result = FetchResult()
    errors: list[str] = []
    owners: dict[str, Pin] = {}
    ambiguous: set[str] = set()
    for item in pins:
        try:
            pin = item if isinstance(item, Pin) else Pin.from_dict(item)  # from_dict checks
            if isinstance(item, Pin):
                pin.check()
        except UpstreamError as exc:
            errors.append(str(exc))
            continue
        other = owners.setdefault(pin.path, pin)
        if other.project == pin.project and other.relpath != pin.relpath:
            errors.append(f"{pin.path}: {pin.project} is pinned at both {other.version} and {pin.version}")
            continue
        if other.project != pin.project:
            ambiguous.add(pin.path)  # e.g. deploy/crds.yaml of nginx-ingress and of NGINX Gateway Fabric
        try:
            path, downloaded = fetch_one(pin, mirror, cache_dir, opener=opener, timeout=timeout,
                                         validate_certs=validate_certs)
        except UpstreamError as exc:
            errors.append(str(exc))
            continue
        result.by_project.setdefault(pin.project, {})[pin.path] = path
        result.paths[pin.path] = path
        result.sources[pin.path] = source_url(pin, mirror)
        (result.downloaded if downloaded else result.cached).append(pin.path)
    if errors:
        raise UpstreamError("\n".join(errors))
    for path in ambiguous:  # only by_project can say which project's file is meant
        result.paths.pop(path, None)
        result.sources.pop(path, None)
    return result
