"""The HTTP probe's clients (curl, wget, python3, busybox wget) against a local server: the same answer from each,
and none of them goes through the login's proxy."""
import http.server
import select
import shutil
import socket
import ssl
import subprocess
import threading

import pytest
import requests.adapters
import testinfra

from conformance import probes
from conformance.evidence import Evidence
from conformance.judges.registry import TlsTrust
from conformance.outcomes import ObserverError


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        found = self.path.endswith("/v2/")  # also "http://h:p/v2/", the absolute form a proxy is asked for
        body = b"{}" if found else b"<html><title>404 Not Found</title></html>"
        self.send_response(200 if found else 404)
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        self.send_header("X-Accept", self.headers.get("Accept", ""))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.mark.parametrize("tool", probes.HTTP_CLIENTS)
def test_each_client_gives_the_same_answer_without_the_logins_proxy(server, tool, monkeypatch):
    if not shutil.which(tool.split()[0]):
        pytest.skip(f"{tool.split()[0]} is not on this machine")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")  # a dead proxy: a client that used it would get nothing
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    host = testinfra.get_host("local://")
    http = probes.Http(host, Evidence("local://", 10), 5)
    host.backend.conformance_http_client = tool  # as if the target had looked and found this one first
    try:
        status, headers, body = http._remote(f"{server}/v2/", ["Accept: application/json, text/plain"])
        assert (status, headers["docker-distribution-api-version"], headers["x-accept"], body) == (
            200, "registry/2.0", "application/json, text/plain", "{}")
        status, headers, body = http._remote(f"{server}/absent", [])
        assert status == 404 and headers["docker-distribution-api-version"] == "registry/2.0"
        assert http._remote("http://127.0.0.1:9/", []) == (None, {}, "")  # nothing listens: the host's finding
        # through a proxy (the engine's, for the registry checks): the server, asked as a proxy, answers for a URL
        # whose own address nothing listens on; the login's dead proxy is not used
        status, headers, body = http._remote("http://127.0.0.1:9/v2/", [], proxy=server)
        assert (status, body) == (200, "{}")
    finally:
        del host.backend.conformance_http_client


# ---- https: each client trusts the certificate as dockerd would (system roots + certs.d CAs, or not at all) ----

def self_signed(directory, name):
    """A self-signed certificate for 127.0.0.1 (its own CA) and its key, made with openssl."""
    crt, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(crt)],
                   check=True, capture_output=True, timeout=60)
    return crt, key


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """(https URL, the CA that signed it, another CA) of a local server answering as a registry over TLS."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is not on this machine")
    directory = tmp_path_factory.mktemp("tls")
    crt, key = self_signed(directory, "mirror")
    other, _ = self_signed(directory, "other")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(crt, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}", str(crt), str(other)
    httpd.shutdown()


@pytest.mark.parametrize("tool", ["requests", *probes.HTTP_CLIENTS])
def test_each_client_trusts_a_mirror_certificate_as_dockerd_does(tls_server, tool, tmp_path, monkeypatch):
    url, ca, other = tls_server
    if tool != "requests" and not shutil.which(tool.split()[0]):
        pytest.skip(f"{tool.split()[0]} is not on this machine")
    # a login whose own settings would trust anything (or hide a non-2xx answer): not the probe's
    (tmp_path / ".curlrc").write_text("insecure\nfail\n")
    (tmp_path / ".wgetrc").write_text("check_certificate = off\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    host = testinfra.get_host("local://")
    probe = probes.Http(host, Evidence("local://", 10), 5)

    def get(tls):
        if tool == "requests":  # the local:// path
            return probe.get(f"{url}/v2/", tls=tls)[0]
        return probe._remote(f"{url}/v2/", [], tls=tls)[0]

    host.backend.conformance_http_client = tool
    try:
        if tool == "busybox wget":  # it cannot verify: no verdict from it
            with pytest.raises(ObserverError, match="does not verify TLS certificates"):
                get(TlsTrust(True, "verified", (ca,)))
            return
        assert get(None) is None  # its certificate is in no system store: nothing trusted answered
        assert get(TlsTrust(True, "verified", (ca,))) == 200
        assert get(TlsTrust(True, "verified", (other, ca))) == 200  # the CA that signed it among others
        assert get(TlsTrust(True, "verified", (other,))) is None
        assert get(TlsTrust(False, "insecure registry")) == 200
    finally:
        del host.backend.conformance_http_client


ROOT_LAYOUTS = {  # name: (the system's root files, in Go's order; whether its root directory holds the mirror's CA)
    "first-readable-file": (["absent", "ca"], False),  # update-ca-trust's bundle on CentOS/RHEL 7, 5th in Go's list
    "file-in-directory": (["other"], True),  # every file of /etc/ssl/certs is read, beside the bundle
    "second-file-unread": (["other", "ca"], False),  # Go stops at the first file it reads
}


@pytest.mark.parametrize("layout", ROOT_LAYOUTS)
def test_local_session_trusts_the_system_roots_dockerd_reads(tls_server, layout, tmp_path, monkeypatch):
    """On local://, a verified mirror without certs.d files is trusted as dockerd trusts it: with the roots Go reads
    (a company CA installed by update-ca-certificates or update-ca-trust), not certifi's bundle."""
    url, ca, other = tls_server
    files, in_directory = ROOT_LAYOUTS[layout]
    (tmp_path / "certs").mkdir()
    if in_directory:
        shutil.copy(ca, tmp_path / "certs" / "company-ca.pem")
    paths = {"absent": str(tmp_path / "absent.crt"), "ca": ca, "other": other}
    monkeypatch.setattr(probes, "SYSTEM_ROOT_FILES", tuple(paths[f] for f in files))
    monkeypatch.setattr(probes, "SYSTEM_ROOT_DIRS", (str(tmp_path / "certs"),))
    evidence = Evidence("local://", 10)
    status = probes.Http(testinfra.get_host("local://"), evidence, 5).get(f"{url}/v2/", tls=TlsTrust(True, "v"))[0]
    assert status == (None if layout == "second-file-unread" else 200), evidence.text()


