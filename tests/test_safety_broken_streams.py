"""An engine killed or a link cut while an answer's body is read (a pull's progress, an attach's output, an export's
error text) ends the check as an error naming what happened, never as an exception the suite did not expect.

The pull and the export go through docker-py's own reading code against a fake engine on a unix socket that sends
the start of an answer and then closes the connection (what a killed dockerd does); the attach output, which docker-py
reads from the bare socket, through a stream that raises what each layer raises when the connection breaks.
"""
import pytest
import requests
import urllib3

from conformance import cleanup, probes
from conformance import engine as engines
from conformance.evidence import Evidence
from fake_engine import CuttingEngine, answer


def chunked_then_cut(status: str, first: bytes) -> bytes:
    """The head of a chunked answer and one chunk that announces more bytes than it sends: the engine died in it."""
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
            + f"{len(first) + 100:x}\r\n".encode() + first)


def client_of(fake):
    client = engines.connect("t", fake.url, 5)
    engines.guard_client(client, "t", 5)
    return client


def test_a_pull_whose_engine_dies_mid_progress_is_a_target_error(tmp_path):
    progress = b'{"status": "Pulling from library/hello-world", "id": "latest"}\r\n{"status": "Downl'
    with CuttingEngine(tmp_path / "engine.sock", {
            "/json": answer("404 Not Found", b'{"message": "No such image: hello-world:latest"}'),
            "/volumes/create": answer("201 Created", b'{"Name": "record"}'),
            "/images/create": chunked_then_cut("200 OK", progress)}) as fake:
        with pytest.raises(engines.StreamBroken) as raised:
            cleanup.PulledImages(client_of(fake), "run1", "t").ensure("hello-world")
    message = str(raised.value)
    assert message.startswith("t: pull hello-world:latest: connection broke mid-answer (engine stopped or link cut): ")
    assert "IncompleteRead" in message, message


def test_an_export_whose_engine_dies_mid_answer_is_a_target_error(tmp_path):
    with CuttingEngine(tmp_path / "engine.sock", {
            "/get": chunked_then_cut("500 Internal Server Error", b'{"message": "failed to ')}) as fake:
        with pytest.raises(engines.StreamBroken) as raised:
            probes.image_export(client_of(fake), "nginx:latest", Evidence("t", 5), 5)
    assert str(raised.value).startswith("t: engine API GET /images/nginx:latest/get: connection broke mid-answer ")


def test_an_export_whose_engine_dies_before_answering_is_a_target_error(tmp_path):
    with CuttingEngine(tmp_path / "engine.sock", {"/get": b""}) as fake:
        with pytest.raises(engines.TargetError) as raised:
            probes.image_export(client_of(fake), "nginx:latest", Evidence("t", 5), 5)
    assert str(raised.value).startswith("t: engine API GET /images/nginx%3Alatest/get: "), raised.value
    assert "RemoteDisconnected" in str(raised.value), raised.value


class Api:
    def __init__(self, broken: Exception):
        self.broken = broken

    def attach(self, *args, **kwargs):
        return self.output()

    def output(self):
        yield b"Hello from Docker!\n"
        raise self.broken


class Container:
    short_id, id = "c0ffee", "c0ffee" * 10

    def __init__(self, broken: Exception):
        self.client = type("Client", (), {"api": Api(broken)})()

    def start(self):
        pass


class Make:
    def __init__(self, broken: Exception):
        self.broken = broken

    def created(self, image, command):
        return Container(self.broken)


@pytest.mark.parametrize("broken", [
    urllib3.exceptions.ProtocolError("Connection broken: IncompleteRead(0 bytes read)"),
    requests.exceptions.ConnectionError("Connection aborted."),
    requests.exceptions.ChunkedEncodingError("Connection broken: InvalidChunkLength"),
    ConnectionResetError(104, "Connection reset by peer"),
], ids=lambda e: type(e).__name__)
def test_an_attach_whose_engine_dies_mid_output_is_a_target_error(broken):
    with pytest.raises(engines.StreamBroken) as raised:
        probes.output_to_exit(Make(broken), "hello-world:latest", None, Evidence("t", 5), 5)
    assert str(raised.value).startswith("t: read the output of container c0ffee: connection broke mid-answer "), \
        raised.value
