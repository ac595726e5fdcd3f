"""Real HTTP receivers for webhook tests: a small threaded HTTP server on a free local port that
keeps every POST, checks its signature with the secret it is given, and answers what the test
asks (200, 500, a redirect). It can be started late, on a port fixed in advance, so that a test
can see a message retried until its receiver comes up."""

import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Post:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool | None = None

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    port: int
    secret: str | None = None
    status: int = 200
    answer_headers: dict[str, str] = field(default_factory=dict)
    posts: list[Post] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def __post_init__(self):
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def expected_signature(self, body: bytes) -> str:
        return "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                signature = self.headers.get("X-ConflictWatch-Signature")
                ok = None
                if receiver.secret is not None:
                    ok = signature is not None and hmac.compare_digest(
                        signature, receiver.expected_signature(body)
                    )
                with receiver._lock:
                    receiver.requests.append(f"POST {self.path}")
                    receiver.posts.append(
                        Post(self.path, {k.lower(): v for k, v in self.headers.items()}, body, ok)
                    )
                self.send_response(receiver.status)
                for name, value in receiver.answer_headers.items():
                    self.send_header(name, value)
                answer = b"ok" if receiver.status < 300 else b"receiver says no <b>\r\n" * 100
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def do_GET(self):  # noqa: N802
                with receiver._lock:
                    receiver.requests.append(f"GET {self.path}")
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def events(self) -> list[str]:
        return [p.json.get("event") for p in self.posts]
