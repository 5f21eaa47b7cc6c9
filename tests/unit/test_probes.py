"""The generic probes of conformance/probes.py on recorded answers."""
import hashlib
import types
import shlex
import threading

import pytest
import testinfra
import testinfra.backend.base

from conformance import probes, units as unit_states
from conformance.evidence import Evidence
from conformance.judges.registry import TlsTrust
from conformance.outcomes import ObserverError, TargetError
from conformance.targets import Target
from judged import message


def test_curl_output_parsed():
    raw = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nDocker-Content-Digest: sha256:abc\r\n\r\n{}"
    assert probes.parse_http(raw) == (200, {"docker-content-digest": "sha256:abc"}, "{}")
    assert probes.parse_http("") == (None, {}, "")


def test_read_file_sha256_and_exists_through_host_file(tmp_path):
    host = testinfra.get_host("local://")
    evidence = Evidence("local://", 10)
    (tmp_path / "os-release").write_text('ID=debian\n')
    assert probes.read_file(host, evidence, str(tmp_path / "os-release")) == "ID=debian\n"
    assert probes.read_file(host, evidence, str(tmp_path / "absent")) is None
    assert probes.sha256(host, evidence, str(tmp_path / "os-release")) == hashlib.sha256(b"ID=debian\n").hexdigest()
    assert probes.sha256(host, evidence, str(tmp_path / "absent")) is None
    assert probes.exists(host, evidence, str(tmp_path)) and not probes.exists(host, evidence, str(tmp_path / "absent"))
    notes = [item["text"] for item in evidence.items if item["kind"] == "note"]
    assert notes[0].endswith("content_string ->\nID=debian\n") and notes[1].endswith("not read: no such file")
    assert notes[3].endswith("none (no such file)")



class Result:
    def __init__(self, rc, stdout="", stderr=""):
        self.rc, self.stdout, self.stderr = rc, stdout, stderr


class Backend:
    quote = staticmethod(testinfra.backend.base.BaseBackend.quote)

    def get_connection_type(self):
        return "ssh"


class RecordedHost:
    """A target that answers each command from a table of recorded answers: (substring of the command, Result)."""

    def __init__(self, *answers):
        self.answers, self.backend, self.ran = list(answers), Backend(), []

    def run(self, command, *args):
        rendered = Backend.quote(command, *args)
        self.ran.append(rendered)
        return next(result for part, result in self.answers if part in rendered)


class ReadingTarget:
    """What the dockerd probes use of a Target: its host, its shared reads (Target.share) and its docker units (by
    default those of a host where systemd is not PID 1: a sysvinit one)."""

    share = Target.share

    def __init__(self, host, snapshot=None):
        self.host, self.shared = host, {}
        self.units = lambda: snapshot or unit_states.Snapshot({}, systemd_pid1=False, systemctl=False, read_at="")


UPPER = "/var/lib/docker/overlay2/5e1f/diff"
# Recorded on lab host hunt-a (Debian 12, coreutils 9.1) as hunter, a member of the docker group, and as root.
STAT_EACCES = Result(1, stderr=f"stat: cannot statx '{UPPER}': Permission denied\n")
STAT_ENOENT = Result(1, stderr=f"stat: cannot statx '{UPPER}': No such file or directory\n")
HUNTER = Result(0, "uid=1000(hunter) gid=1000(hunter) groups=1000(hunter),101(docker)\n")


def test_observer_problem_tells_the_login_from_the_host():
    assert probes.observer_problem(127, "sh: 1: curl: not found\n", tools=("curl",)) == ("tool", "curl")
    assert probes.observer_problem(126, "sh: 1: /usr/bin/curl: Permission denied\n", tools=("curl",)) == ("tool", "curl")
    assert probes.observer_problem(7, "curl: (7) Failed to connect to 172.18.0.2 port 80: Connection refused\n",
                                   tools=("curl",)) is None  # the host's answer: nothing listens
    assert probes.observer_problem(1, STAT_EACCES.stderr, paths=(UPPER,)) == ("permission", UPPER)
    assert probes.observer_problem(1, STAT_ENOENT.stderr, paths=(UPPER,)) is None  # a finding, not a limit
    assert probes.observer_problem(1, "readlink: /proc/5712/ns/pid: Operation not permitted\n") == (
        "permission", "readlink: /proc/5712/ns/pid: Operation not permitted")


BASHRC_NOISE = "bash: line 1: ulimit: open files: cannot modify limit: Operation not permitted\n"  # ~/.bashrc, each command


