"""A fake engine on a unix socket for tests that need docker-py's own reading code: canned answers by path."""
import socket
import threading

VERSION = b'{"ApiVersion": "1.41", "Version": "20.10.24"}'


def answer(status: str, body: bytes) -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body)


class CuttingEngine:
    """A unix-socket engine answering each request from canned bytes (by path suffix), one request per connection;
    the connection is closed after the bytes, so a cut-off answer stays cut off."""

    def __init__(self, path, answers: dict[str, bytes]):
        self.path, self.answers = path, {"/version": answer("200 OK", VERSION), **answers}
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen(16)
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.close()

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    def _serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return  # closed by __exit__
            with conn:
                head = b""
                while b"\r\n\r\n" not in head:
                    data = conn.recv(65536)
                    if not data:
                        break
                    head += data
                path = head.split(b" ", 2)[1].decode().split("?")[0] if head else ""
                route = next((r for r in self.answers if path.endswith(r)), None)
                conn.sendall(self.answers[route] if route else answer("404 Not Found", b'{"message": "not faked"}'))
                conn.shutdown(socket.SHUT_RDWR)
