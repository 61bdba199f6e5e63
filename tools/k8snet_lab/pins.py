"""What the lab cluster is built from: every Go module, version and image, in one place.

Each build's cache key is the hash of its own entry (plus the Go version and the recipe
revision), so changing one pin rebuilds only what it names. Images carry the names and
tags the pinned upstream manifests use (and kubeadm asks for); the lab registry serves
them under those names with the registry host dropped, the same rule as
`k8s_registry_mirror` (onprem.k8snet's kube.mirror_image).

Kubernetes minors: the newest that runs on this machine is the default (1.37: its kubelet
still starts on cgroup v1 with `failCgroupV1: false`, with Debian's containerd 1.6);
K8SNET_LAB_KUBERNETES=1.35 (or `tools/lab.py create --cluster --kubernetes 1.35`) selects
the older one of the support matrix. pause follows kubeadm's own default for that release
(cmd/kubeadm/app/constants); etcd and CoreDNS are the newest minor's for every minor (kubeadm is told
their tags: ClusterConfiguration's etcd.local.imageTag and dns.imageTag), which spares a cold machine
two builds (about 5 min) for the older minor: the installer never talks to etcd, and CoreDNS only
answers the traffic checks' names.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

RECIPE = 1                      # bump when the way binaries or images are made changes

KUBERNETES = {
    "1.37": {"kubernetes": "v1.37.2", "pause": "3.10.2"},
    "1.35": {"kubernetes": "v1.35.4", "pause": "3.10.1"},
}
# etcd and CoreDNS of every minor: kubeadm 1.37's defaults (see the module's docstring)
ETCD = "v3.7.0"
ETCD_TAG = ETCD.lstrip("v") + "-0"             # the image tag as kubeadm names it
COREDNS = "v1.14.6"
DEFAULT_KUBERNETES = "1.37"
KUBERNETES_ENV = "K8SNET_LAB_KUBERNETES"

# The test workloads' image, whatever the cluster's minor: agnhost from the newest pinned
# Kubernetes module (its test/images/agnhost/VERSION).
AGNHOST = "2.66.1"

# The lab's own module standing in for F5 NGINX Ingress Controller (tools/k8snet_lab/stubs/nginx-ingress)
STANDIN_INGRESS = "k8snet.lab/standin/nginx-ingress"


@dataclass(frozen=True)
class GoBuild:
    """Binaries built with `go build` from one pinned module (through a wrapper module, see gobuild.py)."""
    name: str
    module: str
    version: str
    binaries: dict[str, str]                     # output name -> package inside the module ("" = its root)
    ldflags: tuple[str, ...] = ()
    # replace directives with a local path (k8s.io/kubernetes' staging modules, etcd's siblings)
    # become requirements of that module at this version
    local_version: str = ""
    cgo: bool = False                            # C parts (flannel's udp backend): static, as upstream links it
    # modules the proxy does not serve, replaced by a stand-in in tools/k8snet_lab/stubs/<dir>
    stubs: dict[str, str] = field(default_factory=dict)
    note: str = ""

    def spec(self) -> dict:
        return {"module": self.module, "version": self.version, "binaries": self.binaries,
                "ldflags": list(self.ldflags), "local_version": self.local_version, "stubs": self.stubs,
                "cgo": self.cgo}


def _k8s_version_ldflags(version: str) -> tuple[str, ...]:
    major, minor = version.lstrip("v").split(".")[:2]
    flags = []
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {pkg}.gitVersion={version}", f"-X {pkg}.gitMajor={major}", f"-X {pkg}.gitMinor={minor}",
                  f"-X {pkg}.gitTreeState=clean"]
    return tuple(flags)


def _staging(version: str) -> str:
    """The staging modules' release of a Kubernetes release: v1.35.4 -> v0.35.4."""
    return "v0." + version.lstrip("v").split(".", 1)[1]


def kubernetes_minor(requested: str | None = None) -> str:
    minor = requested or os.environ.get(KUBERNETES_ENV) or DEFAULT_KUBERNETES
    if minor not in KUBERNETES:
        raise ValueError(f"Kubernetes {minor!r} is not in the lab's pin table (tools/k8snet_lab/pins.py): "
                         f"one of {', '.join(sorted(KUBERNETES))}")
    return minor


@dataclass(frozen=True)
class Image:
    """A container image the lab builds and serves: reference as the manifests name it."""
    reference: str                               # e.g. ghcr.io/flannel-io/flannel:v0.28.9
    files: dict[str, str]                        # path in the image -> "build:binary" or "tool:path on the host"
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    base: str = "scratch"                        # scratch | debian (the tools rootfs of images.py)
    # file capabilities (security.capability), path -> capability names, e.g. ("net_bind_service",)
    capabilities: dict[str, tuple[str, ...]] = field(default_factory=dict)
    source: str = ""                             # what it is built from, as a label
    note: str = ""

    @property
    def path(self) -> str:
        """The reference without its registry: the name in the lab registry."""
        first, _, rest = self.reference.partition("/")
        return rest if rest and ("." in first or ":" in first) else self.reference


@dataclass
class Pins:
    """Everything one lab cluster is built from, for one Kubernetes minor."""
    minor: str
    builds: dict[str, GoBuild] = field(default_factory=dict)
    images: list[Image] = field(default_factory=list)

    @property
    def kubernetes(self) -> str:
        return KUBERNETES[self.minor]["kubernetes"]

    @property
    def pause_version(self) -> str:
        return KUBERNETES[self.minor]["pause"]

    @property
    def pause_image(self) -> Image:
        return next(i for i in self.images if "/pause:" in i.reference)


