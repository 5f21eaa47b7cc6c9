"""Seed 1.3 registry checks fed recorded daemon.json bytes, dockerd versions and registry answers that are broken."""
import codecs
import datetime
import hashlib
import ipaddress
import json
import subprocess

import pytest

from conformance.judges import registry as judge
from conformance.profiles import DAEMON_JSON, profiles
from conformance import probes
from conformance.evidence import Evidence
from judged import message
from tests.unit.test_probes import ReadingTarget, RecordedHost, Result

HUB = profiles()["engine"]["hub_index"]
PATH = DAEMON_JSON
DIGEST = "sha256:e7aeafa2b5a08ccfa87223f3051177c2d794588fa5a50f29eed0d5f74ed36ea1"
V20, V25 = (20, 10, 24), (25, 0, 3)
MIRROR = b'{"registry-mirrors": ["http://10.0.0.5:5000"]}'
MOBY_INFO = {"IndexServerAddress": HUB, "RegistryConfig": {
    "Mirrors": ["http://10.0.0.5:5000/"],
    "IndexConfigs": {"docker.io": {"Name": "docker.io", "Mirrors": ["http://10.0.0.5:5000/"], "Secure": True,
                                   "Official": True}}}}
# Podman 4's compat GET /info (pkg/api/handlers/compat/info.go): IndexServerAddress is "", RegistryConfig.Mirrors
# is always [] and IndexConfigs comes from registries.conf, here docker.io with a mirror and no Official flag.
PODMAN_INFO = {"ServerVersion": "4.9.3", "Driver": "overlay", "CgroupDriver": "systemd", "IndexServerAddress": "",
               "RegistryConfig": {"Mirrors": [], "IndexConfigs": {"docker.io": {
                   "Name": "docker.io", "Mirrors": ["mirror.example:5000"], "Secure": True}}}}
V2_OK = (200, {"docker-distribution-api-version": "registry/2.0", "content-type": "application/json"}, "{}")
WEB_200 = (200, {"content-type": "text/html"}, "<html><title>Directory listing for /v2/</title></html>")
HTML_404 = (404, {"content-type": "text/html"}, "<html><title>Error response</title>404 File not found</html>")


def configured(raw, version=V25, flags=()):
    return judge.mirror_configured(PATH, raw, version, list(flags), ())


@pytest.mark.red("registry.default-hub")
def test_other_default_index_fails():
    assert judge.default_hub(MOBY_INFO, HUB).ok
    assert "registry.example.org" in message(judge.default_hub({**MOBY_INFO, "IndexServerAddress": "https://registry.example.org/v1/"}, HUB))


@pytest.mark.red("registry.default-hub")
def test_podman_compat_info_fails_default_hub():
    """No Moby engine can fail default-hub (constants, by construction); Podman's compat /info does."""
    text = message(judge.default_hub(PODMAN_INFO, HUB))
    assert "IndexServerAddress (empty)" in text and "official: None" in text


@pytest.mark.red("registry.default-hub")
def test_hub_mirrors_differing_from_the_daemons_fail():
    info = {**MOBY_INFO, "RegistryConfig": {**MOBY_INFO["RegistryConfig"], "Mirrors": ["http://other:5000/"]}}
    assert "RegistryConfig.Mirrors ['http://other:5000/']" in message(judge.default_hub(info, HUB))


@pytest.mark.red("registry.mirror-configured")
def test_daemon_json_missing_malformed_or_without_mirror_fails():
    assert configured(b'{"registry-mirrors": ["http://f1361db2.m.daocloud.io"]}').ok
    assert "does not exist" in message(configured(None))
    assert "line 3 column 1" in message(configured(b'{\n  "registry-mirrors": ["http://m"],\n}'))
    assert "registry-mirrors []" in message(configured(b'{"log-driver": "json-file"}'))
    assert "not a list of strings" in message(configured(b'{"registry-mirrors": "http://m"}'))


@pytest.mark.red("registry.mirror-configured")
@pytest.mark.parametrize("raw, why", [
    (b'// the mirror\n{"registry-mirrors": ["http://m"]}', "line 1 column 1"),           # no comments
    (b'{"registry-mirrors": ["http://m"], "max-concurrent-downloads": NaN}', "NaN is not JSON"),
    (b'{"registry-mirrors": ["http://m"], "x": Infinity}', "Infinity is not JSON"),
    (b'["http://m"]', "top level is a JSON list"),
    (b'{"registry-mirrors": ["http://m"]} }', "invalid character after top-level value"),  # >= 23: json.Unmarshal
    (b'{"registry-mirrors": ["http://m\xff"]}', "invalid UTF-8"),                          # >= 23: UTF8Validator
    (b'{"Registry-Mirrors": ["http://m"]}', "don't match any configuration option: Registry-Mirrors"),
])
def test_encoding_json_refuses_what_python_accepts_or_ignores(raw, why):
    assert why in message(configured(raw))


def test_last_duplicate_key_wins_and_null_is_empty():
    assert "missing ['http://m']" in message(judge.mirror_configured(
        PATH, b'{"registry-mirrors": ["http://m"], "registry-mirrors": []}', V25, [], ("http://m",)))
    assert judge.mirror_configured(PATH, b'{"registry-mirrors": [], "registry-mirrors": ["http://m"]}', V25, [],
                                   ("http://m",)).ok
    assert "registry-mirrors []" in message(configured(b"null"))


@pytest.mark.red("registry.mirror-configured")
def test_bom_and_blank_file_by_dockerd_version():
    """dockerd 20.10 refuses a UTF-8 BOM and a blank file (EOF); >= 23.0 decodes the BOM and reads blank as {}."""
    for bom in (codecs.BOM_UTF8 + MIRROR, codecs.BOM_UTF16_LE + MIRROR.decode().encode("utf-16-le")):
        assert configured(bom, V25).ok
    assert "BOM" in message(configured(codecs.BOM_UTF8 + MIRROR, V20))
    assert "EOF" in message(configured(b" \n\t", V20))
    assert "registry-mirrors []" in message(configured(b" \n\t", V25))
    assert configured(MIRROR + b"\n}", V20).ok  # json.Decoder reads the first value; the rest is never looked at
    assert "differently" in message(configured(codecs.BOM_UTF8 + MIRROR, ()))  # version unknown: both readings
    assert configured(MIRROR, ()).ok
    assert judge.dockerd_version("Docker version 20.10.24+dfsg1, build 297e128") == V20
    assert judge.dockerd_version("sh: 1: dockerd: not found") == ()


@pytest.mark.red("registry.mirror-configured")
@pytest.mark.parametrize("mirror, why", [
    ("172.17.0.1:5000", "no scheme specified"),
    ("://m", "no scheme specified"),
    ("ftp://m", "unsupported scheme 'ftp'"),
    ("http://m:5000/?x=1", "query or fragment"),
    ("http://m:5000/#top", "query or fragment"),
    ("https://user:pw@m", "username/password not allowed in URI 'https://m'"),
    ("http://m:port/", "not a valid URI"),
    # what Python's urlsplit takes and Go's url.Parse refuses (dockerd will not start; lab host, 20.10 and 26.1)
    ("http://mirror.lab.example ", "invalid character ' ' in host name"),
    (" http://172.17.0.1:5000", "is no URL scheme"),
    ("http://m:5000\\t", "invalid control character"),
    ("http://mi rror:5000/", "invalid character ' ' in host name"),
])
def test_validate_mirror_as_moby(mirror, why):
    text = message(configured(f'{{"registry-mirrors": ["http://ok:5000", "{mirror}"]}}'.encode()))
    assert "dockerd refuses it at its next start" in text and why in text