def test_a_logins_own_noise_is_no_limit_of_the_probe():
    """A login whose ~/.bashrc raises a limit it may not prints a denial before every command, which succeeds."""
    assert probes.observer_problem(0, BASHRC_NOISE, paths=(UPPER,)) is None
    assert probes.observer_problem(0, BASHRC_NOISE + "  HTTP/1.1 200 OK\n", tools=("wget",)) is None
    assert probes.observer_problem(1, BASHRC_NOISE + STAT_ENOENT.stderr, paths=(UPPER,)) is None  # still a finding
    assert probes.observer_problem(1, BASHRC_NOISE + STAT_EACCES.stderr, paths=(UPPER,)) == ("permission", UPPER)


def test_stat_path_proves_presence_and_absence_and_errors_when_it_cannot_look():
    evidence = Evidence("ssh://hunter@h", 10)
    assert probes.stat_path(RecordedHost(("stat", Result(0, "1835041\n"))), evidence, UPPER) is True
    assert probes.stat_path(RecordedHost(("stat", STAT_ENOENT)), evidence, UPPER) is False
    with pytest.raises(ObserverError) as denied:
        probes.stat_path(RecordedHost(("stat", STAT_EACCES), ("id", HUNTER)), evidence, UPPER)
    assert str(denied.value) == (f"ssh://hunter@h: cannot look at {UPPER}: permission denied on {UPPER} as "
                                 f"{HUNTER.stdout.strip()}; needs root on the target (ssh as root or ?sudo=true)")
    with pytest.raises(ObserverError, match="stat answered rc 1, 'stat: cannot statx: Input/output error'"):
        probes.stat_path(RecordedHost(("stat", Result(1, stderr="stat: cannot statx: Input/output error"))), evidence,
                         UPPER)


def test_sha256_absent_is_none_and_unreadable_is_an_observer_error():
    evidence = Evidence("ssh://hunter@h", 10)
    assert probes.sha256(RecordedHost(("sha256sum", Result(1, stderr=f"sha256sum: {UPPER}/x: No such file or "
                                                                      "directory\n"))), evidence, UPPER + "/x") is None
    with pytest.raises(ObserverError, match="permission denied on .*/x as uid=1000"):
        probes.sha256(RecordedHost(("sha256sum", Result(1, stderr=f"sha256sum: {UPPER}/x: Permission denied\n")),
                                   ("id", HUNTER)), evidence, UPPER + "/x")


# Recorded on lab hosts observer-read-only-tmp and observer-read-only-tmps (a login whose /tmp, then /var/tmp too, is
# mounted read-only in its own mount namespace).
TMP_READ_ONLY = "mktemp: failed to create file via template '/tmp/conformance-marker.XXXXXX': Read-only file system\n"
VAR_TMP_READ_ONLY = ("mktemp: failed to create file via template '/var/tmp/conformance-marker.XXXXXX': "
                     "Read-only file system\n")


def test_a_marker_goes_where_the_login_can_write_and_nowhere_is_an_observer_error():
    evidence = Evidence("ssh://root@h", 10)
    made = Result(0, "/var/tmp/conformance-marker.Ab12Cd\n", TMP_READ_ONLY)
    assert probes.marker(RecordedHost(("mktemp", made)), evidence, "conformance-marker") == made.stdout.strip()
    with pytest.raises(ObserverError) as error:
        probes.marker(RecordedHost(("mktemp", Result(1, stderr=TMP_READ_ONLY + VAR_TMP_READ_ONLY))), evidence,
                      "conformance-marker")
    assert str(error.value) == ("ssh://root@h: cannot make a marker file on the host in /tmp or /var/tmp: rc=1 "
                                + " ".join((TMP_READ_ONLY + VAR_TMP_READ_ONLY).split()))


READ_TLS_FILES = "'cat /etc/docker/certs.d/"
CURL_200 = Result(0, "HTTP/1.1 200 OK\r\nServer: nginx\r\n\r\n<title>Welcome to nginx!</title>")
DISCOVER = "command -v"


@pytest.mark.red("nginx.http")
def test_http_probe_no_answer_is_the_hosts_finding():
    host = RecordedHost((DISCOVER, Result(0, "curl\npython3\n")),
                        ("curl", Result(7, stderr="curl: (7) Failed to connect to 172.18.0.2 port 80\n")))
    assert probes.Http(host, Evidence("ssh://h", 10), 5).get("http://172.18.0.2/") == (None, {}, "")
    assert "curl -q --noproxy " in host.ran[-1]  # a login's http_proxy (pam_env) must not stand between


