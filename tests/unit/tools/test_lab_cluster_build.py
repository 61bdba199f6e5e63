"""The lab cluster's build and configuration logic (tools/k8snet_lab), without building or booting anything."""

from __future__ import annotations

import dataclasses
import io
import sys
import tarfile

import pytest
import yaml
from ansible_collections.onprem.k8snet.plugins.module_utils import kube

from tests.unit.planfixtures import REPO, build_component, make_plan

sys.path.insert(0, str(REPO / "tools"))

from k8snet_lab import cluster, gobuild, images, layout, pins, registry, router

K8S_GOMOD = """module k8s.io/kubernetes

go 1.25.0

require (
\tgithub.com/foo/bar v1.2.3
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/client-go => ./staging/src/k8s.io/client-go // the staging copy
\tgithub.com/old/thing v1.0.0 => github.com/new/thing v1.1.0
)

replace go.etcd.io/etcd => ./FORBIDDEN_DEPENDENCY
replace github.com/single => github.com/fork/single v0.2.0
"""


def test_replaces_reads_blocks_single_lines_and_comments():
    assert gobuild.replaces(K8S_GOMOD) == [
        ("k8s.io/api", "./staging/src/k8s.io/api", None),
        ("k8s.io/client-go", "./staging/src/k8s.io/client-go", None),
        ("github.com/old/thing", "github.com/new/thing", "v1.1.0"),
        ("go.etcd.io/etcd", "./FORBIDDEN_DEPENDENCY", None),
        ("github.com/single", "github.com/fork/single", "v0.2.0"),
    ]


def test_wrapper_pins_local_replacements_and_keeps_the_others():
    build = pins.pins("1.35").builds["kubernetes"]
    gomod = gobuild.wrapper_gomod(build, K8S_GOMOD)
    assert "require k8s.io/kubernetes v1.35.4" in gomod
    assert "\tk8s.io/api => k8s.io/api v0.35.4" in gomod
    assert "\tk8s.io/client-go => k8s.io/client-go v0.35.4" in gomod
    assert "\tgithub.com/old/thing => github.com/new/thing v1.1.0" in gomod
    assert "\tgithub.com/single => github.com/fork/single v0.2.0" in gomod
    assert "FORBIDDEN" not in gomod


def test_etcd_siblings_are_pinned_at_etcds_own_release():
    build = pins.pins("1.37").builds["etcd"]
    gomod = gobuild.wrapper_gomod(build, "replace go.etcd.io/etcd/api/v3 => ../api\n")
    assert "\tgo.etcd.io/etcd/api/v3 => go.etcd.io/etcd/api/v3 v3.7.0" in gomod


def test_every_minor_runs_the_newest_etcd_and_coredns_and_tells_kubeadm_their_tags():
    newest, older = pins.pins("1.37"), pins.pins("1.35")
    assert older.builds["etcd"].spec() == newest.builds["etcd"].spec()            # one build (one cache entry)
    assert older.builds["coredns"].spec() == newest.builds["coredns"].spec()
    config = cluster.kubeadm_init_config(older, "node1", "192.168.56.11", "abcdef.0123456789abcdef", {
        "k8s_pod_cidr": "10.244.0.0/16", "k8s_service_cidr": "10.96.0.0/12", "k8s_nodeport_range": "30000-32767",
        "k8s_node_pod_prefix": "24"})
    assert "kubernetesVersion: v1.35.4" in config
    assert "etcd:\n  local:\n    imageTag: 3.7.0-0\n" in config and "dns:\n  imageTag: v1.14.6\n" in config
    assert {"registry.k8s.io/etcd:3.7.0-0", "registry.k8s.io/coredns/coredns:v1.14.6"} <= {
        i.reference for i in older.images}


def test_the_file_names_one_go_build_gives_every_pinned_binary_are_known():
    assert gobuild.exec_name("k8s.io/kubernetes/cmd/kubeadm") == "kubeadm"
    assert gobuild.exec_name("go.etcd.io/etcd/server/v3") == "server"            # a major version suffix
    assert gobuild.exec_name("github.com/distribution/distribution/v3/cmd/registry") == "registry"
    assert gobuild.exec_name("github.com/flannel-io/flannel") == "flannel"
    # the binaries of one build land under distinct names (they are renamed to the pinned ones afterwards)
    for minor in pins.KUBERNETES:
        for build in pins.pins(minor).builds.values():
            names = [gobuild.exec_name(gobuild.package(build, pkg)) for pkg in build.binaries.values()]
            assert len(set(names)) == len(names), build.name


def test_a_stub_replaces_the_unserved_module_with_the_projects_directory():
    build = pins.pins("1.37").builds["flannel"]
    gomod = gobuild.wrapper_gomod(build, "")
    stub = gobuild.STUBS / "tencentcloud-vpc"
    assert f"\tgithub.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc => {stub}" in gomod
    assert (stub / "go.mod").read_text().count("module github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc")


