"""A tiny threaded fake of the Klaviyo API on 127.0.0.1 (ephemeral port), recording requests."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeKlaviyo:
    """Answers like Klaviyo (202 events, 201 profile import, 204 list add) unless told to fail."""

    requests: list[Recorded] = field(default_factory=list)
    fail_status: int | None = None  # answer every request with this status while set
    fail_body: str = '{"errors":[{"status":400,"code":"invalid","detail":"Fake rejection for the test"}]}'
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, method: str, path: str) -> tuple[int, bytes]:
        if self.fail_status:
            return self.fail_status, self.fail_body.encode()
        if path.startswith("/api/profile-import"):
            return 201, json.dumps({"data": {"type": "profile", "id": "01FAKEPROFILE"}}).encode()
        if "/relationships/" in path:
            return 204, b""
        if path.startswith("/api/event-bulk-create-jobs"):
            return 202, json.dumps({"data": {"type": "event-bulk-create-job", "id": "job"}}).encode()
        if method == "GET":  # the Test button's reads (accounts, one item per resource)
            return 200, json.dumps({"data": [{"type": "account", "id": "FAKE01"}]}).encode()
        return 202, b""

    def methods(self) -> set[str]:
        with self.lock:
            return {r.method for r in self.requests}

    def paths(self) -> list[str]:
        with self.lock:
            return [r.path for r in self.requests]


def _handler(fake: FakeKlaviyo):
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with fake.lock:
                fake.requests.append(Recorded(self.command, self.path, dict(self.headers), body))
            status, payload = fake.answer(self.command, self.path)
            self.send_response(status)
            self.send_header("Content-Type", "application/vnd.api+json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if payload:
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = _serve

        def log_message(self, *args) -> None:  # keep test output quiet
            return

    return Handler


class FakeServer:
    def __init__(self) -> None:
        self.fake = FakeKlaviyo()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.fake))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
