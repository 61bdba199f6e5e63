"""Binaries from pinned Go modules, built with the `go` command and cached under /var/cache.

`go install M/cmd/x@v` refuses a module whose go.mod has replace directives
(k8s.io/kubernetes has one per staging module, etcd's server one per sibling). Every
build here therefore goes through a small wrapper module that requires the pinned
module and repeats its replace directives: a local path (`./staging/src/k8s.io/api`,
`../api`) becomes that module at the pinned release (`k8s.io/api v0.35.4`), any other
replacement is copied as it is. Builds are static (CGO_ENABLED=0) and reproducible
(-trimpath); the module and build caches live under /var/cache/k8snet-lab/go*.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from .constants import CACHE_DIR
from .pins import RECIPE, GoBuild
from .util import LabError, log, run, tail

BIN_DIR = CACHE_DIR / "bin"
STUBS = Path(__file__).resolve().parent / "stubs"
GO_ENV = {
    "GOPATH": str(CACHE_DIR / "go"),
    "GOMODCACHE": str(CACHE_DIR / "go/pkg/mod"),
    "GOCACHE": str(CACHE_DIR / "go-build"),
    "GOFLAGS": "-modcacherw -buildvcs=false",
    "CGO_ENABLED": "0",
    "GOTOOLCHAIN": "local",
}
HEARTBEAT = 30.0                  # seconds between "still building" lines


def go_env(cgo: bool = False) -> dict[str, str]:
    return {**os.environ, **GO_ENV, "CGO_ENABLED": "1" if cgo else "0"}


def go_version() -> str:
    if not shutil.which("go"):
        raise LabError("the lab cluster is built with the go command, which is missing: install Go 1.26 "
                       "(the machine kind of this project has it)")
    return run("go", "env", "GOVERSION").stdout.strip()


def build_key(build: GoBuild, go: str) -> str:
    stubs = {d: sorted((str(f.relative_to(STUBS)), hashlib.sha256(f.read_bytes()).hexdigest())
                       for f in (STUBS / d).rglob("*") if f.is_file()) for d in build.stubs.values()}
    blob = json.dumps({"spec": build.spec(), "go": go, "recipe": RECIPE, "stubs": stubs}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def build_dir(build: GoBuild, go: str) -> Path:
    return BIN_DIR / f"{build.name}-{build.version}-{build_key(build, go)}"


def complete(path: Path, build: GoBuild) -> bool:
    return (path / ".done").exists() and all((path / b).is_file() for b in build.binaries)


# ---------------------------------------------------------------- the wrapper module

_REPLACE_LINE = re.compile(r"^\s*(?:replace\s+)?(\S+)(?:\s+(\S+))?\s+=>\s+(\S+)(?:\s+(\S+))?\s*$")


def replaces(gomod: str) -> list[tuple[str, str, str | None]]:
    """(old module, new module or local path, new version or None) of every replace directive."""
    found, block = [], False
    for raw in gomod.splitlines():
        line = raw.split("//", 1)[0].rstrip()
        if re.match(r"^replace\s*\($", line):
            block = True
            continue
        if block and line.strip() == ")":
            block = False
            continue
        if (block or line.startswith("replace ")) and (m := _REPLACE_LINE.match(line)):
            found.append((m.group(1), m.group(3), m.group(4)))
    return found


def wrapper_gomod(build: GoBuild, upstream_gomod: str) -> str:
    """go.mod of the wrapper: require the pinned module, repeat its replaces (local paths pinned)."""
    lines = ["module k8snet.lab/build/" + build.name, "", "go 1.25", "",
             f"require {build.module} {build.version}", ""]
    rules = []
    for old, new, version in replaces(upstream_gomod):
        if new.startswith((".", "/")):
            if "FORBIDDEN" in new:                       # etcd's guard against bad imports: nothing to pin
                continue
            rules.append(f"\t{old} => {old} {build.local_version or build.version}")
        else:
            rules.append(f"\t{old} => {new} {version}" if version else f"\t{old} => {new}")
    rules += [f"\t{module} => {STUBS / directory}" for module, directory in sorted(build.stubs.items())]
    if rules:
        lines += ["replace (", *rules, ")", ""]
    return "\n".join(lines)


def wrapper_source(build: GoBuild) -> str:
    imports = "\n".join(f'\t_ "{package(build, pkg)}"' for pkg in build.binaries.values())
    return f"//go:build tools\n\npackage tools\n\nimport (\n{imports}\n)\n"


def package(build: GoBuild, pkg: str) -> str:
    return f"{build.module}/{pkg}" if pkg else build.module


def exec_name(import_path: str) -> str:
    """The file name `go build -o DIR/` gives a main package: its last path element, the one before a major
    version suffix (go.etcd.io/etcd/server/v3 -> server), as the go command names it."""
    parent, _, last = import_path.rpartition("/")
    return parent.rpartition("/")[2] if re.fullmatch(r"v[0-9]+", last) and parent else last


def module_info(module: str, version: str) -> dict:
    """`go mod download -json` of one module (into the module cache): its Dir, GoMod, ..."""
    out = run("go", "mod", "download", "-json", f"{module}@{version}", check=False, timeout=900, env=go_env())
    info = json.loads(out.stdout or "{}")
    if out.returncode != 0 or info.get("Error"):
        raise LabError(f"the Go module proxy does not give {module}@{version}: "
                       f"{info.get('Error') or out.stderr.strip()}")
    return info


def upstream_gomod(build: GoBuild) -> str:
    if build.module in build.stubs:                      # the lab's own module: nothing to download
        return (STUBS / build.stubs[build.module] / "go.mod").read_text()
    return Path(module_info(build.module, build.version)["GoMod"]).read_text()


# ---------------------------------------------------------------- building

def ensure(build: GoBuild) -> Path:
    """The directory holding the build's binaries, built when missing. Prints progress."""
    go = go_version()
    final = build_dir(build, go)
    if complete(final, build):
        return final
    BIN_DIR.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    log(f"building {', '.join(build.binaries)} from {build.module}@{build.version} ({go})")
    work = Path(tempfile.mkdtemp(prefix=f"wrap-{build.name}-", dir=CACHE_DIR))
    out = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=BIN_DIR))
    build_log = CACHE_DIR / f"gobuild-{build.name}.log"
    try:
        (work / "go.mod").write_text(wrapper_gomod(build, upstream_gomod(build)))
        (work / "tools.go").write_text(wrapper_source(build))
        # Not `go mod tidy`: it resolves every platform's imports (flannel's Windows-only backends
        # need modules the proxy does not serve). -mod=mod resolves what linux/amd64 builds need.
        # One `go build` for every binary of the module: its packages compile once, in parallel with the links.
        ldflags = " ".join(("-s", "-w", *build.ldflags, *(['-extldflags "-static"'] if build.cgo else [])))
        packages = {binary: package(build, pkg) for binary, pkg in build.binaries.items()}
        go_run(["go", "build", "-mod=mod", "-trimpath", "-ldflags", ldflags, "-o", f"{out}/", *packages.values()],
               work, build_log, ", ".join(packages), cgo=build.cgo)
        for binary, pkg in packages.items():
            if exec_name(pkg) != binary:
                os.rename(out / exec_name(pkg), out / binary)
        (out / ".done").write_text(json.dumps(build.spec(), indent=1) + "\n")
        shutil.rmtree(final, ignore_errors=True)
        os.rename(out, final)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # the same version built another way (recipe, Go, flags) goes; other versions stay (the support matrix)
    for old in BIN_DIR.glob(f"{build.name}-{build.version}-*"):
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    log(f"  {build.name} done in {time.monotonic() - started:.0f} s -> {final}")
    return final