def test_mirrors_dockerd_accepts():
    for mirror in ("HTTP://m:5000", "https://m/path/", "http://m//", "http://m/?", "http://m/#", "http://[::1]:5000/",
                   "https://mirror.example/hub/v2 space"):
        assert judge.validate_mirror(mirror) is None, mirror


@pytest.mark.red("registry.mirror-configured")
def test_a_file_dockerd_validate_refuses_fails_though_its_mirrors_are_valid():
    """"max-file": 3 in log-opts (a number where dockerd wants a string) stops dockerd's next start."""
    refusal = ("unable to configure the Docker daemon with file /etc/docker/daemon.json: json: cannot unmarshal number "
               "into Go struct field Config.CommonConfig.LogConfig.log-opts of type string")
    assert judge.mirror_configured(PATH, MIRROR, V25, [], ("http://10.0.0.5:5000",)).ok
    text = message(judge.mirror_configured(PATH, MIRROR, V25, [], ("http://10.0.0.5:5000",), refusal))
    assert "dockerd refuses it at its next start: dockerd --validate: unable to configure" in text


# dockerd --validate run by a login in the docker group (not root) on a trixie lab host whose dockerd listens with
# --tlsverify: its TLS key is 0400 root, which dockerd (root) reads and the login may not. dockerd runs with the file.
TLS_KEY_DENIED = ('invalid TLS configuration: Error reading X509 key pair (cert: "/etc/docker/tls/server-cert.pem", '
                  'key: "/etc/docker/tls/server-key.pem"): open /etc/docker/tls/server-key.pem: permission denied. '
                  "Make sure the key is not encrypted.")


def test_a_validate_the_login_may_not_read_for_is_no_refusal_of_the_file():
    assert judge.validate_denied(TLS_KEY_DENIED) == "/etc/docker/tls/server-key.pem"
    assert judge.validate_denied("open /etc/docker/daemon.json: Operation not permitted") == "/etc/docker/daemon.json"
    for refusal in (None, "", "unable to configure the Docker daemon with file /etc/docker/daemon.json: json: cannot "
                    "unmarshal number into Go struct field Config.CommonConfig.LogConfig.log-opts of type string"):
        assert judge.validate_denied(refusal) is None


# The manifest of hello-world:latest as the lab registry serves it, and its digest (what dockerd records in RepoDigests).
HELLO_MANIFEST = ('{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":'
                  '{"mediaType":"application/vnd.docker.container.image.v1+json","size":1,"digest":"sha256:00"}}')


def test_a_manifest_without_docker_content_digest_is_judged_on_its_own_digest():
    digest = judge.manifest_digest(HELLO_MANIFEST)
    assert digest == "sha256:" + hashlib.sha256(HELLO_MANIFEST.encode()).hexdigest()
    assert judge.serves_pulls({"http://m/v2/library/hello-world/manifests/latest": (200, digest, "")},
                              [f"hello-world@{digest}"]).ok
    assert not judge.serves_pulls({"http://m/v2/library/hello-world/manifests/latest": (200, digest, "")},
                                  [f"hello-world@{DIGEST}"]).ok  # another manifest than the one pulled
    assert judge.manifest_digest("") is None


# The trixie lab host's docker.service runs `/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock`;
# with "hosts" added to its daemon.json (no restart), `dockerd --validate --config-file` alone said "configuration OK"
# and `systemctl restart docker` failed: "the following directives are specified both as a flag and in the
# configuration file: hosts: (from flag: [fd://], from file: [unix:///var/run/docker.sock])".
SYSTEMD_ARGV = ("/usr/sbin/dockerd", "-H", "fd://", "--containerd=/run/containerd/containerd.sock")
WITH_HOSTS = b'{"registry-mirrors": ["http://10.0.0.5:5000"], "hosts": ["unix:///var/run/docker.sock"]}'


@pytest.mark.red("registry.mirror-configured")
def test_dockerd_validate_runs_with_the_running_dockerds_flags():
    assert probes.validate_argv(SYSTEMD_ARGV, PATH) == [
        "-H", "fd://", "--containerd=/run/containerd/containerd.sock", "--validate", "--config-file", PATH]
    for given in (["--config-file", "/etc/docker/lab.json"], ["--config-file=/etc/docker/lab.json"]):
        assert probes.validate_argv((*SYSTEMD_ARGV, *given), "/etc/docker/lab.json") == [
            "-H", "fd://", "--containerd=/run/containerd/containerd.sock", "--validate", "--config-file",
            "/etc/docker/lab.json"]  # replaced, not twice
    assert probes.validate_argv((), PATH) == ["--validate", "--config-file", PATH]


# A CentOS 7 / Debian host whose unit runs dockerd --exec-opt native.cgroupdriver=... and whose daemon.json gained
# "exec-opts" (kubeadm's guides): 20.10 has no --validate, and its next start is refused.
EXEC_OPT_ARGV = ("/usr/sbin/dockerd", "-H", "fd://", "--exec-opt", "native.cgroupdriver=cgroupfs")
WITH_EXEC_OPTS = b'{"registry-mirrors": ["http://10.0.0.5:5000"], "exec-opts": ["native.cgroupdriver=cgroupfs"]}'


@pytest.mark.red("registry.mirror-configured")
def test_any_key_a_flag_sets_too_fails_as_dockerd_refuses_it():
    expected = ("http://10.0.0.5:5000",)
    text = message(judge.mirror_configured(PATH, WITH_EXEC_OPTS, V20, [], expected, None, EXEC_OPT_ARGV))
    assert ("specified both as a flag and in the configuration file: exec-opts: (from flag: "
            "['native.cgroupdriver=cgroupfs'], from file: ['native.cgroupdriver=cgroupfs'])") in text
    assert not judge.mirror_configured(PATH, b'{"registry-mirrors": ["http://10.0.0.5:5000"], "debug": true}', V20,
                                       [], expected, None, ("dockerd", "-D")).ok  # a shorthand, a bool flag
    for argv, file in ((("dockerd", "--debug", "--containerd=/run/containerd/containerd.sock"), b'"log-level": "warn"'),
                       (("dockerd", "--add-runtime", "crun=/usr/bin/crun"), b'"runtimes": {"runc2": {"path": "runc"}}'),
                       (("dockerd", "--exec-opt=native.cgroupdriver=systemd"), b'"exec-root": "/run/docker"')):
        data = b'{"registry-mirrors": ["http://10.0.0.5:5000"], ' + file + b"}"
        assert judge.mirror_configured(PATH, data, V20, [], expected, None, argv).ok, argv  # other keys; merged


@pytest.mark.red("registry.mirror-configured")
@pytest.mark.parametrize("version", [V20, V25], ids=["20.10", "25.0"])
def test_hosts_in_the_file_and_a_host_flag_fail_as_dockerd_refuses_them(version):
    expected = ("http://10.0.0.5:5000",)
    text = message(judge.mirror_configured(PATH, WITH_HOSTS, version, [], expected, None, SYSTEMD_ARGV))
    assert ("dockerd refuses it at its next start: /etc/docker/daemon.json: the following directives are specified "
            "both as a flag and in the configuration file: hosts: (from flag: ['fd://'], from file: "
            "['unix:///var/run/docker.sock'])") in text
    for flags in (("dockerd", "-Hfd://"), ("dockerd", "--host=fd://"), ("dockerd", "--host", "tcp://0.0.0.0:2375")):
        assert not judge.mirror_configured(PATH, WITH_HOSTS, version, [], expected, None, flags).ok
    assert judge.mirror_configured(PATH, WITH_HOSTS, version, [], expected, None, ("/usr/sbin/dockerd",)).ok
    assert judge.mirror_configured(PATH, MIRROR, version, [], expected, None, SYSTEMD_ARGV).ok


