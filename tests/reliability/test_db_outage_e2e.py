"""PostgreSQL "restarted" under load: gunicorn and the django-q2 cluster reach the database through
a TCP proxy that the test cuts (every connection dropped, new ones refused) and restores.

Restarting the shared server would break everyone else's tests, hence the proxy. While it is
down ingest answers 503 + Retry-After (never 202), the workers reconnect once it is back, and
every event that was accepted, or retried by its client, is delivered exactly once.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
import requests

from tests.e2e.stack import PYTHON, wait_until
from tests.e2e.test_delivery_e2e import _setup
from tests.reliability.tcpproxy import TcpProxy

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.postgres,
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="needs PostgreSQL: the outage is a TCP proxy in front of the PostgreSQL server",
    ),
]

ENV = {
    "DELIVERY_RETRY_BASE_SECONDS": "0.2",
    "DELIVERY_RETRY_FACTOR": "1.5",
    "DELIVERY_RETRY_CAP_SECONDS": "1",
    "DELIVERY_RETRY_JITTER": "0",
    "DELIVERY_MAX_ATTEMPTS": "40",
    "DELIVERY_LEASE_SECONDS": "6",
    "DELIVERY_TASK_BUDGET_SECONDS": "3",
    "Q_WORKERS": "2",
    "Q_TIMEOUT": "20",
    "Q_RETRY": "30",
    "DATABASE_CONN_MAX_AGE": "60",
    "EVENT_REQUEUE_AFTER_SECONDS": "2",
}


def _event(prefix: str, i: int) -> dict:
    return {
        "event_id": f"{prefix}-{i}-{uuid.uuid4().hex[:6]}",
        "type": "AddToCart",
        "anonymous_id": f"anon-{i % 4}",
        "timestamp": datetime.now(UTC).isoformat(),
        "identifiers": {"email": f"db{i % 4}@acme-outdoors.co"},  # example.com is junk (issue 12)
        "properties": {"ProductName": "Mug", "Price": 12, "Quantity": 1},
    }


def test_database_outage_under_load_loses_nothing(stack_factory, fake_platforms):
    stack = stack_factory(**ENV)
    merchant = _setup(stack)
    pg = urlsplit(stack.database_url)
    proxy = TcpProxy(pg.hostname, pg.port or 5432).start()
    try:
        stack.env["DATABASE_URL"] = stack.database_url.replace(pg.netloc.split("@")[-1], proxy.url_host)
        base = stack.start_server()
        stack.start_worker()
        _start_resilient_sweeper(stack)
        _run_outage(stack, base, merchant["write_key"], proxy, fake_platforms)
    finally:
        proxy.stop()


def _start_resilient_sweeper(stack) -> None:
    """Like Stack.start_sweeper (django-q2's scheduler fires at most every 30 s), but it rides out
    the outage the way the cluster's own scheduler does: log, drop the connection, go on."""
    code = (
        "import time\n"
        "from django.db import close_old_connections, connection\n"
        "from django_q.tasks import async_task\n"
        "end = time.monotonic() + 120\n"
        "while time.monotonic() < end:\n"
        "    try:\n"
        "        async_task('destinations.tasks.sweep_deliveries')\n"
        "        async_task('events.tasks.requeue_unprocessed_events')\n"
        "    except Exception as exc:\n"
        "        print('sweeper:', type(exc).__name__, flush=True)\n"
        "        connection.close()\n"
        "    time.sleep(0.3)\n"
    )
    stack._spawn([PYTHON, "manage.py", "shell", "-c", code], "sweeper.log")


def _post(base: str, key: str, event: dict) -> requests.Response:
    return requests.post(f"{base}/api/v1/events", json=event, headers={"X-Write-Key": key}, timeout=15)


def _run_outage(stack, base: str, key: str, proxy: TcpProxy, fake) -> None:
    prefix = f"db-{uuid.uuid4().hex[:4]}"
    events = [_event(prefix, i) for i in range(30)]
    accepted: set[str] = set()
    for event in events[:10]:
        assert _post(base, key, event).status_code == 202
        accepted.add(event["event_id"])

    proxy.refuse()  # the database "restarts": connections cut, new ones refused
    retry_later = []
    for event in events[10:20]:
        response = _post(base, key, event)
        assert response.status_code == 503, response.text  # never a 202 for an event not stored
        assert response.json()["error"]["code"] == "service_unavailable"
        assert int(response.headers["Retry-After"]) >= 1
        retry_later.append(event)
    proxy.forward()

    def client_retries():  # what the pixel does with a 503: send again after Retry-After
        for event in list(retry_later):
            if _post(base, key, event).status_code == 202:
                retry_later.remove(event)
                accepted.add(event["event_id"])
        return not retry_later

    wait_until(client_retries, timeout=20, interval=0.5, message="the database to come back")
    for event in events[20:]:
        assert _post(base, key, event).status_code == 202
        accepted.add(event["event_id"])

    ids = {e["event_id"] for e in events}
    assert accepted == ids

    def delivered():
        return {k for k in fake.state.klaviyo_events if k.startswith(prefix)} == ids and sorted(
            r.body["eventProperties"]["eventId"] for r in fake.requests_to("/api/v1/events/send", status=200)
        ) == sorted(ids)

    try:
        wait_until(delivered, timeout=60, interval=0.5, message="every event delivered after the outage")
    except AssertionError as exc:
        state = stack.shell(
            "import json; from django.db.models import Count; from destinations.models import Delivery; "
            "from events.models import Event; print(json.dumps([list(Delivery.objects.values_list('status')"
            ".annotate(n=Count('id'))), Event.objects.filter(processed_at__isnull=True).count()]))"
        )
        raise AssertionError(f"{exc}; deliveries/unprocessed {state}\n{stack.logs(tail=6000)}") from None
    stored = stack.shell(
        "import json; from events.models import Event; "
        "print(json.dumps([Event.objects.count(), Event.objects.filter(processed_at__isnull=True).count()]))"
    )
    assert stored == [30, 0]