def pins(minor: str | None = None) -> Pins:
    minor = kubernetes_minor(minor)
    k = KUBERNETES[minor]
    kv = k["kubernetes"]
    newest = KUBERNETES[DEFAULT_KUBERNETES]["kubernetes"]
    cmds = ("kubeadm", "kubelet", "kubectl", "kube-apiserver", "kube-controller-manager", "kube-scheduler",
            "kube-proxy")
    builds = [
        GoBuild("kubernetes", "k8s.io/kubernetes", kv, {c: f"cmd/{c}" for c in cmds},
                ldflags=_k8s_version_ldflags(kv), local_version=_staging(kv)),
        GoBuild("agnhost", "k8s.io/kubernetes", newest, {"agnhost": "test/images/agnhost"},
                local_version=_staging(newest)),
        GoBuild("etcd", "go.etcd.io/etcd/server/v3", ETCD, {"etcd": ""}, local_version=ETCD),
        GoBuild("coredns", "github.com/coredns/coredns", COREDNS, {"coredns": ""}),
        GoBuild("flannel", "github.com/flannel-io/flannel", "v0.28.9",
                {"flanneld": "", "install-conf": "cmd/install_conf"},
                ldflags=("-X github.com/flannel-io/flannel/pkg/version.Version=v0.28.9",), cgo=True,
                stubs={"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc": "tencentcloud-vpc"},
                note="its tencentvpc backend links a stand-in SDK (module not served): stubs/tencentcloud-vpc"),
        # flannel-io/cni-plugin is not served by the Go module proxy here; its flannel plugin
        # started as containernetworking/plugins' plugins/meta/flannel, last released in v0.9.1.
        GoBuild("flannel-cni", "github.com/containernetworking/plugins", "v0.9.1",
                {"flannel": "plugins/meta/flannel"},
                note="stand-in for ghcr.io/flannel-io/flannel-cni-plugin (module not served)"),
        GoBuild("metallb", "go.universe.tf/metallb", "v0.16.1", {"controller": "controller", "speaker": "speaker"}),
        # github.com/nginx/kubernetes-ingress is not served by the Go module proxy here either
        GoBuild("nginx-ingress", STANDIN_INGRESS, "v0.0.0", {"nginx-ingress": ""},
                stubs={STANDIN_INGRESS: "nginx-ingress"},
                note="stand-in for nginx/nginx-ingress (module not served): stubs/nginx-ingress"),
        GoBuild("crane", "github.com/google/go-containerregistry", "v0.22.1", {"crane": "cmd/crane"}),
        GoBuild("registry", "github.com/distribution/distribution/v3", "v3.1.2", {"registry": "cmd/registry"},
                ldflags=("-X github.com/distribution/distribution/v3/version.version=v3.1.2",)),
    ]
    kube = "kubernetes:" + kv
    images = [
        *(Image(f"registry.k8s.io/{c}:{kv}", {f"/usr/local/bin/{c}": f"kubernetes:{c}"}, source=kube,
                base="debian" if c == "kube-proxy" else "scratch")
          for c in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy")),
        Image(f"registry.k8s.io/etcd:{ETCD_TAG}", {"/usr/local/bin/etcd": "etcd:etcd"},
              source=f"go.etcd.io/etcd/server/v3@{ETCD}"),
        Image(f"registry.k8s.io/coredns/coredns:{COREDNS}", {"/coredns": "coredns:coredns"}, ("/coredns",),
              source=f"github.com/coredns/coredns@{COREDNS}"),
        Image(f"registry.k8s.io/pause:{k['pause']}", {"/pause": "pause:pause"}, ("/pause",),
              source=f"k8s.io/kubernetes@{kv} build/pause/linux/pause.c"),
        Image("ghcr.io/flannel-io/flannel:v0.28.9",
              {"/opt/bin/flanneld": "flannel:flanneld", "/opt/bin/install-conf": "flannel:install-conf"},
              ("/opt/bin/flanneld",), base="debian", source="github.com/flannel-io/flannel@v0.28.9"),
        Image("ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3", {"/flannel": "flannel-cni:flannel"},
              base="debian", source="github.com/containernetworking/plugins@v0.9.1 plugins/meta/flannel",
              note="flannel-io/cni-plugin is not served by the module proxy: the plugin it was forked from"),
        Image("quay.io/metallb/controller:v0.16.1", {"/controller": "metallb:controller"}, ("/controller",),
              source="go.universe.tf/metallb@v0.16.1"),
        Image("quay.io/metallb/speaker:v0.16.1", {"/speaker": "metallb:speaker"}, ("/speaker",),
              source="go.universe.tf/metallb@v0.16.1"),
        # user 101 binds port 80 through a file capability, as the upstream image's nginx does
        Image("nginx/nginx-ingress:5.5.4", {"/nginx-ingress": "nginx-ingress:nginx-ingress"}, ("/nginx-ingress",),
              capabilities={"/nginx-ingress": ("net_bind_service",)}, source="tools/k8snet_lab/stubs/nginx-ingress",
              note="stand-in: github.com/nginx/kubernetes-ingress is not served by the module proxy"),
        Image(f"registry.k8s.io/e2e-test-images/agnhost:{AGNHOST}", {"/agnhost": "agnhost:agnhost"}, ("/agnhost",),
              cmd=("pause",), base="debian", source=f"k8s.io/kubernetes@{newest} test/images/agnhost"),
    ]
    return Pins(minor, {b.name: b for b in builds}, images)