def test_http_probe_without_a_client_is_an_error_naming_the_tools():
    host = RecordedHost((DISCOVER, Result(0, "")))
    with pytest.raises(ObserverError) as error:
        probes.Http(host, Evidence("ssh://h", 10), 5).get("http://172.18.0.2/")
    assert str(error.value) == ("ssh://h: cannot probe HTTP: no HTTP client on the target "
                                "(looked for curl, wget, python3, busybox wget)")
    gone = RecordedHost((DISCOVER, Result(0, "curl\n")), ("curl", Result(127, stderr="sh: 1: curl: not found\n")))
    with pytest.raises(ObserverError, match="cannot probe HTTP with curl: curl is not on the target"):
        probes.Http(gone, Evidence("ssh://h", 10), 5).get("http://172.18.0.2/")


def test_http_probe_takes_the_next_client_and_looks_once_per_target():
    host = RecordedHost((DISCOVER, Result(0, "python3\n")), ("python3", CURL_200))
    evidence = Evidence("ssh://h", 10)
    assert probes.Http(host, evidence, 5).get("http://172.18.0.2/")[:2] == (200, {"server": "nginx"})
    assert probes.Http(host, evidence, 5).get("http://172.18.0.2/")[0] == 200
    assert sum(DISCOVER in command for command in host.ran) == 1
    wget = RecordedHost((DISCOVER, Result(0, "wget\n")), ("wget", Result(
        8, "<h1>404</h1>", "  HTTP/1.1 404 Not Found\n  Content-Type: text/html\nwget: server returned error\n")))
    assert probes.Http(wget, Evidence("ssh://h", 10), 5).get("http://m/v2/") == (404, {"content-type": "text/html"},
                                                                              "<h1>404</h1>")
    assert "--no-proxy" in wget.ran[-1]


def test_busybox_wget_is_bounded_by_timeout_and_a_client_that_dies_is_an_error():
    # Recorded on lab host h38-b (variant busybox-wget-only, Debian 12's busybox 1.35): `busybox wget -S -q -Y off
    # -O - -T 10 URL` died of SIGSEGV for nginx and the mirror alike, and nginx.http and registry.mirror-reachable
    # failed ("HTTP no answer") on a conforming host; without -T, under timeout(1), it answers
    busybox = RecordedHost((DISCOVER, Result(0, "busybox wget\n")), ("busybox", Result(
        0, "<title>Welcome to nginx!</title>", "  HTTP/1.1 200 OK\n  Server: nginx/1.22.1\n")))
    assert probes.Http(busybox, Evidence("ssh://h", 10), 5).get("http://172.18.0.2/")[:2] == (
        200, {"server": "nginx/1.22.1"})
    assert "timeout 5 busybox wget -S -q -Y off -O - http://172.18.0.2/" in busybox.ran[-1]
    crashed = RecordedHost((DISCOVER, Result(0, "busybox wget\n")), ("busybox", Result(139, stderr="Segmentation fault\n")))
    with pytest.raises(ObserverError, match="cannot probe http://172.18.0.2/: busybox wget died of SIGSEGV"):
        probes.Http(crashed, Evidence("ssh://h", 10), 5).get("http://172.18.0.2/")


def test_tls_files_the_login_may_not_read_are_an_observer_error_not_an_unreachable_mirror():
    """A mirror that asks for a client certificate (certs.d's client.cert and client.key, the key 0600 root as usual)
    probed by a docker-group login: curl failed before it connected ("unable to set private key file", exit 58) and
    registry.mirror-reachable said "v2/ -> no answer"; dockerd, as root, reads the key and pulls through it."""
    pair = ("/etc/docker/certs.d/m:5443/client.cert", "/etc/docker/certs.d/m:5443/client.key")
    tls = TlsTrust(True, "certs.d", ("/etc/docker/certs.d/m:5443/ca.crt",), pair)
    host = RecordedHost((READ_TLS_FILES, Result(1, stderr=f"cat: {pair[1]}: Permission denied\n")), ("id", HUNTER))
    with pytest.raises(ObserverError) as error:
        probes.Http(host, Evidence("ssh://hunter@h", 10), 5).get("https://m:5443/v2/", tls=tls)
    assert str(error.value) == (f"ssh://hunter@h: cannot probe https://m:5443/v2/ with dockerd's TLS files: permission "
                                f"denied on {pair[1]} as {HUNTER.stdout.strip()}; needs root on the target (ssh as "
                                "root or ?sudo=true)")
    readable = RecordedHost((READ_TLS_FILES, Result(0)), (DISCOVER, Result(0, "curl\n")), ("curl", CURL_200))
    assert probes.Http(readable, Evidence("ssh://root@h", 10), 5).get("https://m:5443/v2/", tls=tls)[0] == 200


def test_http_probe_sends_every_accepted_type_in_one_header():
    # python3's urllib keeps one header per name: the manifest types as separate Accept headers left only the last
    # (an OCI image manifest), so the registry answered another digest than the engine pulled (no-curl variant).
    host = RecordedHost((DISCOVER, Result(0, "python3\n")), ("python3", CURL_200))
    probes.Http(host, Evidence("ssh://h", 10), 5).get("http://m/v2/library/hello-world/manifests/latest", ("a/x", "b/y"))
    assert "Accept: a/x, b/y" in host.ran[-1] and host.ran[-1].count("Accept:") == 1


