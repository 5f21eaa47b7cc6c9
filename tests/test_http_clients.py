"""The HTTP probe's clients (curl, wget, python3, busybox wget) against a local server: the same answer from each,
and none of them goes through the login's proxy."""
import http.server
import shutil
import ssl
import subprocess
import threading

import pytest
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