@pytest.mark.red("registry.mirror-configured")
def test_icc_false_with_iptables_false_fails_from_the_file_or_the_flags():
    """verifyDaemonSettings, after --validate has exited: 'You specified --iptables=false with --icc=false'."""
    expected = ("http://10.0.0.5:5000",)

    def judged(keys, argv=SYSTEMD_ARGV):
        raw = b'{"registry-mirrors": ["http://10.0.0.5:5000"]' + b"".join(b', "%s": false' % k for k in keys) + b"}"
        return judge.mirror_configured(PATH, raw, V25, [], expected, None, argv)
    assert "You specified --iptables=false with --icc=false" in message(judged([b"icc", b"iptables"]))
    assert "icc false in the file, iptables false by flag" in message(
        judged([b"icc"], (*SYSTEMD_ARGV, "--iptables=false")))
    assert not judged([], (*SYSTEMD_ARGV, "--icc=false", "--iptables=0")).ok
    assert judged([b"icc"]).ok and judged([b"iptables"]).ok  # daemon-hardened: icc off, iptables on
    assert judged([b"icc"], (*SYSTEMD_ARGV, "--iptables")).ok


def test_a_mirror_path_by_dockerd_version():
    """Refused from 17.12 until 24.0.8 / 25.0 (moby #29650, #46594 and its backport #46944); '/' is no path."""
    assert "takes no path" in message(configured(b'{"registry-mirrors": ["http://172.17.0.1:5000/hub/"]}', V20))
    assert judge.validate_mirror("http://172.17.0.1:5000/", V20) is None
    for accepting in ((24, 0, 8), V25, (26, 1, 5), (17, 9, 1)):
        assert judge.validate_mirror("http://172.17.0.1:5000/hub/", accepting) is None, accepting


def test_flag_mirrors_count_and_conflict_with_the_file():
    assert judge.mirror_configured(PATH, None, V25, ["http://m:5000"], ("http://m:5000",)).ok
    assert "specified both as a flag and in the configuration file" in message(configured(MIRROR, V25, ["http://m"]))


def test_expected_mirror_compared_as_a_url():
    for given in ("http://10.0.0.5:5000/", "HTTP://10.0.0.5:5000", "http://10.0.0.5:5000"):
        assert judge.mirror_configured(PATH, MIRROR, V25, [], (given,)).ok
    assert judge.url_equal("http://m:80/", "http://M") and not judge.url_equal("http://m", "https://m")
    assert "missing ['http://mirror.example']" in message(judge.mirror_configured(PATH, MIRROR, V25, [], ("http://mirror.example",)))


def test_dockerd_normalises_mirrors():
    """One trailing '/' trimmed then '/' added, duplicates dropped after that, order and case kept (loadMirrors)."""
    assert judge.dockerd_mirrors(["http://b:5000", "http://a:5000/", "http://b:5000/", "HTTP://a:5000", "http://c//"]) == [
        "http://b:5000/", "http://a:5000/", "HTTP://a:5000/", "http://c//"]


@pytest.mark.red("registry.mirror-applied")
def test_pending_restart_is_drift():
    assert judge.mirror_applied(PATH, ["http://172.17.0.1:5000"], ["http://172.17.0.1:5000/"]).ok
    text = message(judge.mirror_applied(PATH, ["http://172.17.0.1:5001"], ["http://172.17.0.1:5000/"]))
    assert "drift" in text and "restart or reload pending" in text


@pytest.mark.red("registry.mirror-applied")
def test_duplicates_are_no_drift_but_a_reorder_is():
    assert judge.mirror_applied(PATH, ["http://m:5000", "http://m:5000/"], ["http://m:5000/"]).ok
    assert "drift" in message(judge.mirror_applied(PATH, ["http://a/", "http://b/"], ["http://b/", "http://a/"]))
    assert "drift" in message(judge.mirror_applied(PATH, ["http://m//"], ["http://m/"]))  # only one '/' is trimmed


def test_mirrors_in_use_prefers_the_running_daemon():
    assert judge.mirrors_in_use(["http://a:5000/"], ["http://b:5001"]) == ["http://a:5000/"]
    assert judge.mirrors_in_use([], ["http://b:5001", "http://b:5001/"]) == ["http://b:5001/"]


def test_endpoint_is_the_one_dockerd_derives():
    assert judge.endpoint("http://m:5000/") == "http://m:5000/"
    assert judge.endpoint("https://m/cache/") == "https://m/cache/"
    assert judge.endpoint("HTTP://m:5000/") == "https://HTTP://m:5000/"  # case-sensitive prefix test (R13)


def reachable(*answers):
    ok, seen = judge.speaks_registry(*answers)
    return judge.mirror_reachable({"http://m:5000/": ("http://m:5000/", ok, seen)})


@pytest.mark.red("registry.mirror-reachable")
def test_mirror_down_fails():
    assert reachable(V2_OK).ok
    assert "v2/ -> no answer" in message(reachable((None, {}, "")))
    assert "no mirror" in message(judge.mirror_reachable({}))


@pytest.mark.red("registry.mirror-reachable")
def test_a_dead_extra_mirror_is_reported_the_expected_one_decides():
    # Recorded on a lab host (debian) whose daemon.json lists ["http://172.17.0.1:5009", "http://172.17.0.1:5000"],
    # nothing on 5009, checked with --mirror=http://172.17.0.1:5000: dockerd falls back past the dead first mirror and
    # pulls from the second; mirror-reachable failed before ("v2/ -> no answer") and blocked mirror-serves-pulls.
    dead, lab = "http://172.17.0.1:5009/", "http://172.17.0.1:5000/"
    results = {dead: (dead, *judge.speaks_registry((None, {}, ""))), lab: (lab, *judge.speaks_registry(V2_OK))}
    verdict = judge.mirror_reachable(results, ("http://172.17.0.1:5000",))
    assert verdict.ok and "the expected mirror (http://172.17.0.1:5000/) speaks" in verdict.expected
    assert f"{dead}: v2/ -> no answer (not expected; dockerd falls back past it)" in verdict.found
    # the expected mirror dead fails, a live extra aside
    assert "http://172.17.0.1:5009/: v2/ -> no answer" in message(judge.mirror_reachable(results, ("http://172.17.0.1:5009",)))
    # no mirror expected (or none expected in use): every mirror in use must answer, as before
    assert "each mirror speaks" in message(judge.mirror_reachable(results))
    assert not judge.mirror_reachable(results, ("http://10.0.0.9:5000",)).ok


@pytest.mark.red("registry.mirror-reachable")
def test_web_server_answering_200_is_not_a_registry():
    text = message(reachable(WEB_200, HTML_404))
    assert "v2/ -> 200, no Docker-Distribution-API-Version header" in text
    assert "absent manifest -> 404 text/html, no registry error code" in text
    assert "API-Version 'registry/1.0'" in message(reachable(
        (200, {"docker-distribution-api-version": "registry/1.0"}, ""), HTML_404))


@pytest.mark.red("registry.mirror-reachable")
def test_401_needs_a_challenge():
    assert reachable((401, {"www-authenticate": 'Bearer realm="https://auth.example/token",service="r"'}, "")).ok
    assert reachable((401, {"www-authenticate": 'Basic realm="Registry Realm"'}, "")).ok
    assert "WWW-Authenticate missing" in message(reachable((401, {}, ""), (401, {}, "")))