def test_a_login_that_prints_on_every_command_is_an_observer_error_not_a_finding():
    # Recorded on lab host hunt-a (Debian 12): `echo BASHRC-NOISE` appended to /root/.bashrc, which bash reads for
    # ssh commands; before this every answer started with that line (dpkg-query's too: install.package failed).
    from conformance.targets import Target, login_noise
    assert login_noise("") is None and login_noise("\n") is None
    target = Target.__new__(Target)
    target.name = "root@172.17.0.6"
    target.run = lambda *args, **kwargs: Result(0, "BASHRC-NOISE\n")
    with pytest.raises(ObserverError, match=r"root@172\.17\.0\.6: cannot observe: the login prints 'BASHRC-NOISE'"):
        target.reachable()
    quiet = Target.__new__(Target)
    quiet.name, quiet.run = "root@h", lambda *args, **kwargs: Result(0, "")
    assert quiet.reachable()


def test_http_probe_through_the_engines_proxy_only():
    curl = RecordedHost((DISCOVER, Result(0, "curl\n")), ("curl", CURL_200))
    probes.Http(curl, Evidence("ssh://h", 10), 5).get("http://172.17.0.1:5000/v2/", proxy="http://127.0.0.1:3128")
    assert "curl -q --noproxy " in curl.ran[-1] and " --proxy http://127.0.0.1:3128 -sS " in curl.ran[-1]  # login's
    assert "'*'" not in curl.ran[-1]  # no_proxy emptied (--noproxy ''), never '*' (which would bypass the proxy)
    python = RecordedHost((DISCOVER, Result(0, "python3\n")), ("python3", CURL_200))
    probes.Http(python, Evidence("ssh://h", 10), 5).get("http://m/v2/", proxy="http://127.0.0.1:3128")
    assert " http://m/v2/ 5 http://127.0.0.1:3128" in python.ran[-1]
    busybox = RecordedHost((DISCOVER, Result(0, "busybox wget\n")), ("busybox", Result(0, "", "  HTTP/1.1 200 OK\n")))
    probes.Http(busybox, Evidence("ssh://h", 10), 5).get("http://m/v2/", proxy="http://127.0.0.1:3128")
    assert "env no_proxy= NO_PROXY= http_proxy=http://127.0.0.1:3128 " in busybox.ran[-1]
    assert " -Y on " in busybox.ran[-1]


def test_python3_through_a_proxy_ignores_the_logins_no_proxy():
    # urllib's ProxyHandler skips the proxy it is given for hosts in no_proxy: the login's must not decide
    python = RecordedHost((DISCOVER, Result(0, "python3\n")), ("python3", CURL_200))
    probes.Http(python, Evidence("ssh://h", 10), 5).get("http://m/v2/", proxy="http://127.0.0.1:3128")
    assert "sh -c 'env no_proxy= NO_PROXY= python3 -c " in python.ran[-1]
    probes.Http(python, Evidence("ssh://h", 10), 5).get("http://m/v2/")
    assert "sh -c 'python3 -c " in python.ran[-1]


def test_tls_trust_of_each_client_as_dockerd_has_it():
    insecure = TlsTrust(False, "an insecure registry")
    busybox = RecordedHost((DISCOVER, Result(0, "busybox wget\n")), ("busybox", Result(0, "", "  HTTP/1.1 200 OK\n")))
    probes.Http(busybox, Evidence("ssh://h", 10), 5).get("https://m:5443/v2/", tls=insecure)  # nothing to verify
    assert " --no-check-certificate " in busybox.ran[-1]
    with pytest.raises(ObserverError, match="busybox wget, the only HTTP client on the target, does not verify"):
        probes.Http(busybox, Evidence("ssh://h", 10), 5).get("https://m:5443/v2/", tls=TlsTrust(True, "verified"))
    # certs.d CAs first, then the client's own roots: dockerd's pool holds both (a publicly signed mirror with a
    # certs.d file beside it verifies through the system's roots, which --capath may not hold: RHEL)
    curl = RecordedHost((READ_TLS_FILES, Result(0)), (DISCOVER, Result(0, "curl\n")),
                        ("--cacert", Result(60, "", "curl: (60) SSL certificate problem")), ("curl", CURL_200))
    status = probes.Http(curl, Evidence("ssh://h", 10), 5).get(
        "https://m/v2/", tls=TlsTrust(True, "verified", ("/etc/docker/certs.d/m/a.crt", "/etc/docker/certs.d/m/b.crt")))[0]
    assert status == 200
    assert ["--cacert" in c for c in curl.ran[2:]] == [True, True, False]


