"""The generic probes of conformance/probes.py on recorded answers."""
import hashlib

import testinfra

from conformance import probes
from conformance.evidence import Evidence


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
    notes = [item["text"] for item in evidence.items]
    assert notes[0].endswith("content_string ->\nID=debian\n") and notes[1].endswith("not read: no such file")
    assert notes[3].endswith("sha256sum -> nothing (no such file, or unreadable)")