@pytest.mark.red("registry.mirror-reachable")
def test_registry_error_shape_on_an_absent_manifest():
    unknown = (404, {"content-type": "application/json"},
               '{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}')
    assert reachable((404, {}, "404 page not found"), unknown).ok
    assert reachable((404, {}, ""), (404, {}, '{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')).ok
    assert "code NOT_A_CODE" in message(reachable((404, {}, ""), (404, {}, '{"errors":[{"code":"NOT_A_CODE"}]}')))
    assert "no registry error code" in message(reachable((404, {}, ""), (404, {}, '{"error": "not found"}')))


@pytest.mark.red("registry.mirror-reachable")
def test_upper_case_scheme_probes_what_dockerd_uses():
    """HTTP://h:5000 is accepted by dockerd but pulled from https://HTTP//h:5000/: nothing answers there (R13)."""
    base = judge.endpoint("HTTP://172.17.0.1:5000/")
    assert base == "https://HTTP://172.17.0.1:5000/"  # host "HTTP", empty port: journal shows https://HTTP//...
    text = message(judge.mirror_reachable({"HTTP://172.17.0.1:5000/": (base, *judge.speaks_registry((None, {}, "")))}))
    assert f"(dockerd pulls from {base})" in text and "no answer" in text


@pytest.mark.red("registry.mirror-serves-pulls")
def test_mirror_without_the_pulled_manifest_fails():
    local = [f"hello-world@{DIGEST}"]
    assert judge.serves_pulls({"http://m:5000/v2/...": (200, DIGEST)}, local).ok
    assert "HTTP 404" in message(judge.serves_pulls({"http://m:5000": (404, None)}, local))
    assert "digest sha256:0000" in message(judge.serves_pulls({"http://m:5000": (200, "sha256:0000")}, local))


def test_dockerd_command_line_names_the_config_file_and_flag_mirrors():
    out = ("pid=812\n--- argv\n/usr/sbin/dockerd\n-H\nfd://\n--config-file\n/etc/docker/lab.json\n"
           "--registry-mirror=http://m:5000\n\n--- version\nDocker version 20.10.24+dfsg1, build 5d6db84\n")
    pid, argv, version = probes.parse_dockerd(out)
    assert pid == "812" and version.startswith("Docker version 20.10.24")
    assert judge.flag_values(argv, "--config-file") == ["/etc/docker/lab.json"]
    assert judge.flag_values(argv, "--registry-mirror") == ["http://m:5000"]
    assert probes.parse_dockerd("pid=\n--- version\nsh: dockerd: not found\n") == ("", (), "sh: dockerd: not found")


def test_one_tokenizer_reads_dockerd_flags():
    """flag_values, set_both_ways and the bool flags read one tokenization: long forms, shorthands, attached values."""
    argv = ("dockerd", "-Hfd://", "-H=tcp://h:2375", "-D", "--icc=false", "--label", "a=b", "--debug", "--iptables")
    assert judge.dockerd_flags(argv) == [
        judge.Flag("host", "fd://", "-H=tcp://h:2375"), judge.Flag("host", "tcp://h:2375", "-D"),
        judge.Flag("debug", None, "--icc=false"), judge.Flag("icc", "false", "--label"), judge.Flag("label", None, "a=b"),
        judge.Flag("debug", None, "--iptables"), judge.Flag("iptables", None, None)]
    assert judge.flag_values(argv, "--host") == ["fd://", "tcp://h:2375"] and judge.flag_values(argv, "--label") == ["a=b"]
    assert judge.set_both_ways({"debug": True, "labels": []}, argv) == [
        "debug: (from flag: ['', ''], from file: True)", "labels: (from flag: ['a=b'], from file: [])"]


def test_podman_compat_info_passes_engine_info():
    """engine.info is fixed by construction in Moby, and Podman's compat /info has the four fields too: the
    catalogue says so (by_construction); its red is a recorded answer without them (tests/unit/test_install.py)."""
    from conformance.judges import install
    assert install.engine_info(PODMAN_INFO).ok


# GET /info of a 20.10 engine whose docker.service drop-in sets HTTP_PROXY, HTTPS_PROXY and NO_PROXY.
BEHIND_PROXY = {"HttpProxy": "http://127.0.0.1:3128", "HttpsProxy": "proxy.corp:8443",
                "NoProxy": "localhost, .internal.corp,registry.example:5000,10.0.0.0/8,192.168.1.7,*.lan"}


def test_engine_proxy_chooses_as_gos_net_http_does():
    def via(url):
        return judge.engine_proxy(BEHIND_PROXY, url)
    assert via("http://172.17.0.1:5000/v2/") == "http://127.0.0.1:3128"
    assert via("https://mirror.example/v2/") == "http://proxy.corp:8443"  # no scheme: Go assumes http://
    assert via("http://127.0.0.1:5000/v2/") is None and via("http://localhost:5000/v2/") is None  # never proxied
    assert via("https://a.internal.corp/v2/") is None and via("https://internal.corp/v2/") == "http://proxy.corp:8443"
    assert via("https://registry.example:5000/v2/") is None and via("https://registry.example/v2/") is not None
    assert via("https://sub.registry.example:5000/v2/") is None  # a domain matches its subdomains too
    assert via("http://10.1.2.3:5000/v2/") is None and via("http://192.168.1.7/v2/") is None
    assert via("http://192.168.1.8/v2/") == "http://127.0.0.1:3128"
    assert via("http://box.lan/v2/") is None and via("http://lan/v2/") is not None  # *.lan: subdomains only
    assert judge.engine_proxy({**BEHIND_PROXY, "NoProxy": "*"}, "http://172.17.0.1:5000/v2/") is None
    assert judge.engine_proxy({"HttpsProxy": "http://p:1"}, "http://172.17.0.1:5000/v2/") is None  # http: HttpProxy
    assert judge.engine_proxy({}, "https://mirror.example/v2/") is None


# ---- how dockerd trusts an https mirror's certificate (moby registry.go newTLSConfig, config.go isSecureIndex) ----

INFO_TLS = {"RegistryConfig": {"InsecureRegistryCIDRs": ["127.0.0.0/8"],
                               "IndexConfigs": {"docker.io": {"Name": "docker.io", "Secure": True, "Official": True},
                                                "mirror.corp:5443": {"Name": "mirror.corp:5443", "Secure": False}}}}


def test_plain_http_has_no_tls_trust():
    assert judge.tls_trust(INFO_TLS, "http://10.0.0.5:5000/", ["ca.crt"]) is None
    assert not judge.needs_addresses(INFO_TLS, "http://mirror.example/")


def test_insecure_registries_are_not_verified():
    named = judge.tls_trust(INFO_TLS, "https://mirror.corp:5443/", ["ca.crt"])
    assert not named.verify and "IndexConfigs" in named.why
    loopback_ip = judge.tls_trust(INFO_TLS, "https://127.0.0.1:5443/", [])
    assert not loopback_ip.verify and "127.0.0.0/8" in loopback_ip.why
    resolved = judge.tls_trust(INFO_TLS, "https://localhost:5443/", [], ["127.0.0.1", "::1"])
    assert not resolved.verify and "127.0.0.1" in resolved.why


def test_a_secure_registry_is_verified_with_its_certs_d_files():
    trust = judge.tls_trust(INFO_TLS, "https://mirror.example:5443/", ["b.crt", "a.crt", "client.cert", "client.key",
                                                                       "README"], ["10.1.2.3"])
    assert trust.verify
    assert trust.ca_files == ("/etc/docker/certs.d/mirror.example:5443/a.crt",
                              "/etc/docker/certs.d/mirror.example:5443/b.crt")
    assert trust.client_pair == ("/etc/docker/certs.d/mirror.example:5443/client.cert",
                                 "/etc/docker/certs.d/mirror.example:5443/client.key")
    plain = judge.tls_trust(INFO_TLS, "https://mirror.example/", [])
    assert plain.verify and plain.ca_files == () and plain.client_pair is None and "system's roots" in plain.why