@pytest.mark.red("registry.mirror-reachable")
def test_a_verified_https_probe_ignores_the_roots_of_the_logins_environment():
    # Lab variant mirror-tls-login-ca-env: /etc/environment's CURL_CA_BUNDLE and SSL_CERT_FILE named the mirror's
    # private CA, which dockerd does not trust; curl took it and mirror-reachable passed ("v2/ -> 200")
    for tool in ("curl", "wget", "python3"):
        host = RecordedHost((READ_TLS_FILES, Result(0)), (DISCOVER, Result(0, f"{tool}\n")), (tool, CURL_200))
        for tls in (TlsTrust(True, "verified"), TlsTrust(True, "verified", ("/etc/docker/certs.d/m/ca.crt",))):
            probes.Http(host, Evidence("ssh://h", 10), 5).get("https://m/v2/", tls=tls)
            assert "sh -c 'env -u CURL_CA_BUNDLE -u SSL_CERT_FILE -u SSL_CERT_DIR " in host.ran[-1], host.ran[-1]
        probes.Http(host, Evidence("ssh://h", 10), 5).get("https://m/v2/", tls=TlsTrust(False, "insecure"))
        assert "CURL_CA_BUNDLE" not in host.ran[-1]  # nothing verified: no roots to choose


def test_a_frozen_engine_is_not_asked_twice_through_dial_stdio(monkeypatch):
    from conformance import engine as engines
    from conformance.targets import Target
    target = Target.__new__(Target)
    target.name = target.id = "root@h"
    target.settings = type("Settings", (), {"engine_url": "ssh://root@h", "call_timeout": 3})()
    target.host_keys, target.host = None, RecordedHost()
    target.units = lambda: None
    asked = []
    target._dial_stdio_says = lambda url: asked.append(url) or "said"
    monkeypatch.setattr(engines, "connect", lambda *a: (_ for _ in ()).throw(
        engines.NoAnswer("root@h: connect to engine ssh://root@h: no answer within 3 s")))
    with pytest.raises(engines.TargetError, match="no answer within 3 s"):
        target._engine()
    assert asked == []
    monkeypatch.setattr(engines, "connect", lambda *a: (_ for _ in ()).throw(
        engines.TargetError("root@h: connect to engine ssh://root@h: Connection aborted.")))
    del target.__dict__["_cached__engine"]
    with pytest.raises(engines.TargetError, match="dial-stdio` says: said"):
        target._engine()
    assert asked == ["ssh://root@h"]


# A Cloudflare-worker Docker Hub proxy as widely used in China, and Harbor, answer an anonymous manifest GET so
# (headers and bodies in the shape of the lab's token-mirror and of Docker Hub's auth.docker.io answers).
MANIFEST = "http://127.0.0.1:5005/v2/library/hello-world/manifests/latest"
CHALLENGE = Result(0, "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nWWW-Authenticate: Bearer "
                      'realm="http://127.0.0.1:5005/token?client=worker",service="hub-proxy"\r\n\r\n'
                      '{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}')
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIifQ.c2lnbmF0dXJl"
ISSUED = Result(0, f'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{{"token": "{TOKEN}", '
                   f'"access_token": "{TOKEN}", "expires_in": 300}}')
SERVED = Result(0, "HTTP/1.1 200 OK\r\nDocker-Content-Digest: sha256:d715\r\n\r\n{}")
BASIC = Result(0, 'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="Sonatype Nexus Repository Manager"'
                  "\r\n\r\n")
REFUSED = Result(0, "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n\r\n"
                    '{"errors":[{"code":"UNAUTHORIZED","message":"anonymous access disabled"}]}')


def token_mirror(issued=ISSUED, challenge=CHALLENGE):
    """A target with curl in front of a mirror that wants an anonymous bearer token (answers matched in order)."""
    return RecordedHost((DISCOVER, Result(0, "curl\n")), ("Authorization: Bearer", SERVED), ("scope=", issued),
                        ("manifests", challenge))


def anonymously(host, evidence=None):
    http = probes.Http(host, Evidence("ssh://h", 10) if evidence is None else evidence, 5)
    return http.get_anonymously(MANIFEST, ("a/x",), "library/hello-world", lambda url: None)


