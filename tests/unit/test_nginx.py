"""Seed 1.2 nginx checks fed recorded engine answers in which the behaviour is broken."""
import pytest

from conformance.judges import nginx as judge
from judged import message

CID = "2c1e0a7f3b9d" + "0" * 52
WELCOME = "<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n</head><body>...</body></html>"


@pytest.mark.red("nginx.run")
def test_container_that_exits_fails():
    assert judge.stays_running(["running"] * 5).ok
    assert "running, exited" in message(judge.stays_running(["running", "exited", "exited"]))
    assert "none" in message(judge.stays_running([]))


@pytest.mark.red("nginx.listed")
def test_container_missing_from_ps_or_not_running_fails():
    assert judge.listed([{"Id": CID, "State": "running", "Status": "Up 2 seconds"}], CID).ok
    assert "not among the 1 running containers" in message(judge.listed([{"Id": "f" * 64, "State": "running"}], CID))
    assert "State restarting" in message(judge.listed([{"Id": CID, "State": "restarting", "Status": "Restarting"}], CID))


@pytest.mark.red("nginx.exec")
def test_exec_that_ran_on_the_host_or_failed_fails():
    assert judge.exec_inside(0, "2c1e0a7f3b9d\n", "2c1e0a7f3b9d", "vm").ok
    assert "output 'vm'" in message(judge.exec_inside(0, "vm\n", "2c1e0a7f3b9d", "vm"))
    text = message(judge.exec_inside(126, 'OCI runtime exec failed: exec: "bash": not found', "2c1e0a7f3b9d", "vm"))
    assert "exit 126" in text


@pytest.mark.red("nginx.isolated-fs")
def test_shared_filesystem_fails():
    assert judge.isolated_fs(True, False, False).ok
    assert "seen on the host: True" in message(judge.isolated_fs(True, True, False))
    assert "seen inside: True" in message(judge.isolated_fs(True, False, True))
    assert "file written inside: False" in message(judge.isolated_fs(False, False, False))


def test_bridge_address_read_from_networks_only():
    attrs = {"NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.2"}}}}  # no top-level IPAddress (API 1.52)
    assert judge.bridge_address(attrs) == ("172.17.0.2", {"bridge": "172.17.0.2"})


@pytest.mark.red("nginx.bridge-ip")
def test_no_bridge_or_outside_subnet_fails():
    assert judge.bridge_ip("172.17.0.2", {"bridge": "172.17.0.2"}, "172.17.0.0/16").ok
    text = message(judge.bridge_ip(None, {"none": ""}, None))
    assert "no 'bridge' network" in text and "'none': ''" in text
    assert "172.18.0.0/16" in message(judge.bridge_ip("172.17.0.2", {"bridge": "172.17.0.2"}, "172.18.0.0/16"))


@pytest.mark.red("nginx.http")
def test_nginx_not_answering_or_other_page_fails():
    assert judge.http_welcome(200, WELCOME).ok
    intranet = "<html><head><title>Acme intranet</title></head></html>"  # an nginx:latest of the host's own
    assert judge.http_welcome(200, intranet, "nginx/1.25.4").ok
    assert "Server 'Apache/2.4.62'" in message(judge.http_welcome(200, intranet, "Apache/2.4.62"))
    assert "HTTP 404" in message(judge.http_welcome(404, "<title>404 Not Found</title>", "nginx/1.25.4"))
    assert "HTTP no answer" in message(judge.http_welcome(None, ""))
    assert "HTTP 502" in message(judge.http_welcome(502, "<title>502 Bad Gateway</title>"))
    assert "title 'Apache2 Debian Default Page: It works'" in message(
        judge.http_welcome(200, "<title>Apache2 Debian Default Page: It works</title>"))