def test_addresses_are_needed_only_for_names_dockerd_would_match_against_insecure_ranges():
    assert judge.needs_addresses(INFO_TLS, "https://mirror.example/")
    assert not judge.needs_addresses(INFO_TLS, "https://10.0.0.5/")  # an IP is matched as it is
    assert not judge.needs_addresses(INFO_TLS, "https://mirror.corp:5443/")  # named in IndexConfigs
    assert not judge.needs_addresses({"RegistryConfig": {"InsecureRegistryCIDRs": []}}, "https://mirror.example/")


# ---- which certificate dockerd's TLS client takes for the host (Go crypto/x509 VerifyHostname, Go >= 1.15) ----

# The hunter's mirror certificate (variant mirror-tls-cn-only): `openssl req -x509 -newkey rsa:2048 -nodes -days 30
# -subj /CN=mirror.lab -keyout key -out crt`, no -addext subjectAltName, as `openssl s_client -connect
# mirror.lab:5443 -servername mirror.lab` prints it. curl --cacert crt answered 200 and mirror-reachable passed
# ("v2/ -> 200"); dockerd refused it and pulled from Docker Hub (engine.hello-world failed with a Hub error).
CN_ONLY = """-----BEGIN CERTIFICATE-----
MIIDCzCCAfOgAwIBAgIUA/VirHO4BmS7UQHzJJ03Jpv/oPAwDQYJKoZIhvcNAQEL
BQAwFTETMBEGA1UEAwwKbWlycm9yLmxhYjAeFw0yNjExMzAwMDA2MjJaFw0yNjEy
MzAwMDA2MjJaMBUxEzARBgNVBAMMCm1pcnJvci5sYWIwggEiMA0GCSqGSIb3DQEB
AQUAA4IBDwAwggEKAoIBAQDfsELUiQ5grMAnVUeCdif4DxTIMrj+sQZE/BDO1Tsl
Q/achRd5cIqGXMGVCDG47cCCNRg5tLefcpf38MoM/r3dYsb7nQPYwzfZgGzu/Zp4
kogKGcYRXWJj+YpdSB3jbwohMEVFmV8OreFaO7D1WIyMJEmWNDOEcct0Xls5yKpu
uTRVxIfjCqYAJUO3GxYNO0DtLGea4oNzhKPx3l8Ic2nvsoZH+TaUGJoumQvn8o6E
wkx0kG7JOg/2ZG6jaqzaVXit8jRAWfXLlP+LD4pj78dksgrOnb7rx53yV6Zw/Cgq
Fd+anWLQsqvXolTG2fhb8iIebRwYyLhUBzqUGmQgQ/GLAgMBAAGjUzBRMB0GA1Ud
DgQWBBSURTBDNkneRY0d9xT0oQq+hPZnOTAfBgNVHSMEGDAWgBSURTBDNkneRY0d
9xT0oQq+hPZnOTAPBgNVHRMBAf8EBTADAQH/MA0GCSqGSIb3DQEBCwUAA4IBAQB8
Bk/rsBkvXzIkMc2+7F6PvvimW1ssmGIrtWSUqjlLFoeFym4a2URN61fd79VIi+HI
TkczJxXXp6dAs808uKp38EGHsu6ouUvsuM9tCxKE+bnlEbIYTOANmMKTHdzB1IZv
sEOi+73Zp9QxJJPE03IeMRUXTzK96060h7al44rR7z8Hs32PERk2G7PRy+wjnl2K
qRwHwvW4GbC9PJomu4Q8FfezEUYXAilyiHRnBkEAuq7LosknsmPCSiN/MIzPNRPy
m0fr4wgiSSVhj0RJorXCbtua2XB3gVcOEHNrntZrG9NRVYGBEnWYknLtCJg/2wnR
sXUIxHVlTfTGqrfCTeR0
-----END CERTIFICATE-----"""
S_CLIENT = ("CONNECTED(00000003)\ndepth=0 CN = mirror.lab\nverify error:num=18:self-signed certificate\n---\n"
            "Certificate chain\n 0 s:CN = mirror.lab\n   i:CN = mirror.lab\n---\nServer certificate\n" + CN_ONLY
            + "\nsubject=CN = mirror.lab\nissuer=CN = mirror.lab\n---\nDONE\n")
MIRROR_TLS = "https://mirror.lab:5443/"


def certificate(common_name, *alt_names):
    """A self-signed certificate (PEM) with that Common Name and, if given, a subjectAltName of alt_names."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
               .serial_number(1).not_valid_before(datetime.datetime(2026, 1, 1))
               .not_valid_after(datetime.datetime(2027, 1, 1)))
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(alt_names)), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


@pytest.mark.red("registry.mirror-reachable")
def test_a_common_name_only_certificate_is_refused_as_dockerd_refuses_it():
    host = RecordedHost(("s_client", Result(0, S_CLIENT)))
    http = probes.Http(host, Evidence("ssh://h", 10), 5)
    pem = http.leaf_certificate(MIRROR_TLS)
    assert "-connect mirror.lab:5443 -servername mirror.lab <" in host.ran[-1]  # nothing sent: the handshake only
    refused = judge.go_hostname_error(pem, "mirror.lab")
    assert refused == "x509: certificate relies on legacy Common Name field, use SANs instead"
    verdict = judge.mirror_reachable({MIRROR_TLS: (MIRROR_TLS, False, f"dockerd refuses its certificate ({refused})")},
                                     ("https://mirror.lab:5443",))
    assert "certificate relies on legacy Common Name field" in message(verdict)


def test_only_the_subject_alt_name_names_the_host_as_in_go():
    from cryptography import x509
    dns, ip = x509.DNSName, x509.IPAddress
    assert judge.go_hostname_error(certificate("x", dns("mirror.lab")), "mirror.lab") is None
    assert judge.go_hostname_error(certificate("x", dns("MIRROR.lab")), "mirror.lab.") is None
    assert judge.go_hostname_error(certificate("x", dns("*.lab")), "mirror.lab") is None
    assert judge.go_hostname_error(certificate("x", dns("*.lab")), "a.mirror.lab") == (
        "x509: certificate is valid for *.lab, not a.mirror.lab")  # '*' is one label only
    assert judge.go_hostname_error(certificate("x", ip(ipaddress.ip_address("10.0.0.5"))), "10.0.0.5") is None
    # a SAN present but not naming the host: Go's other errors, never the Common Name
    assert judge.go_hostname_error(certificate("mirror.lab", dns("other.lab")), "mirror.lab") == (
        "x509: certificate is valid for other.lab, not mirror.lab")
    assert judge.go_hostname_error(certificate("10.0.0.5", dns("m.lab")), "10.0.0.5") == (
        "x509: cannot validate certificate for 10.0.0.5 because it doesn't contain any IP SANs")
    assert judge.go_hostname_error(certificate("10.0.0.5"), "10.0.0.5") == judge.LEGACY_CN  # an IP in the CN too
    assert judge.go_hostname_error(certificate("other.lab"), "mirror.lab") == (
        "x509: certificate is not valid for any names, but wanted to match mirror.lab")


def test_a_certificate_the_target_cannot_read_keeps_the_clients_answer():
    host = RecordedHost(("s_client", Result(127, "neither openssl nor python3 on the target\n")))
    evidence = Evidence("ssh://h", 10)
    assert probes.Http(host, evidence, 5).leaf_certificate(MIRROR_TLS) is None
    assert "not read (rc 127: neither openssl nor python3 on the target)" in evidence.text()
    through = RecordedHost(("s_client", Result(0, S_CLIENT)))
    probes.Http(through, Evidence("ssh://h", 10), 5).leaf_certificate("https://10.0.0.5/", "http://proxy.corp")
    assert "-connect 10.0.0.5:443 -proxy proxy.corp:80 <" in through.ran[-1]  # an IP: no SNI, as Go sends none


# Recorded on lab host h4-trinf (trixie, Docker 26.1) with docker.service and docker.socket stopped: no dockerd, so its
# next start is docker.service's ExecStart, which systemctl show prints unexpanded; /etc/default/docker is all comments.
TRIXIE_STOPPED = ("pid=\n--- argv\n/usr/sbin/dockerd\n-H\nfd://\n--containerd=/run/containerd/containerd.sock\n"
                  "$DOCKER_OPTS\n--- version\nDocker version 26.1.5+dfsg1, build 411e817\n")
DEFAULT_DOCKER = "# Here in Debian, this file is sourced by:\n#   - systemd's docker.service\n"


def busctl(*argv):
    """UNIT_ARGV's answer (busctl --json=short) for a docker.service whose ExecStart is argv."""
    return Result(0, json.dumps({"type": "a(sasbttttuii)", "data": [[argv[0], list(argv), False, 0, 0, 0, 0, 0, 0, 0]]},
                                separators=(",", ":")) + "\n")