@pytest.mark.red("registry.mirror-serves-pulls")
def test_token_challenge_is_answered_as_dockerds_anonymous_pull():
    # Recorded on a debian lab host behind /tmp/h9/token-mirror.py: dockerd pulled through it, the plain GET of the
    # manifest answered 401 and the check failed ("HTTP 401 digest -").
    from conformance.judges import registry as judge
    local = ["hello-world@sha256:d715"]
    host, evidence = token_mirror(), Evidence("ssh://h", 10)
    (status, headers, _), how = anonymously(host, evidence)
    assert (status, headers["docker-content-digest"]) == (200, "sha256:d715")
    assert judge.serves_pulls({MANIFEST: (status, headers["docker-content-digest"], how)}, local).ok
    curls = [c for c in host.ran if "curl -q" in c]
    assert len(curls) == 3  # the manifest, one token request, one retry
    asked = ("http://127.0.0.1:5005/token?client=worker&service=hub-proxy"
             "&scope=repository%3Alibrary%2Fhello-world%3Apull")
    assert asked in curls[1] and "Authorization" not in curls[0] + curls[1]
    assert f"Authorization: Bearer {TOKEN}" in curls[2]
    shown = evidence.text()
    assert TOKEN not in shown and "Authorization: Bearer ***" in shown and '"token": "***"' in shown
    # access_token alone (OAuth 2.0 form) also serves; a token endpoint that gives none leaves the 401 to judge
    only_access = Result(0, f'HTTP/1.1 200 OK\r\n\r\n{{"access_token": "{TOKEN}"}}')
    assert anonymously(token_mirror(only_access))[0][0] == 200
    (status, _, _), how = anonymously(token_mirror(Result(0, "HTTP/1.1 500 Internal Server Error\r\n\r\n")))
    text = message(judge.serves_pulls({MANIFEST: (status, None, how)}, local))
    assert "HTTP 401 digest - (token endpoint http://127.0.0.1:5005/token?" in text
    assert "-> HTTP 500, no usable token" in text


def test_credentials_wanted_is_an_error_never_a_finding():
    # Nexus with anonymous docker pulls off (Basic), or a token endpoint that refuses the anonymous client: the
    # suite has no credentials and never sends the operator's (~/.docker/config.json, netrc)
    with pytest.raises(ObserverError, match=r"asks for credentials \(WWW-Authenticate Basic\): the suite has none"):
        anonymously(token_mirror(challenge=BASIC))
    with pytest.raises(ObserverError, match=r"the token endpoint http://127.0.0.1:5005/token\?\S+ refuses anonymous "
                                            r"access \(HTTP 401\)"):
        anonymously(token_mirror(REFUSED))


def test_a_mirrors_realm_is_asked_only_when_safe_and_quoted_whole():
    def challenge(realm):
        return Result(0, f'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm="{realm}"\r\n\r\n')
    for realm in ("file:///etc/passwd", "http://user:pass@h/token", "http://h/to ken", "http:///token"):
        host = token_mirror(challenge=challenge(realm))
        (status, _, _), how = anonymously(host)
        assert status == 401 and how.startswith("no token asked: ") and sum("curl -q" in c for c in host.ran) == 1
    hostile = "http://h/token?x=$(touch${IFS}/tmp/pwned);id`id`'|&service=y"
    host = token_mirror(challenge=challenge(hostile))
    assert anonymously(host)[0][0] == 200
    inner = shlex.split(host.ran[-2])[-1]  # timeout -k 5 10 sh -c '<command>': the token request as sh runs it
    assert shlex.split(inner)[-1] == ("http://h/token?x=%24%28touch%24%7BIFS%7D%2Ftmp%2Fpwned%29%3Bid%60id%60%27%7C"
                                      "&service=y&scope=repository%3Alibrary%2Fhello-world%3Apull")


class EmptyStream(list):
    def close(self):
        pass


class ExitedContainer:
    """A container whose attach reads nothing (docker-py over ssh://, docker/docker-py#3332) and that exited 0."""
    id = short_id = "c0ffee"

    def __init__(self, logs):
        self._logs = logs
        self.client = type("Client", (), {"api": type("API", (), {"attach": lambda *a, **k: EmptyStream()})()})()

    def start(self):
        pass

    def wait(self, timeout):
        return {"StatusCode": 0}

    def logs(self, **_):
        if isinstance(self._logs, Exception):
            raise self._logs
        return self._logs


def test_an_attach_that_read_nothing_is_made_good_by_the_engines_log():
    import docker
    evidence = Evidence("root@h", 5)
    make = type("Make", (), {"created": lambda self, image, command: ExitedContainer(b"exists=1\nabc  /etc/x\n")})()
    assert probes.output_to_exit(make, "nginx:latest", ["sh"], evidence, 5) == (0, "exists=1\nabc  /etc/x\n")
    assert "the attach read nothing" in evidence.text()
    gone = docker.errors.APIError("configured logging driver does not support reading")
    make = type("Make", (), {"created": lambda self, image, command: ExitedContainer(gone)})()
    with pytest.raises(ObserverError, match=r"^root@h: container c0ffee exited 0, the attach to it read nothing and "
                                            r"the engine keeps no log of it .*what it printed is unknown; not judged"):
        probes.output_to_exit(make, "nginx:latest", ["sh"], evidence, 5)  # was (0, ''): judged as printing nothing
    cut = TargetError("root@h: read the log of container c0ffee: no answer within 15 s")
    make = type("Make", (), {"created": lambda self, image, command: ExitedContainer(cut)})()
    with pytest.raises(TargetError, match="no answer within 15 s"):
        probes.output_to_exit(make, "nginx:latest", ["sh"], evidence, 5)


