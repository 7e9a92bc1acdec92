"""A small threaded fake of the Klaviyo and Loops APIs on 127.0.0.1 (ephemeral port).

It records every request and can be programmed to misbehave: fail every Nth request
with 500, answer 429 (with or without Retry-After), answer slowly, or refuse the key
with 401. Klaviyo events are de-duplicated by ``unique_id`` and Loops events by
``Idempotency-Key`` (409 on reuse), like the real platforms, so tests can count what a
platform would actually have kept.

    with FakePlatforms() as fake:
        fake.configure(fail_every=2)  # every 2nd request gets a 500
        settings.KLAVIYO_API_URL = fake.url
        ...
        fake.requests_to("/api/events")
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    status: int


@dataclass
class FakeState:
    fail_every: int = 0  # every Nth request -> 500
    rate_limit_every: int = 0  # every Nth request -> 429
    retry_after: str | None = None  # Retry-After header value sent with 429s
    delay: float = 0.0  # seconds before answering
    unauthorized: bool = False  # every request -> 401
    requests: list[Recorded] = field(default_factory=list)
    klaviyo_events: dict[str, dict] = field(default_factory=dict)  # unique_id -> event attributes
    loops_events: dict[str, dict] = field(default_factory=dict)  # Idempotency-Key -> body
    counter: int = 0


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # quiet
        return

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        parts = urlsplit(self.path)
        state = self.server.state
        with self.server.lock:
            state.counter += 1
            n = state.counter
        if state.delay:
            time.sleep(state.delay)
        status, payload, headers = self.server.respond(n, self.command, parts.path, self.headers, body)
        with self.server.lock:
            state.requests.append(
                Recorded(self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()), body, status)
            )
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512  # the default backlog (5) resets connections under concurrent load

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = FakeState()
        self.lock = threading.Lock()

    def respond(self, n: int, method: str, path: str, headers: Any, body: Any) -> tuple[int, Any, dict[str, str]]:
        state = self.state
        if state.unauthorized:
            return (
                401,
                {"errors": [{"detail": "Incorrect authentication credentials."}], "message": "Invalid API key"},
                {},
            )
        if state.fail_every and n % state.fail_every == 0:
            return 500, {"errors": [{"detail": "fake outage"}]}, {}
        if state.rate_limit_every and n % state.rate_limit_every == 0:
            extra = {"Retry-After": state.retry_after} if state.retry_after is not None else {}
            return 429, {"errors": [{"detail": "throttled"}]}, extra
        route = ROUTES.get((method, path)) or (
            _list_add if method == "POST" and path.startswith("/api/lists/") else None
        )
        if route is None:
            return 404, {"errors": [{"detail": f"no route {method} {path}"}]}, {}
        with self.lock:
            return route(state, headers, body)


def _klaviyo_event(state: FakeState, headers: Any, body: Any):
    attrs = body["data"]["attributes"]
    state.klaviyo_events.setdefault(attrs.get("unique_id") or uuid.uuid4().hex, attrs)
    return 202, None, {}


def _klaviyo_bulk(state: FakeState, headers: Any, body: Any):
    for entry in body["data"]["attributes"]["events-bulk-create"]["data"]:
        for event in entry["attributes"]["events"]["data"]:
            attrs = event["attributes"]
            state.klaviyo_events.setdefault(attrs.get("unique_id") or uuid.uuid4().hex, attrs)
    return 202, {"data": {"type": "event-bulk-create-job", "id": uuid.uuid4().hex}}, {}


def _profile_import(state: FakeState, headers: Any, body: Any):
    return 201, {"data": {"type": "profile", "id": "01FAKE" + uuid.uuid4().hex[:10].upper()}}, {}


def _list_add(state: FakeState, headers: Any, body: Any):
    return 204, None, {}


def _loops_event(state: FakeState, headers: Any, body: Any):
    key = headers.get("Idempotency-Key")
    if key and key in state.loops_events:
        return 409, {"success": False, "message": "Idempotency key has been used."}, {}
    state.loops_events[key or uuid.uuid4().hex] = body
    return 200, {"success": True}, {}


_ACCOUNTS = {
    "data": [
        {"type": "account", "id": "FAKE01", "attributes": {"contact_information": {"organization_name": "Fake shop"}}}
    ]
}
_PROBES = ("/api/events", "/api/lists", "/api/flows", "/api/metrics")

ROUTES = {
    ("POST", "/api/events"): _klaviyo_event,
    ("POST", "/api/event-bulk-create-jobs"): _klaviyo_bulk,
    ("POST", "/api/profile-import"): _profile_import,
    ("GET", "/api/profiles"): lambda s, h, b: (200, {"data": []}, {}),
    ("POST", "/api/v1/events/send"): _loops_event,
    ("PUT", "/api/v1/contacts/update"): lambda s, h, b: (200, {"success": True, "id": "c_fake"}, {}),
    ("GET", "/api/v1/contacts/find"): lambda s, h, b: (200, [], {}),
    ("GET", "/api/v1/api-key"): lambda s, h, b: (200, {"success": True, "teamName": "Fake team"}, {}),
    # The destination Test's reads (a full-access key) and erasure
    ("GET", "/api/accounts"): lambda s, h, b: (200, _ACCOUNTS, {}),
    **{("GET", path): (lambda s, h, b: (200, {"data": []}, {})) for path in _PROBES},
    ("POST", "/api/data-privacy-deletion-jobs"): lambda s, h, b: (202, None, {}),
    ("POST", "/api/v1/contacts/delete"): lambda s, h, b: (200, {"success": True, "message": "Contact deleted."}, {}),
}


class FakePlatforms:
    """Start on enter (or ``start()``), always stopped on exit (or ``stop()``)."""

    def __init__(self) -> None:
        self._server = _Server()
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def state(self) -> FakeState:
        return self._server.state

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __getattr__(self, name: str) -> Any:  # fake.fail_every, fake.delay, ... proxy the state
        return getattr(self._server.state, name)

    def configure(self, **changes: Any) -> None:
        with self._server.lock:
            for key, value in changes.items():
                setattr(self._server.state, key, value)

    def requests_to(self, path: str, *, status: int | None = None) -> list[Recorded]:
        with self._server.lock:
            return [r for r in self.state.requests if r.path == path and (status is None or r.status == status)]

    def start(self) -> FakePlatforms:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakePlatforms:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