@pytest.mark.red("registry.mirror-configured")
def test_dockerd_validate_gets_the_unit_argv_as_systemd_expands_it():
    """Before: dockerd --validate was given a literal '$DOCKER_OPTS' ("dockerd" accepts no argument(s)): failed."""
    host = RecordedHost(("pid=$(systemctl", Result(0, TRIXIE_STOPPED)),
                        ("systemctl show -p Environment",
                         Result(0, "\n--- files\n/etc/default/docker (ignore_errors=yes)\n")),
                        ("cat -- /etc/default/docker", Result(0, DEFAULT_DOCKER)),
                        ("busctl", busctl(*SYSTEMD_ARGV, "$DOCKER_OPTS")), ("base64 -w 0", Result(0, "e30=")))
    config = probes.daemon_config(ReadingTarget(host), Evidence("ssh://h", 10), PATH)
    assert config.argv == SYSTEMD_ARGV and config.pid == ""
    assert probes.validate_argv(config.argv, PATH)[-3:] == ["--validate", "--config-file", PATH]
    options = 'DOCKER_OPTS="--dns 8.8.8.8 --config-file /etc/docker/lab.json"\n; a comment\nOTHER=a b\n'
    env = {**probes.parse_environment("OTHER=x 'LOG=--log-level warn'", file=False),
           **probes.parse_environment(options)}
    assert env == {"OTHER": "a b", "LOG": "--log-level warn",
                   "DOCKER_OPTS": "--dns 8.8.8.8 --config-file /etc/docker/lab.json"}
    argv = ("dockerd", "$DOCKER_OPTS", "--data-root=${ROOT}/d", "$UNSET")
    assert probes.expand_unit_argv(argv, {**env, "ROOT": "/srv"}) == (
        "dockerd", "--dns", "8.8.8.8", "--config-file", "/etc/docker/lab.json", "--data-root=/srv/d")
    denied = Result(1, stderr="cat: /etc/default/docker: Permission denied\n")
    host.answers.append(("cat -- /etc/default/docker", denied))
    host.answers = [a for a in host.answers if a[1].stdout != DEFAULT_DOCKER]
    with pytest.raises(probes.ObserverError):
        probes.daemon_config(ReadingTarget(host), Evidence("ssh://h", 10), PATH)


# Recorded on lab host h3-a (sid, sysvinit, Docker 28.5) stopped by /etc/init.d/docker stop, its /etc/default/docker
# ending in DOCKER_OPTS="--registry-mirror=http://172.17.0.1:5000": no dockerd, no systemd, so the next start is the
# init script's "$DOCKERD" -p "$DOCKER_PIDFILE" $DOCKER_OPTS; then the same read by a login that may not read the file.
SID_STOPPED = ("pid=\nfrom=sysv\n--- argv\n/usr/sbin/dockerd\n-p\n/var/run/docker.pid\n"
               "--registry-mirror=http://172.17.0.1:5000\n--- version\nDocker version 28.5.2+dfsg4, build 3ef3c07c\n")
SID_UNREADABLE = "pid=\nfrom=unreadable\n--- version\nDocker version 28.5.2+dfsg4, build 3ef3c07c\n"


@pytest.mark.red("registry.mirror-configured")
def test_a_sysvinit_start_takes_default_docker_opts():
    """Before: no flags where no dockerd ran and systemd had no unit: the mirror beside DOCKER_OPTS' passed."""
    mirror = b'{"registry-mirrors": ["http://172.17.0.1:5000"]}'
    host = RecordedHost(("pid=$(systemctl", Result(0, SID_STOPPED)), ("base64 -w 0", Result(0, "e30=")))
    config = probes.daemon_config(ReadingTarget(host), Evidence("ssh://h", 10), PATH)
    assert config.pid == "" and config.argv[1:3] == ("-p", "/var/run/docker.pid")
    assert config.flag_mirrors == ("http://172.17.0.1:5000",) and config.path == PATH
    assert "specified both as a flag and in the configuration file: registry-mirrors" in message(judge.mirror_configured(
        PATH, mirror, (28, 5, 2), list(config.flag_mirrors), (), None, config.argv))
    assert judge.mirror_configured(PATH, None, (28, 5, 2), list(config.flag_mirrors), (), None, config.argv).ok
    with pytest.raises(probes.ObserverError, match="cannot read /etc/default/docker"):
        probes.daemon_config(ReadingTarget(RecordedHost(("pid=$(systemctl", Result(0, SID_UNREADABLE)))),
                             Evidence("ssh://h", 10), PATH)


# Debian 12's docker.io 20.10.24 (no --validate) whose daemon.json gained 23.0's "proxies": its start is refused,
# recorded on lab host h3-b: "the following directives don't match any configuration option: http-proxy, no-proxy";
# a deprecated flag's key ("graph", hidden from --help) starts.
WITH_PROXIES = (b'{"registry-mirrors": ["http://10.0.0.5:5000"], "graph": "/var/lib/docker", "log-opts": {"max-size": '
                b'"10m"}, "proxies": {"http-proxy": "http://proxy.example:3128", "no-proxy": "localhost"}}')
UNKNOWN_FLAG = "Status: unknown flag: --http-proxy\nSee 'dockerd --help'., Code: 125\n"


@pytest.mark.red("registry.mirror-configured")
def test_a_key_dockerd_20_10_has_no_flag_for_fails():
    """Before: passed (20.10 has no --validate, and the file's other keys were not judged)."""
    assert judge.keys_to_ask(WITH_PROXIES, V20) == ["graph", "http-proxy", "no-proxy"]  # log-opts kept whole
    assert judge.keys_to_ask(b'{"features": {"containerd-snapshotter": true}, "hosts": []}', V20) == []
    assert judge.keys_to_ask(b"{", V20) == [] and judge.keys_to_ask(None, V20) == []
    host = RecordedHost(("sh -c", Result(0, "http-proxy\nno-proxy\n")))
    config = probes.DaemonConfig("812", SYSTEMD_ARGV, PATH, WITH_PROXIES, "Docker version 20.10.24", ())
    unknown = probes.dockerd_unknown_flags(host, Evidence("ssh://h", 10), config, ["graph", "http-proxy", "no-proxy"])
    assert unknown == ["http-proxy", "no-proxy"] and host.ran[0].endswith("/usr/sbin/dockerd graph http-proxy no-proxy'")
    expected = ("http://10.0.0.5:5000",)
    assert ("dockerd refuses it at its next start: /etc/docker/daemon.json: the following directives don't match any "
            "configuration option: http-proxy, no-proxy") in message(
        judge.mirror_configured(PATH, WITH_PROXIES, V20, [], expected, None, SYSTEMD_ARGV, unknown))
    assert judge.mirror_configured(PATH, WITH_PROXIES, V20, [], expected, None, SYSTEMD_ARGV, []).ok
    assert probes.dockerd_unknown_flags(host, Evidence("ssh://h", 10), config, []) == [] and len(host.ran) == 1