class HeldStream:
    """An attach whose output never comes: it ends only when closed."""

    def __init__(self):
        self.closed = threading.Event()

    def __iter__(self):
        self.closed.wait(30)
        return iter(())

    def close(self):
        self.closed.set()


class HeldContainer(ExitedContainer):
    """A container whose attach output is held back; the engine says it is `status` when asked again."""

    def __init__(self, status):
        super().__init__(b"")
        self.status, self.stream = "created", HeldStream()
        self.client.api.attach = lambda *a, **k: self.stream
        self._after = status

    def reload(self):
        self.status = self._after


def test_an_attach_held_back_from_a_container_that_exited_is_an_observer_error():
    """hello-world exits at once; its stream not ended within the bound means the link held its output back
    (engine.hello-world said "did not exit in time", failed). A container still running is the finding it was."""
    evidence = Evidence("root@h", 5)
    exited = HeldContainer("exited")
    make = type("Make", (), {"created": lambda self, image, command: exited})()
    with pytest.raises(ObserverError, match=r"^root@h: read the output of container c0ffee: no answer within 0.2 s; "
                                            r"the container had exited by then: its output was lost on the way"):
        probes.output_to_exit(make, "hello-world", None, evidence, 0.2)
    assert exited.stream.closed.is_set()
    running = HeldContainer("running")
    make = type("Make", (), {"created": lambda self, image, command: running})()
    assert probes.output_to_exit(make, "nginx:latest", None, evidence, 0.2) == (None, "")


class CutOutput:
    """A container whose exec output comes back cut (docker/docker-py#3332 over ssh on a loaded machine: the first
    line of `cat /proc/1/comm; readlink /proc/1/ns/pid` missing), then whole."""

    short_id = "c0ffee"

    def __init__(self, *outputs: bytes):
        self.outputs = list(outputs)

    def exec_run(self, argv, user=""):
        self.user = user
        return types.SimpleNamespace(exit_code=0, output=self.outputs.pop(0))


def test_an_exec_that_printed_fewer_lines_than_it_must_is_asked_again():
    whole = b"nginx\npid:[4026532485]\n"
    evidence = Evidence("ssh://root@h", 10)
    assert probes.run_in(CutOutput(b"pid:[4026532485]\n", whole), ["sh"], evidence, prints=probes.has_lines(2)) == (
        0, whole.decode())
    assert probes.run_in(CutOutput(b"", b"6.1.0\n"), ["uname", "-r"], evidence, prints=True) == (0, "6.1.0\n")
    listing = b"1 0 nginx\n29 1 nginx\n"  # image.config-applied: PID 1's line, the first, cut
    assert probes.run_in(CutOutput(b"29 1 nginx\n", listing), ["sh"], evidence, prints=probes.lines_for("1")) == (
        0, listing.decode())
    codes = b"/dev 0\n/proc 0\n"  # image.rootfs: a line for every path, the first cut to its end
    assert probes.run_in(CutOutput(b"v 0\n/proc 0\n", codes), ["sh"], evidence,
                         prints=probes.lines_for("/dev", "/proc")) == (0, codes.decode())


def test_an_exec_whose_output_falls_short_three_times_is_an_observer_error_never_a_finding():
    """engine.shared-kernel judged '' against the host's release, and image.copy-on-write '' against the upper dir's
    sha256, as failed on a conforming fleet host whose exec output was lost three times in a row."""
    evidence = Evidence("ssh://root@h", 10)
    for rule, outputs in ((True, [b""] * 3), (probes.has_lines(2), [b"pid:[4026532485]\n"] * 3)):
        with pytest.raises(ObserverError, match=r"^ssh://root@h: `sha256sum /x` in container c0ffee exited 0 three "
                                               r"times without printing what it must .*lost on the way; not judged"):
            probes.run_in(CutOutput(*outputs), ["sha256sum", "/x"], evidence, prints=rule)
    assert evidence.text().count("sha256sum") == 6  # every attempt is evidence
    unseen = types.SimpleNamespace(short_id="c0ffee", exec_run=lambda argv, user="": types.SimpleNamespace(
        exit_code=None, output=b""))  # exec inspect: still running when its stream ended
    for rule in (False, True):
        with pytest.raises(ObserverError, match="its stream ended before the command did"):
            probes.run_in(unseen, ["touch", "/x"], evidence, prints=rule)


