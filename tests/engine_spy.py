"""A recording unix-socket relay in front of a Docker engine socket: what a client sends, request by request."""
from __future__ import annotations

import dataclasses
import json
import socket
import threading
import time
from pathlib import Path

LIFETIME_S = 600  # the relay stops accepting after this, whatever happens to the test
MAX_CONNECTIONS = 2000
CHUNK = 65536


@dataclasses.dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self):
        return json.loads(self.body) if self.body else None


class EngineSpy:
    """Relay every connection to `engine` (a unix socket path) and keep the bytes each client sent.

    Start it with `with EngineSpy(engine, path) as spy:`; afterwards spy.requests() parses what was sent.
    The relay only listens on the unix socket `path`; every loop is bounded by LIFETIME_S and MAX_CONNECTIONS.
    """

    def __init__(self, engine: str, path: Path):
        self.engine, self.path = engine, path
        self.sent: list[bytearray] = []  # per client connection, what the client sent
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.deadline = time.monotonic() + LIFETIME_S
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.threads: list[threading.Thread] = []

    def __enter__(self) -> "EngineSpy":
        self.server.bind(str(self.path))
        self.server.listen(64)
        self.server.settimeout(0.2)
        self._thread(self._accept)
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in list(self.threads):
            thread.join(5)
        self.server.close()

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    def _thread(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self.threads.append(thread)
        thread.start()

    def _running(self) -> bool:
        return not self.stop.is_set() and time.monotonic() < self.deadline

    def _accept(self) -> None:
        for _ in range(MAX_CONNECTIONS):
            while self._running():
                try:
                    client, _ = self.server.accept()
                    break
                except TimeoutError:
                    continue
            else:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.engine)
            record = bytearray()
            with self.lock:
                self.sent.append(record)
            self._thread(self._pump, client, upstream, record)
            self._thread(self._pump, upstream, client, None)

    def _pump(self, source: socket.socket, sink: socket.socket, record: bytearray | None) -> None:
        source.settimeout(0.2)
        try:
            while self._running():
                try:
                    data = source.recv(CHUNK)
                except TimeoutError:
                    continue
                if not data:
                    break
                if record is not None:
                    with self.lock:
                        record.extend(data)
                sink.sendall(data)
        except OSError:
            pass  # the other side went away
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def raw(self) -> bytes:
        with self.lock:
            return b"".join(bytes(r) for r in self.sent)

    def requests(self) -> list[Request]:
        """Every HTTP request a client sent, in order per connection (after an Upgrade, the rest is raw)."""
        with self.lock:
            streams = [bytes(r) for r in self.sent]
        found = []
        for stream in streams:
            found += _parse(stream)
        return found


def _parse(stream: bytes) -> list[Request]:
    requests, at = [], 0
    while at < len(stream):
        end = stream.find(b"\r\n\r\n", at)
        if end < 0:
            break
        head = stream[at:end].decode("latin-1").split("\r\n")
        method, path, _ = head[0].split(" ", 2)
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        at = end + 4
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = bytearray()
            while True:
                size_end = stream.index(b"\r\n", at)
                size = int(stream[at:size_end].split(b";")[0], 16)
                body += stream[size_end + 2:size_end + 2 + size]
                at = size_end + 2 + size + 2
                if size == 0:
                    break
            body = bytes(body)
        else:
            length = int(headers.get("content-length", "0"))
            body, at = stream[at:at + length], at + length
        requests.append(Request(method, path, headers, body))
        if "upgrade" in headers.get("connection", "").lower():
            break  # a hijacked stream (attach, exec start): what follows is not HTTP
    return requests


class FakeEngine:
    """A unix-socket HTTP server with canned Docker API answers that records every request (no engine needed)."""

    ANSWERS = {"/version": (200, {"ApiVersion": "1.41", "Version": "20.10.24"}),
               "/images/create": (200, {"status": "Downloaded newer image"}),
               "/containers/create": (201, {"Id": "0" * 64, "Warnings": []})}

    def __init__(self, path: Path):
        import http.server
        import socketserver

        self.path = path
        self.received: list[Request] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fake.received.append(Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                                             body))
                route = next((r for r in fake.ANSWERS if self.path.split("?")[0].endswith(r)), None)
                status, answer = fake.ANSWERS.get(route, (404, {"message": "not faked"}))
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _answer

            def log_message(self, *args):  # the base class names the client by its address, which a unix socket lacks
                pass

        class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True

        self.server = Server(str(path), Handler)

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    def __enter__(self) -> "FakeEngine":
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
