"""Destination faults against the real stack: gunicorn + a django-q2 cluster + a sweeper, all
subprocesses, sending to the fake Klaviyo/Loops server through a TCP proxy we can break.

One stack serves the whole module (migrations are the slow part); each test posts its own
events, programs a fault, heals it, and then checks what the fake platforms kept: every
event exactly once by Klaviyo unique_id and by Loops Idempotency-Key. The retry schedule,
HTTP timeout and lease are shortened through the subprocesses' environment; nothing sleeps
to wait for time, everything polls with a deadline.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import requests

from tests.e2e.stack import Stack, wait_until
from tests.fakes.platforms import FakePlatforms
from tests.reliability.tcpproxy import TcpProxy

pytestmark = pytest.mark.e2e

FAULT_ENV = {
    "DELIVERY_RETRY_BASE_SECONDS": "0.2",
    "DELIVERY_RETRY_FACTOR": "1.5",
    "DELIVERY_RETRY_CAP_SECONDS": "1",
    "DELIVERY_RETRY_JITTER": "0",
    "DELIVERY_MAX_ATTEMPTS": "40",
    "DELIVERY_HTTP_TIMEOUT_SECONDS": "1",
    "DELIVERY_LEASE_SECONDS": "6",
    "DELIVERY_BATCH_SIZE": "10",
    "DELIVERY_THREADS": "8",
    "DELIVERY_TASK_BUDGET_SECONDS": "3",
    "Q_WORKERS": "2",
    "Q_TIMEOUT": "20",
    "Q_RETRY": "30",
    "INGEST_RATE_LIMIT_PER_IP": "30",  # the tests post a handful of batches; the limit test below 35 requests
    # exact shared counting (the default 1 s per-process tally lets each process overshoot by
    # up to a second of its requests; tests/reliability/test_request_limits.py covers that mode)
    "INGEST_RATE_LIMIT_SYNC_SECONDS": "0",
}
STATUS_SQL = (
    "SELECT d.status, COUNT(*) FROM destinations_delivery d JOIN events_event e ON e.id = d.event_id"
    " WHERE e.event_id LIKE %s GROUP BY d.status"
)
ATTEMPTS_SQL = (
    "SELECT a.error_kind, COUNT(*) FROM destinations_deliveryattempt a"
    " JOIN destinations_delivery d ON d.id = a.delivery_id JOIN events_event e ON e.id = d.event_id"
    " WHERE e.event_id LIKE %s GROUP BY a.error_kind"
)


class FaultStack:
    """The module's stack, its fake platforms and the proxy in front of them."""

    def __init__(self, tmp_path) -> None:
        self.fake = FakePlatforms().start()
        self.proxy = TcpProxy("127.0.0.1", int(self.fake.url.rsplit(":", 1)[1])).start()
        url = f"http://{self.proxy.url_host}"
        self.stack = Stack(tmp_path, KLAVIYO_API_URL=url, LOOPS_API_URL=url, **FAULT_ENV)
        merchant = json.loads(self.stack.manage("create_merchant", "Faults", "--domain", "faults.myshopify.com"))
        self.write_key = merchant["write_key"]
        self.destinations = {}
        for kind in ("klaviyo", "loops"):
            out = self.stack.manage("add_destination", str(merchant["id"]), kind, "--api-key", f"{kind}-key-000001")
            self.destinations[kind] = json.loads(out)["id"]
        self.base = self.stack.start_server()
        self.worker = self.stack.start_worker()
        self.stack.start_sweeper(interval=0.3, lifetime=600)

    def close(self) -> None:
        for process in self.stack.processes:  # no graceful drain needed: the database is dropped next
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
        self.stack.close()
        self.proxy.stop()
        self.fake.stop()

    def heal(self) -> None:
        self.fake.configure(fail_every=0, rate_limit_every=0, retry_after=None, delay=0.0, unauthorized=False)
        self.proxy.forward()

    def post(self, prefix: str, n: int) -> set[str]:
        now = datetime.now(UTC).isoformat()
        types = ["ViewContent", "AddToCart", "InitiateCheckout", "Purchase"]
        batch = [
            {
                "event_id": f"{prefix}-{i}-{uuid.uuid4().hex[:6]}",
                "type": types[i % 4],
                "anonymous_id": f"{prefix}-anon-{i % 3}",
                "timestamp": now,
                "identifiers": {"email": f"{prefix}-{i % 3}@shopper-e2e.io"},
                "properties": {"ProductName": "Mug", "Price": 10 + i, "Quantity": 1, "Currency": "EUR"},
            }
            for i in range(n)
        ]
        response = requests.post(
            f"{self.base}/api/v1/events", json={"batch": batch}, headers={"X-Write-Key": self.write_key}, timeout=10
        )
        assert response.status_code == 202, response.text
        assert response.json()["accepted"] == n
        return {e["event_id"] for e in batch}

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        """Read the stack's database directly (a manage.py shell costs a second per call)."""
        url = self.stack.database_url
        if url.startswith("sqlite"):
            import sqlite3

            with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"), timeout=20)) as conn:
                rows = conn.execute(query.replace("%s", "?"), params).fetchall()
                conn.commit()
                return rows
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def statuses(self, prefix: str) -> dict[str, int]:
        return dict(self.sql(STATUS_SQL, (prefix + "%",)))

    def wait_delivered(self, prefix: str, n: int, *, timeout: float = 40) -> dict[str, int]:
        seen: list[dict] = []

        def done():
            seen.append(self.statuses(prefix))
            return seen[-1] if seen[-1].get("succeeded") == 2 * n else None

        try:
            return wait_until(done, timeout=timeout, interval=0.1, message=f"{prefix}: every delivery to succeed")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; last {seen[-1:]}\n{self.stack.logs()}") from None

    def assert_exactly_once(self, ids: set[str]) -> None:
        """What the platforms kept: each event once in Klaviyo, each once accepted by Loops."""
        klaviyo = {k for k in self.fake.state.klaviyo_events if k in ids}
        assert klaviyo == ids
        accepted = [r for r in self.fake.requests_to("/api/v1/events/send", status=200)]
        loops = [r.body["eventProperties"]["eventId"] for r in accepted if r.body["eventProperties"]["eventId"] in ids]
        assert sorted(loops) == sorted(ids)  # a resend with the same Idempotency-Key is a 409, never a 2nd 200

    def attempts(self, prefix: str) -> dict[str, int]:
        return dict(self.sql(ATTEMPTS_SQL, (prefix + "%",)))


