"""The generic probes of conformance/probes.py on recorded answers."""
from conformance import probes


def test_curl_output_parsed():
    raw = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nDocker-Content-Digest: sha256:abc\r\n\r\n{}"
    assert probes.parse_http(raw) == (200, {"docker-content-digest": "sha256:abc"}, "{}")
    assert probes.parse_http("") == (None, {}, "")
