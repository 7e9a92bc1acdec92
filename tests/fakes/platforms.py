"""Klaviyo and Loops doubles served together on 127.0.0.1 (ephemeral port), for the e2e
tests and the benchmarks.

The behaviour is the semantic doubles' (tests/fakes/klaviyo.py, tests/fakes/loops.py):
profiles and contacts, unique_id and Idempotency-Key de-duplication, flows, strict
validation. On top, this keeps the old programmable faults the e2e suite and the
benchmarks use: fail every Nth request with 500, answer 429 (with or without
Retry-After) every Nth, answer slowly, or refuse the key with 401.

    with FakePlatforms() as fake:
        fake.configure(fail_every=2)  # every 2nd request gets a 500
        settings.KLAVIYO_API_URL = settings.LOOPS_API_URL = fake.url
        ...
        fake.klaviyo.flows_fired(), fake.loops.contacts, fake.requests_to("/api/events")
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.core import Call, DoubleServer, Logged, Reply
from tests.fakes.klaviyo import KlaviyoDouble
from tests.fakes.loops import LoopsDouble

Recorded = Logged


@dataclass
class FakeState:
    fail_every: int = 0  # every Nth request -> 500
    rate_limit_every: int = 0  # every Nth request -> 429
    retry_after: str | None = None  # Retry-After header value sent with 429s
    delay: float = 0.0  # seconds before answering
    unauthorized: bool = False  # every request -> 401
    requests: list[Recorded] = field(default_factory=list)
    klaviyo_events: dict[str, dict] = field(default_factory=dict)  # unique_id -> first event attributes
    loops_events: dict[str, dict] = field(default_factory=dict)  # Idempotency-Key -> accepted body
    counter: int = 0


class _Server(DoubleServer):
    def __init__(self) -> None:
        self.klaviyo = KlaviyoDouble()
        self.loops = LoopsDouble()
        super().__init__(self.loops, self.klaviyo)
        self.state = FakeState(klaviyo_events=self.klaviyo.events_by_unique_id, loops_events=self.loops.events_by_key)
        self.lock = threading.Lock()

    def answer(self, call: Call) -> Reply:
        state = self.state
        with self.lock:
            state.counter += 1
            n = state.counter
        if state.delay:
            time.sleep(state.delay)
        status, payload, headers = self.respond(n, call.method, call.path, call, call.body)
        with self.lock:
            state.requests.append(Recorded(call.method, call.path, call.query, call.headers, call.body, status))
        return Reply(status, payload, headers)

    def respond(self, n: int, method: str, path: str, headers: Any, body: Any) -> tuple[int, Any, dict[str, str]]:
        """(status, body, headers) for the n-th request; benchmarks wrap this to time arrivals."""
        state = self.state
        if state.unauthorized:
            detail = {"errors": [{"detail": "Incorrect authentication credentials."}], "message": "Invalid API key"}
            return 401, detail, {}
        if state.fail_every and n % state.fail_every == 0:
            return 500, {"errors": [{"detail": "fake outage"}]}, {}
        if state.rate_limit_every and n % state.rate_limit_every == 0:
            extra = {"Retry-After": state.retry_after} if state.retry_after is not None else {}
            return 429, {"errors": [{"detail": "throttled"}]}, extra
        call = headers if isinstance(headers, Call) else Call(method, path, {}, dict(headers), body)
        reply = DoubleServer.answer(self, call)
        return reply.status, reply.body, reply.headers


class FakePlatforms:
    """Start on enter (or ``start()``), always stopped on exit (or ``stop()``)."""

    def __init__(self) -> None:
        self._server = _Server()

    @property
    def state(self) -> FakeState:
        return self._server.state

    @property
    def klaviyo(self) -> KlaviyoDouble:
        return self._server.klaviyo

    @property
    def loops(self) -> LoopsDouble:
        return self._server.loops

    @property
    def url(self) -> str:
        return self._server.url

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
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> FakePlatforms:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