# Lines of `dockerd --help` recorded on lab host h45-a (Debian 12, docker.io 20.10.24), whose next start refuses
# "log-opts": {"max-file": 3} ("json: cannot unmarshal number into Go struct field Config.log-opts of type string"),
# "debug": "true", "dns": "8.8.8.8", "ip": 5 and "mtu"-like 3.0, and starts with null values and with
# "containerd-plugins-namespace": 5 (no field of that name).
HELP_20_10 = """\
Options:
      --config-file string                      Daemon configuration file
                                                (default
      --containerd-plugins-namespace string     Containerd namespace to
                                                use for plugins (default
  -D, --debug                                   Enable debug mode
      --default-ulimit ulimit                   Default ulimits for
                                                containers (default [])
      --dns list                                DNS server to use
      --help                                    Print usage
  -H, --host list                               Daemon socket(s) to connect to
      --ip ip                                   Default IP when binding
                                                container ports (default
      --log-opt map                             Default log driver
                                                options for containers
                                                (default map[])
      --max-concurrent-downloads int            Set the max concurrent
                                                downloads for each pull
                                                (default 3)
      --registry-mirror list                    Preferred Docker registry
                                                mirror
"""
MAX_FILE_NUMBER = (b'{"registry-mirrors": ["http://10.0.0.5:5000"], "log-driver": "json-file", '
                   b'"log-opts": {"max-size": "10m", "max-file": 3}}')


@pytest.mark.red("registry.mirror-configured")
def test_a_value_dockerd_20_10_cannot_decode_fails():
    """Before: passed (20.10 has no --validate, and the file's values' types were not judged)."""
    types = judge.flag_types(HELP_20_10)
    assert types == {"debug": "", "dns": "list", "hosts": "list", "ip": "ip",  # not: a ulimit, help, no field
                     "log-opts": "map", "max-concurrent-downloads": "int", "registry-mirrors": "list"}
    assert judge.mistyped(MAX_FILE_NUMBER, V20, types) == [
        "json: cannot unmarshal number into log-opts['max-file'] of type string"]
    assert judge.mistyped(b'{"debug": "true", "dns": "8.8.8.8", "ip": 5, "max-concurrent-downloads": 3.0, '
                          b'"hosts": ["unix:///run/d.sock", 1]}', V20, types) == [
        "json: cannot unmarshal string into debug of type bool", "json: cannot unmarshal string into dns of type []string",
        "json: cannot unmarshal number into ip of type net.IP",
        "json: cannot unmarshal number into max-concurrent-downloads of type int",
        "json: cannot unmarshal number into hosts[1] of type string"]
    assert judge.mistyped(b'{"log-opts": {"max-file": null}, "debug": null, "containerd-plugins-namespace": 5, '
                          b'"default-ulimits": {"nofile": {"Hard": 4096}}, "max-concurrent-downloads": 3}', V20, types) == []
    assert judge.mistyped(b"{", V20, types) == [] and judge.mistyped(None, V20, types) == []
    host = RecordedHost(("--help", Result(0, HELP_20_10)))
    config = probes.DaemonConfig("812", SYSTEMD_ARGV, PATH, MAX_FILE_NUMBER, "Docker version 20.10.24", ())
    assert probes.dockerd_help(host, Evidence("ssh://h", 10), config) == HELP_20_10
    assert host.ran[0].endswith("/usr/sbin/dockerd --help'")
    wrong = judge.mistyped(MAX_FILE_NUMBER, V20, types)
    expected = ("http://10.0.0.5:5000",)
    assert ("dockerd refuses it at its next start: /etc/docker/daemon.json: json: cannot unmarshal number into "
            "log-opts['max-file'] of type string") in message(
        judge.mirror_configured(PATH, MAX_FILE_NUMBER, V20, [], expected, None, SYSTEMD_ARGV, [], wrong))
    assert judge.mirror_configured(PATH, MAX_FILE_NUMBER, V20, [], expected, None, SYSTEMD_ARGV, [], []).ok


# Recorded on lab host h3-a (Debian 12, Docker 20.10): a drop-in gave docker.service ExecStart= then ExecStart=dockerd
# ... --registry-mirror=..., daemon-reload done, no restart: the running dockerd's argv, then its unit's next start.
PENDING_DROPIN = ("pid=987\n--- argv\n/usr/sbin/dockerd\n-H\nfd://\n--containerd=/run/containerd/containerd.sock\n"
                  "--- next\n/usr/sbin/dockerd\n-H\nfd://\n--containerd=/run/containerd/containerd.sock\n"
                  "--registry-mirror=http://172.17.0.1:5000\n--- process\nuid=0\nenviron=read\n"
                  "--- version\nDocker version 20.10.24+dfsg1, build 5d6db84\n")


@pytest.mark.red("registry.mirror-configured")
def test_the_next_start_of_a_changed_unit_is_judged():
    """Before: passed on the running dockerd's argv, though the next start adds --registry-mirror beside the file's."""
    assert probes.parse_dockerd(PENDING_DROPIN)[1] == SYSTEMD_ARGV
    host = RecordedHost(("pid=$(systemctl", Result(0, PENDING_DROPIN)), ("base64 -w 0", Result(0, "e30=")),
                        ("busctl", busctl(*SYSTEMD_ARGV, "--registry-mirror=http://172.17.0.1:5000")))
    config = probes.daemon_config(ReadingTarget(host), Evidence("ssh://h", 10), PATH)
    assert config.pid == "987" and config.argv == (*SYSTEMD_ARGV, "--registry-mirror=http://172.17.0.1:5000")
    assert config.flag_mirrors == ("http://172.17.0.1:5000",)
    same = PENDING_DROPIN.replace("--registry-mirror=http://172.17.0.1:5000\n--- process", "--- process")
    unchanged = probes.daemon_config(ReadingTarget(RecordedHost(("pid=$(systemctl", Result(0, same)),
                                                                ("base64 -w 0", Result(0, "e30=")),
                                                                ("busctl", busctl(*SYSTEMD_ARGV)))),
                                     Evidence("ssh://h", 10), PATH)
    assert unchanged.argv == SYSTEMD_ARGV and unchanged.flag_mirrors == ()


# Recorded on lab host h35-a (trixie, Docker 26.1, systemd 257): a drop-in gave docker.service ExecStart= then
# `ExecStart=/usr/sbin/dockerd  -H fd://<TAB>--containerd=... "--label=owner=ops team" $DOCKER_OPTS`, daemon-reload
# done, no restart: `systemctl show` joins the words with spaces (the --- next section), busctl keeps them; the
# restart then ran, `docker info` listing the label "owner=ops team".
QUOTED_DROPIN = ("pid=786\n--- argv\n/usr/sbin/dockerd\n-H\nfd://\n--containerd=/run/containerd/containerd.sock\n"
                 "--- next\n/usr/sbin/dockerd\n-H\nfd://\n--containerd=/run/containerd/containerd.sock\n"
                 "--label=owner=ops\nteam\n$DOCKER_OPTS\n--- process\nuid=0\nenviron=read\n"
                 "--- version\nDocker version 26.1.5+dfsg1, build 411e817\n")