@pytest.fixture(scope="module")
def faults(tmp_path_factory):
    stack = FaultStack(tmp_path_factory.mktemp("faults"))
    yield stack
    stack.close()


@pytest.fixture
def fs(faults):
    faults.heal()
    yield faults
    faults.heal()


def _prefix(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:4]}"


def test_fault_500s_for_a_while_then_recovery_delivers_every_event_exactly_once(fs):
    fs.fake.configure(fail_every=1)  # every request fails with 500
    prefix = _prefix("f500")
    ids = fs.post(prefix, 8)
    wait_until(lambda: fs.attempts(prefix).get("server", 0) >= 32, timeout=20, message="retries against the outage")
    assert fs.statuses(prefix).get("succeeded") is None
    started = time.monotonic()
    fs.heal()
    fs.wait_delivered(prefix, 8, timeout=30)
    recovery = time.monotonic() - started
    fs.assert_exactly_once(ids)
    assert recovery < 10  # the capped schedule (1 s) retries soon after the platform is back
    assert fs.statuses(prefix) == {"succeeded": 16}


@pytest.mark.parametrize("retry_after", ["1", None], ids=["with-retry-after", "without-retry-after"])
def test_fault_429_with_and_without_retry_after(fs, retry_after):
    fs.fake.configure(rate_limit_every=2, retry_after=retry_after)
    prefix = _prefix("f429")
    ids = fs.post(prefix, 6)
    fs.wait_delivered(prefix, 6, timeout=40)
    fs.assert_exactly_once(ids)
    assert fs.attempts(prefix).get("rate_limited", 0) >= 1


def test_fault_slow_responses_beyond_the_timeout(fs):
    fs.fake.configure(delay=1.5)  # > DELIVERY_HTTP_TIMEOUT_SECONDS=1: every request times out
    prefix = _prefix("fslow")
    ids = fs.post(prefix, 6)
    wait_until(lambda: fs.attempts(prefix).get("timeout", 0) >= 6, timeout=20, message="timeouts recorded")
    fs.heal()
    fs.wait_delivered(prefix, 6, timeout=30)
    # the fake finished the abandoned requests too: Klaviyo still kept one event per unique_id,
    # and Loops answered the resends 409 (key used), which counts as delivered
    fs.assert_exactly_once(ids)


def test_fault_connection_refused(fs):
    fs.proxy.refuse()
    prefix = _prefix("frefused")
    ids = fs.post(prefix, 6)
    wait_until(lambda: fs.attempts(prefix).get("network", 0) >= 6, timeout=20, message="refused connections")
    assert fs.statuses(prefix).get("dead") is None
    fs.heal()
    fs.wait_delivered(prefix, 6, timeout=30)
    fs.assert_exactly_once(ids)