def test_wrapper_imports_every_binary_package():
    source = gobuild.wrapper_source(pins.pins().builds["flannel"])
    assert '_ "github.com/flannel-io/flannel"' in source
    assert '_ "github.com/flannel-io/flannel/cmd/install_conf"' in source
    assert source.startswith("//go:build tools\n")


def test_a_changed_pin_changes_only_its_own_cache_key():
    before = pins.pins()
    keys = {name: gobuild.build_key(b, "go1.26.8") for name, b in before.builds.items()}
    changed = dataclasses.replace(before.builds["metallb"], version="v0.16.2")
    assert gobuild.build_key(changed, "go1.26.8") != keys["metallb"]
    assert {name: gobuild.build_key(b, "go1.26.8") for name, b in pins.pins().builds.items()} == keys
    assert gobuild.build_key(before.builds["crane"], "go1.27.0") != keys["crane"]      # a new Go rebuilds


@pytest.mark.parametrize("minor", sorted(pins.KUBERNETES))
def test_kubeadms_images_are_in_the_table(minor):
    table = pins.pins(minor)
    k = pins.KUBERNETES[minor]
    refs = {image.reference for image in table.images}
    expected = {f"registry.k8s.io/{c}:{k['kubernetes']}"
                for c in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy")}
    expected |= {f"registry.k8s.io/etcd:{pins.ETCD[1:]}-0", f"registry.k8s.io/coredns/coredns:{pins.COREDNS}",
                 f"registry.k8s.io/pause:{k['pause']}"}
    assert expected <= refs
    for image in table.images:
        for ref in image.files.values():
            assert ref.split(":")[0] in (*table.builds, "pause"), (image.reference, ref)


def test_minor_is_chosen_by_one_variable(monkeypatch):
    monkeypatch.delenv(pins.KUBERNETES_ENV, raising=False)
    assert pins.pins().minor == pins.DEFAULT_KUBERNETES == "1.37"
    monkeypatch.setenv(pins.KUBERNETES_ENV, "1.35")
    assert pins.pins().kubernetes == "v1.35.4"
    monkeypatch.setenv(pins.KUBERNETES_ENV, "1.20")
    with pytest.raises(ValueError, match=r"1\.20.*one of 1\.35, 1\.37"):
        pins.pins()


def test_registry_names_are_the_projects_mirror_rewriting():
    """The lab registry stores an image where k8s_registry_mirror (kube.mirror_image) sends it."""
    for image in pins.pins().images:
        assert kube.mirror_image(image.reference, registry.REGISTRY) == f"{registry.REGISTRY}/{image.path}"


def project_images(bundle) -> set[str]:
    return {c["image"] for obj in bundle.objects for c in kube.containers(obj) if c.get("image")}


@pytest.mark.upstream
def test_the_lab_serves_every_image_flannel_metallb_and_the_f5_ingress_controller_name():
    served = {image.reference for image in pins.pins().images}
    plan = make_plan(ingress={"controller": "nginx"})
    for component in ("flannel", "metallb", "ingress"):
        missing = project_images(build_component(component, plan)) - served
        assert not missing, (component, missing)


def test_the_f5_ingress_image_is_the_lab_stand_in_and_says_so():
    """nginx/nginx-ingress is built from the lab's own module (the real one is not served): labelled, not hidden."""
    image = next(i for i in pins.pins().images if i.reference == "nginx/nginx-ingress:5.5.4")
    assert "stand-in" in image.note and image.source == "tools/k8snet_lab/stubs/nginx-ingress"
    build = pins.pins().builds["nginx-ingress"]
    assert build.module == pins.STANDIN_INGRESS and build.stubs == {pins.STANDIN_INGRESS: "nginx-ingress"}
    assert image.capabilities == {"/nginx-ingress": ("net_bind_service",)}


def test_a_file_capability_is_the_kernels_vfs_cap_data_and_rides_in_the_layer(tmp_path):
    import tarfile

    from k8snet_lab import images

    value = images.file_capability(("net_bind_service",))
    # magic: revision 2 | effective; permitted low word: bit 10 (CAP_NET_BIND_SERVICE); the rest 0
    assert value == bytes.fromhex("01000002" "00040000" "00000000" "00000000" "00000000")
    binary = tmp_path / "bin"
    binary.write_bytes(b"x")
    layer = images.files_layer(tmp_path / "l.tar", {"/bin": binary}, skeleton=False,
                               capabilities={"/bin": ("net_bind_service",)})
    with tarfile.open(layer) as tar:
        record = tar.getmember("bin").pax_headers["SCHILY.xattr.security.capability"]
    assert record.encode("utf-8", "surrogateescape") == value
    with pytest.raises(Exception, match="unknown capability"):
        images.file_capability(("sys_admin_typo",))


def test_network_settings_read_the_lab_inventory_or_the_defaults(tmp_path):
    assert cluster.network_settings() == cluster.NETWORK_DEFAULTS        # the lab inventory sets none of them
    custom = tmp_path / "network.yml"
    custom.write_text("---\nk8s_pod_cidr: 10.32.0.0/16  # pods\nk8s_nodeport_range: '30000-31000'\n")
    got = cluster.network_settings(custom)
    assert got["k8s_pod_cidr"] == "10.32.0.0/16" and got["k8s_nodeport_range"] == "30000-31000"
    assert got["k8s_service_cidr"] == "10.96.0.0/12"


def test_kubeadm_init_config_puts_everything_on_the_bridge_address():
    docs = list(yaml.safe_load_all(cluster.kubeadm_init_config(
        pins.pins("1.35"), "node1", "192.168.56.11", "abcdef.0123456789abcdef", cluster.NETWORK_DEFAULTS)))
    init, config, kubelet, proxy = docs
    assert init["localAPIEndpoint"]["advertiseAddress"] == "192.168.56.11"
    assert {"name": "node-ip", "value": "192.168.56.11"} in init["nodeRegistration"]["kubeletExtraArgs"]
    assert config["kubernetesVersion"] == "v1.35.4"
    assert config["networking"] == {"podSubnet": "10.244.0.0/16", "serviceSubnet": "10.96.0.0/12"}
    assert {"name": "service-node-port-range", "value": "30000-32767"} in config["apiServer"]["extraArgs"]
    assert kubelet["failCgroupV1"] is False and kubelet["cgroupDriver"] == "cgroupfs"
    assert proxy["conntrack"]["maxPerCore"] == 0
    join = yaml.safe_load(cluster.kubeadm_join_config("node2", "192.168.56.12", "192.168.56.11:6443", "t.t",
                                                      "sha256:x"))
    assert {"name": "node-ip", "value": "192.168.56.12"} in join["nodeRegistration"]["kubeletExtraArgs"]


def test_containerd_pulls_every_registry_from_the_lab_registry():
    own = registry.hosts_toml(None)
    assert own.startswith('server = "http://192.168.56.3:5000"')
    mirror = registry.hosts_toml("ghcr.io")
    assert mirror.startswith('server = "https://ghcr.io"') and '[host."http://192.168.56.3:5000"]' in mirror
    config = cluster.containerd_config(pins.pins("1.35"))
    assert 'sandbox_image = "registry.k8s.io/pause:3.10.1"' in config
    assert "restrict_oom_score_adj = true" in config


def test_files_layer_is_reproducible_and_executable(tmp_path):
    binary = tmp_path / "speaker"
    binary.write_bytes(b"\x7fELF...")
    first = images.files_layer(tmp_path / "a.tar", {"/speaker": binary}, skeleton=True).read_bytes()
    second = images.files_layer(tmp_path / "b.tar", {"/speaker": binary}, skeleton=True).read_bytes()
    assert first == second
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["speaker"].mode == 0o755 and members["tmp"].mode == 0o1777
    assert {"etc/passwd", "etc/group", "etc/nsswitch.conf"} <= set(members)
    assert all(m.mtime == 0 and m.uid == 0 for m in members.values())


def test_verifys_test_image_is_the_agnhost_the_lab_builds():
    defaults = yaml.safe_load((REPO / "roles/verify/defaults/main.yml").read_text())
    assert defaults["verify_image"] == f"registry.k8s.io/e2e-test-images/agnhost:{pins.AGNHOST}"
    assert defaults["verify_image"] in {image.reference for image in pins.pins().images}


def test_the_lab_router_peers_with_every_node_of_the_bgp_inventory_and_routes_what_they_announce():
    nodes = [cfg["address"] for cfg in layout.lab_plan("vagrant", 3)["nodes"].values()]
    conf = router.bgpd_conf(nodes)
    for address in nodes:                                  # a neighbor each: no listen range (see bgpd_conf)
        assert f" neighbor {address} peer-group speakers\n" in conf
    assert "listen range" not in conf and "maximum-paths 8" in conf and " no bgp ebgp-requires-policy\n" in conf
    group_vars = yaml.safe_load((REPO / "inventory/lab-bgp/group_vars/k8s_cluster/network.yml").read_text())
    (peer,) = group_vars["metallb_bgp_peers"]
    assert (peer["address"], peer["asn"], peer["my_asn"]) == (router.ROUTER_IP, router.ROUTER_ASN, router.SPEAKER_ASN)
    assert f" neighbor speakers remote-as {peer['my_asn']}\n" in conf and f"router bgp {peer['asn']}\n" in conf
    (pool,) = group_vars["metallb_pools"]
    assert pool["mode"] == "bgp" and pool["addresses"] == [router.BGP_POOL]
    assert router.ROUTER_IP != registry.REGISTRY_IP                       # both on the lab bridge
