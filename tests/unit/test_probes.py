"""The generic probes of conformance/probes.py on recorded answers."""
import hashlib

import testinfra

from conformance import probes
from conformance.evidence import Evidence


def test_curl_output_parsed():
    raw = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nDocker-Content-Digest: sha256:abc\r\n\r\n{}"
    assert probes.parse_http(raw) == (200, {"docker-content-digest": "sha256:abc"}, "{}")
    assert probes.parse_http("") == (None, {}, "")


class FakeFile:
    def __init__(self, is_directory):
        self.is_directory = is_directory


class FakeService:
    def __init__(self, properties):
        self.properties = properties

    @property
    def systemd_properties(self):
        if self.properties is None:
            raise AssertionError("Unexpected exit code 1 for CommandResult(...)")
        return self.properties


class FakeHost:
    """Just what unit_properties reads: /run/systemd/system and host.service(unit).systemd_properties."""

    def __init__(self, systemd, properties):
        self.systemd, self.properties = systemd, properties

    def file(self, path):
        assert path == "/run/systemd/system"
        return FakeFile(self.systemd)

    def service(self, unit):
        return FakeService(self.properties)


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


def test_unit_properties_only_where_systemd_runs():
    evidence = Evidence("t", 10)
    properties = {"ActiveState": "inactive", "SubState": "dead", "MainPID": "0", "Id": "docker.service"}
    assert probes.unit_properties(FakeHost(True, properties), evidence, "docker.service", ("ActiveState", "MainPID")) == {
        "ActiveState": "inactive", "MainPID": "0"}
    assert evidence.items[-1]["text"] == "host.service('docker.service').systemd_properties: ActiveState=inactive MainPID=0"
    assert probes.unit_properties(FakeHost(False, properties), evidence, "docker.service", ("ActiveState",)) is None
    assert probes.unit_properties(FakeHost(True, None), evidence, "docker.service", ("ActiveState",)) == {}
    assert "systemctl show failed" in evidence.items[-1]["text"]