def test_fault_server_accepts_and_never_answers(fs):
    fs.proxy.refuse()
    fs.proxy.hang()
    prefix = _prefix("fhang")
    ids = fs.post(prefix, 6)
    wait_until(lambda: fs.attempts(prefix).get("timeout", 0) >= 6, timeout=20, message="hung requests time out")
    assert fs.proxy.accepted >= 1
    fs.proxy.refuse()  # drop the hung connections, then behave again
    fs.heal()
    fs.wait_delivered(prefix, 6, timeout=30)
    fs.assert_exactly_once(ids)
    # no worker is stuck: a fresh event after the hang goes straight through
    later = _prefix("fafterhang")
    later_ids = fs.post(later, 2)
    fs.wait_delivered(later, 2, timeout=15)
    fs.assert_exactly_once(later_ids)


def test_fault_worker_sigkilled_mid_send_is_resent_after_its_lease_and_counted_once(fs):
    fs.fake.configure(delay=0.9)  # slow but within the timeout: the worker is mid-send when killed
    prefix = _prefix("fkill")
    before = fs.fake.state.counter
    ids = fs.post(prefix, 4)
    wait_until(lambda: fs.fake.state.counter > before, timeout=15, interval=0.01, message="a request in flight")
    os.killpg(fs.worker.pid, signal.SIGKILL)
    fs.worker.wait(timeout=10)
    assert fs.statuses(prefix).get("sending", 0) >= 1  # leased by the dead worker
    fs.heal()
    killed_at = time.monotonic()
    fs.worker = fs.stack.start_worker()
    fs.wait_delivered(prefix, 4, timeout=40)
    assert time.monotonic() - killed_at < 6 + 15  # the lease (6 s) plus a few sweeps
    fs.assert_exactly_once(ids)


def test_fault_dead_after_the_schedule_ends_is_visible_and_replay_delivers_once(fs):
    fs.fake.configure(fail_every=1)
    prefix = _prefix("fdead")
    # Fast-forward the schedule: rows waiting for a retry get one try left of DELIVERY_MAX_ATTEMPTS=40
    # (rows being sent are left alone, so no in-flight outcome overwrites it).
    fast_forward = (
        "UPDATE destinations_delivery SET attempts = 39 WHERE status = 'pending' AND attempts >= 1"
        " AND event_id IN (SELECT id FROM events_event WHERE event_id LIKE %s)"
    )
    ids = fs.post(prefix, 3)

    def all_dead():
        fs.sql(fast_forward, (prefix + "%",))
        return fs.statuses(prefix).get("dead") == 6

    wait_until(all_dead, timeout=30, interval=0.1, message="dead letters")
    errors = fs.sql(
        "SELECT DISTINCT d.last_error FROM destinations_delivery d JOIN events_event e ON e.id = d.event_id"
        " WHERE e.event_id LIKE %s",
        (prefix + "%",),
    )
    assert errors and all(e.startswith("gave up after 40 attempts") for (e,) in errors), errors
    fs.heal()
    with ThreadPoolExecutor(max_workers=2) as pool:  # the operator's command, once per destination
        list(
            pool.map(lambda d: fs.stack.manage("replay_deliveries", "--destination", str(d)), fs.destinations.values())
        )
    fs.wait_delivered(prefix, 3, timeout=30)
    fs.assert_exactly_once(ids)


def test_ingest_rate_limit_is_shared_by_the_server_processes(fs):
    """gunicorn runs two worker processes: per-process counters would let about twice the limit through."""
    limit = int(FAULT_ENV["INGEST_RATE_LIMIT_PER_IP"])
    if time.time() % 60 > 50:  # finish inside one fixed window
        wait_until(lambda: time.time() % 60 < 50, timeout=12, interval=0.1, message="a fresh rate-limit window")
    responses = [
        requests.post(
            f"{fs.base}/api/v1/events",
            data=b"{}",
            headers={"X-Write-Key": "wk_not_a_real_key", "Content-Type": "application/json"},
            timeout=10,
        )
        for _ in range(limit + 5)
    ]
    codes = [r.status_code for r in responses]
    assert 429 in codes, codes
    first = codes.index(429)
    assert first <= limit and set(codes[:first]) <= {401} and set(codes[first:]) == {429}, codes
    limited = responses[first]
    assert limited.json()["error"]["code"] == "rate_limited" and 1 <= int(limited.headers["Retry-After"]) <= 60