@pytest.mark.parametrize("named_by", ["SSL_CERT_FILE", "SSL_CERT_DIR", "certifi"])
def test_local_session_trusts_no_roots_but_dockerds(tls_server, named_by, tmp_path, monkeypatch):
    """The mirror's CA named by the runner's SSL_CERT_FILE or SSL_CERT_DIR (the login's, not dockerd's) or by
    certifi's bundle, not by the system's roots, does not make the local:// session trust the mirror."""
    url, ca, other = tls_server
    if named_by == "SSL_CERT_DIR":
        hashed = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", ca], check=True, capture_output=True,
                                text=True, timeout=60).stdout.strip()
        shutil.copy(ca, tmp_path / f"{hashed}.0")  # as c_rehash names it: how OpenSSL looks in SSL_CERT_DIR
    monkeypatch.setenv("SSL_CERT_FILE", ca if named_by == "SSL_CERT_FILE" else other)
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    monkeypatch.setattr(requests.adapters, "DEFAULT_CA_BUNDLE_PATH", ca if named_by == "certifi" else other)
    monkeypatch.setattr(probes, "SYSTEM_ROOT_FILES", (other,))
    monkeypatch.setattr(probes, "SYSTEM_ROOT_DIRS", ())
    evidence = Evidence("local://", 10)
    probe = probes.Http(testinfra.get_host("local://"), evidence, 5)
    for trust in (TlsTrust(True, "v"), TlsTrust(True, "v", (other,))):  # without and with a certs.d CA
        assert probe.get(f"{url}/v2/", tls=trust)[0] is None, evidence.text()


class Tunnel(http.server.BaseHTTPRequestHandler):
    """An http proxy relaying CONNECT tunnels (a company proxy in front of an https mirror); opened lists them."""
    opened: list[str] = []

    def do_CONNECT(self):  # noqa: N802 - http.server's name
        host, _, port = self.path.rpartition(":")
        with socket.create_connection((host, int(port)), timeout=10) as upstream:
            Tunnel.opened.append(self.path)
            self.send_response(200)
            self.end_headers()
            while ready := select.select([self.connection, upstream], [], [], 10)[0]:
                for end in ready:
                    data = end.recv(65536)
                    if not data:
                        return
                    (upstream if end is self.connection else self.connection).sendall(data)

    def log_message(self, *args):
        pass


def test_local_session_trusts_the_same_roots_through_a_proxy(tls_server, monkeypatch):
    """Through the proxy dockerd uses for the mirror (a CONNECT tunnel), the local:// session trusts as directly:
    the system's roots plus the certs.d CAs, not the runner's SSL_CERT_FILE."""
    url, ca, other = tls_server
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Tunnel)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    monkeypatch.setenv("SSL_CERT_FILE", ca)
    monkeypatch.setattr(probes, "SYSTEM_ROOT_DIRS", ())
    evidence = Evidence("local://", 10)
    probe = probes.Http(testinfra.get_host("local://"), evidence, 5)
    via = f"http://127.0.0.1:{proxy.server_address[1]}"
    try:
        Tunnel.opened.clear()
        for roots, cas, expected in [(other, (), None), (other, (ca,), 200), (ca, (), 200)]:
            monkeypatch.setattr(probes, "SYSTEM_ROOT_FILES", (roots,))
            assert probe.get(f"{url}/v2/", proxy=via, tls=TlsTrust(True, "v", cas))[0] == expected, evidence.text()
        assert len(Tunnel.opened) == 3
    finally:
        proxy.shutdown()


def test_a_common_name_only_certificate_is_read_and_refused_as_dockerd_refuses_it(tmp_path):
    """curl (OpenSSL) answers through a certificate naming 127.0.0.1 only as its Common Name; dockerd (Go >= 1.15)
    does not: the leaf read on the target says why, and requests and the python3 stand-in refuse it themselves."""
    from conformance.judges import registry as judge
    if not shutil.which("openssl"):
        pytest.skip("openssl is not on this machine")
    crt, key = tmp_path / "cn.crt", tmp_path / "cn.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-keyout", str(key), "-out", str(crt)], check=True, capture_output=True, timeout=60)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(crt, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url, trust = f"https://127.0.0.1:{httpd.server_address[1]}/v2/", TlsTrust(True, "verified", (str(crt),))
    try:
        host = testinfra.get_host("local://")
        probe = probes.Http(host, Evidence("local://", 10), 5)
        assert judge.go_hostname_error(probe.leaf_certificate(url), "127.0.0.1") == judge.LEGACY_CN
        assert probe.get(url, tls=trust)[0] is None  # requests (local://)
        host.backend.conformance_http_client = "python3"
        try:
            assert probe._remote(url, [], tls=trust)[0] is None
        finally:
            del host.backend.conformance_http_client
    finally:
        httpd.shutdown()
