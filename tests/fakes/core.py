"""What every platform double shares: a route table, programmable faults, a request log,
and two ways to be reached: in-process as a ``responses`` callback (unit tests) and over
a local HTTP server on 127.0.0.1 (e2e tests and benchmarks).

A double's state is plain Python (dicts and dataclasses) behind one lock, so tests read
merchant-level outcomes straight from it: who was created, who was subscribed, which
flow or workflow would have fired for whom.

Adding an endpoint is one route: ``double.route("GET", r"/api/flows")(handler)``; a
handler takes a ``Call`` and returns a ``Reply``. Engineers adding platform features
(flows, metrics, reports, erasure) register their routes on the same state object.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

CLOUDFLARE_403_HTML = (
    "<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title></head>"
    '<body><div class="cf-wrapper"><h1>Sorry, you have been blocked</h1>'
    "<p>This website is using a security service to protect itself from online attacks.</p>"
    "</div></body></html>"
)


@dataclass
class Call:
    """One request as a double sees it (the same object for HTTP and ``responses``)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any

    def header(self, name: str) -> str:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), "")

    def param(self, name: str) -> str:
        values = self.query.get(name) or [""]
        return values[0]


@dataclass
class Reply:
    status: int
    body: Any = None  # JSON-serialisable, or ``str`` sent as-is (HTML)
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, str]:
        if self.body is None:
            return b"", self.headers.get("Content-Type", "application/json")
        if isinstance(self.body, str):
            return self.body.encode(), self.headers.get("Content-Type", "text/html; charset=UTF-8")
        return json.dumps(self.body).encode(), self.headers.get("Content-Type", "application/json")


@dataclass
class Logged:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    status: int


Handler = Callable[[Call, "re.Match[str]"], Reply]


@dataclass
class Faults:
    """Programmable misbehaviour, consumed one request at a time."""

    html_403_next: int = 0  # Cloudflare HTML 403 pages (a burst of them)
    rate_limit_next: int = 0  # 429s
    retry_after: str | None = "1"  # Retry-After sent with those 429s (None: no header)
    server_error_next: int = 0  # 500s


class Double:
    """Base class: routes, faults, request log, lock. Subclasses add state and routes."""

    name = "double"

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.faults = Faults()
        self.log: list[Logged] = []
        self.clock: Callable[[], float] = time.time

    # --- routing -------------------------------------------------------------------
    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes.insert(0, (method, re.compile(pattern + r"/?$"), handler))
            return handler

        return register

    def owns(self, path: str) -> bool:
        return any(p.match(path) for _, p, _ in self.routes)

    def handle(self, call: Call) -> Reply:
        with self.lock:
            reply = self.fault(call) or self.authenticate(call) or self.dispatch(call)
            self.log.append(Logged(call.method, call.path, call.query, call.headers, call.body, reply.status))
            return reply

    def dispatch(self, call: Call) -> Reply:
        for method, pattern, handler in self.routes:
            match = pattern.match(call.path)
            if match and method == call.method:
                return handler(call, match)
        return self.not_found(call)

    def fault(self, call: Call) -> Reply | None:
        faults = self.faults
        if faults.html_403_next:
            faults.html_403_next -= 1
            headers = {"Content-Type": "text/html; charset=UTF-8", "cf-mitigated": "challenge"}
            return Reply(403, CLOUDFLARE_403_HTML, headers)
        if faults.rate_limit_next:
            faults.rate_limit_next -= 1
            headers = {"Retry-After": faults.retry_after} if faults.retry_after is not None else {}
            return self.rate_limited(headers)
        if faults.server_error_next:
            faults.server_error_next -= 1
            return Reply(500, {"errors": [{"status": 500, "detail": "A server error occurred."}]})
        return None

    # --- platform-specific hooks ---------------------------------------------------------
    def authenticate(self, call: Call) -> Reply | None:
        return None

    def rate_limited(self, headers: dict[str, str]) -> Reply:
        return Reply(429, {"message": "Rate limit exceeded"}, headers)

    def not_found(self, call: Call) -> Reply:
        return Reply(404, {"message": f"no route {call.method} {call.path}"})

    # --- reading the log -----------------------------------------------------------------
    def requests_to(self, path: str, *, method: str | None = None, status: int | None = None) -> list[Logged]:
        with self.lock:
            return [
                r
                for r in self.log
                if r.path.rstrip("/") == path.rstrip("/")
                and (method is None or r.method == method)
                and (status is None or r.status == status)
            ]


def new_id(prefix: str = "") -> str:
    return prefix + uuid.uuid4().hex[:20].upper()


# --- in-process: a ``responses`` callback ------------------------------------------------
def mount(rsps: Any, double: Double, base_url: str) -> None:
    """Answer every request to ``base_url`` from ``double`` (unit tests with ``responses``)."""
    split = urlsplit(base_url)
    pattern = re.compile(re.escape(f"{split.scheme}://{split.netloc}") + r"/.*")

    def callback(request: Any) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(request.url)
        raw = request.body or b""
        if isinstance(raw, str):
            raw = raw.encode()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        call = Call(request.method, parts.path, parse_qs(parts.query), dict(request.headers), body)
        reply = double.handle(call)
        data, content_type = reply.encoded()
        headers = {k: v for k, v in reply.headers.items() if k != "Content-Type"}
        return reply.status, {**headers, "Content-Type": content_type}, data

    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        rsps.add_callback(method, pattern, callback=callback)


# --- over HTTP: a threaded server on 127.0.0.1 ------------------------------------------
class _HttpHandler(BaseHTTPRequestHandler):
    server: DoubleServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # quiet
        return

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:  # orjson: a bulk job is megabytes of JSON, and the double must not be the benchmarks' bottleneck
            body = orjson.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        parts = urlsplit(self.path)
        call = Call(self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()), body)
        reply = self.server.answer(call)
        data, content_type = reply.encoded()
        self.send_response(reply.status)
        for key, value in reply.headers.items():
            if key != "Content-Type":
                self.send_header(key, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class DoubleServer(ThreadingHTTPServer):
    """Serves one or more doubles (each owns its paths) on an ephemeral loopback port."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512  # the default backlog (5) resets connections under concurrent load

    def __init__(self, *doubles: Double) -> None:
        super().__init__(("127.0.0.1", 0), _HttpHandler)
        self.doubles = list(doubles)
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def answer(self, call: Call) -> Reply:
        for double in self.doubles:
            if double.owns(call.path):
                return double.handle(call)
        return Reply(404, {"message": f"no double serves {call.path}"})

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> DoubleServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> DoubleServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