def go_run(argv: list[str], cwd: Path, build_log: Path, what: str, cgo: bool = False) -> None:
    """Run a go command with its output in the build log and a line of progress every HEARTBEAT s."""
    with open(build_log, "a") as out:
        out.write(f"$ {' '.join(argv)}\n")
        out.flush()
        proc = subprocess.Popen(argv, cwd=cwd, env=go_env(cgo), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    started = time.monotonic()
    done = threading.Event()

    def heartbeat():
        while not done.wait(HEARTBEAT):
            log(f"  still building {what} ({time.monotonic() - started:.0f} s)")
    threading.Thread(target=heartbeat, daemon=True).start()
    try:
        status = proc.wait(timeout=3600)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        proc.wait()
        raise
    finally:
        done.set()
    if status != 0:
        raise LabError(f"{' '.join(argv[:2])} failed for {what} (exit {status}); last lines of {build_log}:\n"
                       f"{tail(build_log)}")



def ensure_pause(kubernetes: GoBuild, pause_version: str) -> Path:
    """The pause binary: C, from the Kubernetes module's build/pause/linux/pause.c, static as upstream builds it."""
    if not shutil.which("gcc"):
        raise LabError("gcc is missing (the pause image is C): apt-get install -y gcc libc6-dev")
    spec = {"module": kubernetes.module, "version": kubernetes.version, "pause": pause_version, "recipe": RECIPE}
    key = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]
    final = BIN_DIR / f"pause-{pause_version}-{key}"
    if (final / ".done").exists():
        return final
    source = Path(module_info(kubernetes.module, kubernetes.version)["Dir"]) / "build/pause/linux/pause.c"
    out = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=BIN_DIR))
    try:
        run("gcc", "-Os", "-Wall", "-Werror", "-static", f"-DVERSION=v{pause_version}", "-o", str(out / "pause"),
            str(source), timeout=120)
        (out / ".done").write_text(json.dumps(spec) + "\n")
        shutil.rmtree(final, ignore_errors=True)
        os.rename(out, final)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    log(f"  built pause {pause_version} from {source.name}")
    return final


def ensure_all(pins) -> dict[str, Path]:
    """Every build of the pins (cached ones are only checked). Returns build name -> its directory."""
    dirs = {name: ensure(build) for name, build in pins.builds.items()}
    dirs["pause"] = ensure_pause(pins.builds["kubernetes"], pins.pause_version)
    return dirs
