"""An exec's output reaches the check whole however it arrives: dockerd sends the answer's head (HTTP 101) and the
command's first frames together when the command prints before the runner reads the head (a short command on a
loaded machine). docker-py read the stream from the socket under http.client's reader and lost what that reader had
taken in with the head (docker/docker-py#3332, #2042): exit 0 and no output, three times in a row for one exec in a
fleet of lab hosts. A fake engine on a unix socket sends the head and the frames in one write."""
import struct

import pytest

from conformance import engine as engines
from conformance import probes
from conformance.evidence import Evidence
from fake_engine import CuttingEngine, answer


def frame(stream: int, payload: bytes) -> bytes:
    """One frame of the engine's multiplexed stream (stdout 1, stderr 2)."""
    return struct.pack(">BxxxL", stream, len(payload)) + payload


UPGRADED = (b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\n"
            b"Upgrade: tcp\r\n\r\n")
PRINTED = b"48c6a4ec1e1fd28ccf968490f07e34a1d7f755793b2108a3ed8670b1ee2a0aa2  /etc/nginx/nginx.conf\n"


@pytest.mark.parametrize("frames", [
    pytest.param(frame(1, PRINTED), id="one frame"),
    pytest.param(frame(1, PRINTED[:30]) + frame(1, PRINTED[30:]), id="two frames"),
])
def test_output_that_came_with_the_answers_head_is_read(tmp_path, frames):
    with CuttingEngine(tmp_path / "engine.sock", {
            "/containers/c0ffee/exec": answer("201 Created", b'{"Id": "e1"}'),
            "/exec/e1/start": UPGRADED + frames,  # one write: the reader takes in the head and the frames at once
            "/exec/e1/json": answer("200 OK", b'{"ExitCode": 0, "Running": false}')}) as fake:
        client = engines.connect("t", fake.url, 5)
        container = client.containers.prepare_model({"Id": "c0ffee"})
        assert probes.run_in(container, ["sha256sum", "/etc/nginx/nginx.conf"], Evidence("t", 5), prints=True) == (
            0, PRINTED.decode())