QUOTED_BUSCTL = Result(0, '{"type":"a(sasbttttuii)","data":[["/usr/sbin/dockerd",["/usr/sbin/dockerd","-H","fd://",'
                          '"--containerd=/run/containerd/containerd.sock","--label=owner=ops team","$DOCKER_OPTS"],'
                          'false,0,0,0,0,0,0,0]]}\n')


@pytest.mark.red("registry.mirror-configured")
def test_a_unit_word_holding_a_space_stays_one_word():
    """Before: 'owner=ops' and 'team' two words, which dockerd --validate refused ("accepts no argument(s)"): failed."""
    def config(stdout, words):
        host = RecordedHost(("pid=$(systemctl", Result(0, stdout)), ("busctl", words),
                            ("systemctl show -p Environment", Result(0, "\n--- files\n")),
                            ("base64 -w 0", Result(0, "e30=")))
        return probes.daemon_config(ReadingTarget(host), Evidence("ssh://h", 10), PATH)
    assert config(QUOTED_DROPIN, QUOTED_BUSCTL).argv == (*SYSTEMD_ARGV, "--label=owner=ops team")
    stopped = QUOTED_DROPIN.replace("pid=786", "pid=").partition("--- argv\n")[0] + "--- argv\n" + \
        QUOTED_DROPIN.partition("--- next\n")[2].replace("--- process\nuid=0\nenviron=read\n", "")
    assert config(stopped, QUOTED_BUSCTL).argv == (*SYSTEMD_ARGV, "--label=owner=ops team")
    no_bus = Result(1, stderr="Failed to connect to bus: No such file or directory\n")  # systemctl show's words kept
    assert config(QUOTED_DROPIN, no_bus).argv[-2:] == ("--label=owner=ops", "team")


# Recorded on lab host h5-a (sid, sysvinit, Docker 28.5): dockerd started by /etc/init.d/docker (its pid in
# /var/run/docker.pid), then /etc/default/docker gained DOCKER_OPTS="--registry-mirror=...", no restart: the running
# argv, then the script's next start (`next=sysv`), which /etc/init.d/docker restart saw refused.
SID_PENDING = ("pid=610\nnext=sysv\n--- argv\n/usr/sbin/dockerd\n-p\n/var/run/docker.pid\n"
               "--- next\n/usr/sbin/dockerd\n-p\n/var/run/docker.pid\n--registry-mirror=http://172.17.0.1:5000\n"
               "--- process\nuid=0\nenviron=read\n--- version\nDocker version 28.5.2+dfsg4, build 3ef3c07c\n")


def test_the_next_sysvinit_start_is_judged_where_default_docker_changed():
    """A dockerd /etc/init.d/docker started is judged by the script's next start where DOCKER_OPTS changed since."""
    running = ("/usr/sbin/dockerd", "-p", "/var/run/docker.pid")
    evidence = Evidence("ssh://h", 10)
    host = RecordedHost(("pid=$(systemctl", Result(0, SID_PENDING)), ("base64 -w 0", Result(0, "e30=")))
    config = probes.daemon_config(ReadingTarget(host), evidence, PATH)
    assert config.pid == "610" and config.argv == (*running, "--registry-mirror=http://172.17.0.1:5000")
    assert config.flag_mirrors == ("http://172.17.0.1:5000",)
    assert "/etc/init.d/docker's next start, with /etc/default/docker, runs" in evidence.text()
    same = SID_PENDING.replace("--registry-mirror=http://172.17.0.1:5000\n--- process", "--- process")
    unchanged = probes.daemon_config(ReadingTarget(RecordedHost(("pid=$(systemctl", Result(0, same)),
                                                                ("base64 -w 0", Result(0, "e30=")))),
                                     Evidence("ssh://h", 10), PATH)
    assert unchanged.argv == running and unchanged.flag_mirrors == ()


# Recorded on lab host h35-a (sid, sysvinit, Docker 28.5): /etc/default/docker set DOCKER_OPTS="-p /run/dockerd-opts.pid"
# (dockerd wrote that file, not /var/run/docker.pid), started, then gained DOCKER_OPTS="$DOCKER_OPTS --registry-mirror=..."
# beside daemon.json's registry-mirrors, no restart: the script's next start, one word a line, as SYSV_ARGV printed it.
SID_OPTS_PIDFILE_NEXT = ("/usr/sbin/dockerd", "-p", "/var/run/docker.pid", "-p", "/run/dockerd-opts.pid",
                         "--registry-mirror=http://172.17.0.1:5000")


@pytest.mark.red("registry.mirror-configured")
def test_the_scripts_dockerd_is_told_by_the_last_pidfile_of_its_start():
    """Before: by its third word (DOCKER_PIDFILE), which dockerd never wrote: the next start went unjudged, passed."""
    for argv in (SID_OPTS_PIDFILE_NEXT, ("d", "-p", "/a", "--pidfile=/b"), ("d", "--pidfile", "/c"), ("d", "-p/e"),
                 ("d", "-p=/f"), ("d", "-p", "-p")):
        out = subprocess.run(["sh", "-c", probes.LAST_PIDFILE], input="\n".join(argv) + "\n", capture_output=True,
                             text=True, check=True).stdout
        assert out == judge.flag_values(argv, "--pidfile")[-1] + "\n"  # as dockerd (pflag) takes it
    # of the running dockerd's own start: the next start's may name a file not written yet (sid-pidfile-pending-docker-opts)
    assert '"$(echo "$running" | ' + probes.LAST_PIDFILE + ")" in probes.DOCKERD


# An /etc/init.d/docker whose #! line runs bash through env or with an option (an admin's edit, Docker CE's script,
# Devuan), its /etc/default/docker using bash's +=: SYSV_ARGV (here on files of its own) prints the script's start.
SHEBANGS = ("#!/bin/bash", "#!/usr/bin/env bash", "#! /usr/bin/env -S bash -e  ", "#!/bin/bash -e")


@pytest.mark.red("registry.mirror-configured")
@pytest.mark.parametrize("shebang", SHEBANGS)
@pytest.mark.parametrize("login", ("sh", "bash"))
def test_the_init_scripts_start_is_read_by_its_interpreter_as_the_kernel_runs_it(tmp_path, shebang, login):
    """Before: `/usr/bin/env -c ...` (the #! line's first word alone) printed nothing: no argv for its next start."""
    script, defaults = tmp_path / "init", tmp_path / "default"
    script.write_text(f"{shebang}\nBASE=docker\nDOCKERD=/usr/sbin/dockerd\nDOCKER_PIDFILE=/var/run/$BASE.pid\n"
                      "DOCKER_OPTS=\n")
    defaults.write_text('DOCKER_OPTS+=" --registry-mirror=http://172.17.0.1:5000"\n')
    sysv = probes.SYSV_ARGV.replace("/etc/init.d/docker", str(script)).replace("/etc/default/docker", str(defaults))
    out = subprocess.run([login, "-c", f'argv=\n{sysv}\nprintf "%s\\n" "$argv"'], capture_output=True, text=True,
                         check=True).stdout
    assert out.splitlines() == ["from=sysv", "/usr/sbin/dockerd", "-p", "/var/run/docker.pid",
                                "--registry-mirror=http://172.17.0.1:5000"]