def test_a_write_runs_as_the_containers_root_a_read_as_the_images_user():
    """An nginx:latest of the host's own with USER www-data (lab variant nginx-non-root): the write experiments, run
    as the image's user, could not write /etc/nginx/nginx.conf or / (five checks failed on a conforming host); root
    without CAP_SYS_PTRACE could not read /proc/1/ns/pid there (engine.pid-isolation): reads stay the image's."""
    evidence = Evidence("ssh://root@h", 10)
    written = CutOutput(b"")
    assert probes.run_in(written, ["touch", "/x"], evidence, user=probes.ROOT) == (0, "")
    read = CutOutput(b"nginx\n")
    assert probes.run_in(read, ["cat", "/proc/1/comm"], evidence, prints=True) == (0, "nginx\n")
    assert (written.user, read.user) == ("0", "")
    assert evidence.text().count('"User": "0"') == 1


# Recorded on lab host h2-b (Debian sid, sysvinit) with `cat /proc/1/stat; grep '^btime ' /proc/stat; getconf CLK_TCK`:
# its root login's commands run under `unshare --pid --fork --mount-proc` (PID 1 is their sh), the host's own view
# (PID 1 init). dockerd wrote /var/run/docker.pid at 1796016609 (stat -c %Y).
BTIME = "btime 1795938517\n100\n"
PID1_LOGIN_NS = Result(0, "1 (sh) S 0 0 0 0 -1 4194560 84 0 0 0 0 0 0 0 20 0 1 0 7814114 2756608 424 "
                          "18446744073709551615 94401310806016 94401310887009 0 0 0\n" + BTIME)
PID1_HOST = Result(0, "1 (init) S 0 1 1 0 -1 4194560 758 55935 7 47 0 1 56 24 20 0 1 0 7808949 3616768 506 "
                      "18446744073709551615 94315913863168 94315913889601 0 0 0\n" + BTIME)
PIDFILE_WRITTEN = 1796016609.0


def test_a_login_whose_pid_namespace_is_younger_than_the_process_cannot_hold_it():
    evidence = Evidence("ssh://root@h", 10)
    assert probes.pid1_started(PID1_LOGIN_NS.stdout) == ("sh", 1796016658.14)
    later = probes.pid_namespace_after(RecordedHost(("/proc/1/stat", PID1_LOGIN_NS)), evidence, PIDFILE_WRITTEN)
    assert later == ("this login runs in a PID namespace of its own: its PID 1 ('sh') started at "
                     "2026-11-30T05:30:58Z")
    assert probes.pid_namespace_after(RecordedHost(("/proc/1/stat", PID1_HOST)), evidence, PIDFILE_WRITTEN) == ""
    assert probes.pid_namespace_after(RecordedHost(("/proc/1/stat", PID1_LOGIN_NS)), evidence,
                                      1796016658.0) == ""  # within the second the boot time is cut to: not proven
    unread = Result(1, stderr="cat: /proc/1/stat: Permission denied\n")
    assert probes.pid_namespace_after(RecordedHost(("/proc/1/stat", unread)), evidence, PIDFILE_WRITTEN) == ""


class PackageHost(RecordedHost):
    """RecordedHost as testinfra's package modules call it (run_test, check_output)."""

    def run_test(self, command, *args):
        result = self.run(command, *args)
        result.succeeded, result.failed = result.rc == 0, result.rc != 0
        return result

    def check_output(self, command, *args):
        return self.run(command, *args).stdout


def test_packages_are_read_from_the_profiles_database_whatever_else_the_host_has():
    """An RPM host with dpkg installed too (variant alinux3-dpkg-sim): testinfra's host.package took dpkg-query there,
    which knows none of its packages; the rhel profile reads rpm, the debian profile dpkg, whatever else exists."""
    host = PackageHost(("rpm -q --quiet docker-ce", Result(0)), ("rpm -q --quiet lvm2", Result(1)),
                       ('--queryformat="%{VERSION}" docker-ce', Result(0, "20.10.24")),
                       ("-W docker.io", Result(0, "install ok installed 20.10.24")))
    evidence = Evidence("ssh://alinux3", 10)
    rpm = probes.Packages(host, evidence, "rpm")
    assert rpm.installed("docker-ce") and not rpm.installed("lvm2")
    assert probes.Packages(host, evidence, "dpkg").installed("docker.io")
    assert not any("dpkg" in command for command in host.ran[:3])
    assert "RpmPackage('docker-ce').is_installed -> True (version 20.10.24)" in evidence.items[0]["text"]
