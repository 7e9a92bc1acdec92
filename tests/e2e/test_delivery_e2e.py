"""Pixel events in over HTTP -> identity -> real django-q2 worker -> fake Klaviyo and Loops out."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
import requests

from tests.e2e.stack import wait_until

pytestmark = pytest.mark.e2e

FAST_RETRIES = {
    "DELIVERY_RETRY_BASE_SECONDS": "0.2",
    "DELIVERY_RETRY_FACTOR": "1.5",
    "DELIVERY_RETRY_JITTER": "0",
    "DELIVERY_MAX_ATTEMPTS": "30",
    "Q_WORKERS": "2",
}
STATUS_SQL = (
    "import json; from django.db.models import Count; from destinations.models import Delivery; "
    "print(json.dumps(dict(Delivery.objects.values_list('status').annotate(n=Count('id')).values_list('status','n'))))"
)


def _setup(stack) -> dict:
    merchant = json.loads(stack.manage("create_merchant", "E2E Shop", "--domain", "e2e.myshopify.com"))
    for kind in ("klaviyo", "loops"):
        out = json.loads(stack.manage("add_destination", str(merchant["id"]), kind, "--api-key", f"{kind}-key-123456"))
        assert "key-123456" not in json.dumps(out)
    return merchant


def _pixel_batch(n: int) -> list[dict]:
    now = datetime.now(UTC).isoformat()
    types = ["ViewContent", "AddToCart", "InitiateCheckout", "Purchase"]
    return [
        {
            "event_id": f"e2e-{i}-{uuid.uuid4().hex[:6]}",
            "type": types[i % 4],
            "anonymous_id": f"anon-{i % 5}",
            "timestamp": now,
            "identifiers": {"email": f"buyer{i % 5}@acme-outdoors.co"},  # example.com is junk to identity (h12)
            "properties": {"ProductName": "Mug", "Price": 10 + i, "Quantity": 1, "Currency": "EUR"},
        }
        for i in range(n)
    ]


def test_e2e_pixel_events_delivered_exactly_once_despite_every_other_request_failing(stack_factory, fake_platforms):
    fake_platforms.configure(fail_every=2)
    stack = stack_factory(**FAST_RETRIES)
    merchant = _setup(stack)
    base = stack.start_server()
    stack.start_worker()
    stack.start_run_sweeper()  # the real sweeper process drives the retries
    events = _pixel_batch(24)
    response = requests.post(
        f"{base}/api/v1/events", json={"batch": events}, headers={"X-Write-Key": merchant["write_key"]}, timeout=10
    )
    assert response.status_code == 202, response.text
    expected = {e["event_id"] for e in events}

    seen: list[dict] = []

    def all_delivered():
        seen.append(stack.shell(STATUS_SQL))
        return seen[-1] if seen[-1].get("succeeded") == 2 * len(events) else None

    try:
        statuses = wait_until(all_delivered, timeout=50, interval=1.0, message="every delivery to succeed")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last statuses {seen[-1:]}\n{stack.logs()}") from None
    assert set(statuses) == {"succeeded"}
    # Klaviyo kept each event once (unique_id = event_id), Loops once per Idempotency-Key
    assert set(fake_platforms.state.klaviyo_events) == expected
    assert len(fake_platforms.requests_to("/api/events", status=202)) == len(events)
    loops_ok = fake_platforms.requests_to("/api/v1/events/send", status=200)
    assert sorted(r.body["eventProperties"]["eventId"] for r in loops_ok) == sorted(expected)
    assert not fake_platforms.requests_to("/api/v1/events/send", status=409)
    assert fake_platforms.requests_to("/api/events", status=500)  # the failures did happen
    names = {a["metric"]["data"]["attributes"]["name"] for a in fake_platforms.state.klaviyo_events.values()}
    assert names == {"Viewed Product", "Added to Cart", "Started Checkout", "Placed Order"}


DESTINATIONS_SQL = (
    "import json; from destinations.models import Destination; "
    "print(json.dumps({d.kind: d.status for d in Destination.objects.all()}))"
)
TEST_ALL_SQL = (
    "import json; from destinations.models import Destination; from destinations.services import test_destination; "
    "print(json.dumps({d.kind: test_destination(d).ok for d in Destination.objects.all()}))"
)


def test_e2e_revoked_key_pauses_then_resumes_after_successful_test(stack_factory, fake_platforms):
    fake_platforms.configure(unauthorized=True)
    stack = stack_factory(**FAST_RETRIES)
    merchant = _setup(stack)
    base = stack.start_server()
    stack.start_worker()
    stack.start_sweeper()
    events = _pixel_batch(6)
    response = requests.post(
        f"{base}/api/v1/events", json={"batch": events}, headers={"X-Write-Key": merchant["write_key"]}, timeout=10
    )
    assert response.status_code == 202, response.text
    paused = wait_until(
        lambda: (s := stack.shell(DESTINATIONS_SQL)) == {"klaviyo": "error", "loops": "error"} and s,
        timeout=40,
        interval=1.0,
        message="both destinations to pause on 401",
    )
    assert paused
    statuses = stack.shell(STATUS_SQL)
    assert statuses == {"pending": 12}  # waiting, none lost, none dead
    unauthorized_so_far = len(fake_platforms.state.requests)
    fake_platforms.configure(unauthorized=False)  # staff fixed the key on the platform side
    assert stack.shell(TEST_ALL_SQL) == {"klaviyo": True, "loops": True}
    wait_until(
        lambda: stack.shell(STATUS_SQL) == {"succeeded": 12}, timeout=40, interval=1.0, message="resumed delivery"
    )
    assert unauthorized_so_far <= 2 * len(events)  # one batch per destination, then paused: no hammering
    assert stack.shell(DESTINATIONS_SQL) == {"klaviyo": "active", "loops": "active"}
    delivered = {k for k in fake_platforms.state.klaviyo_events if not k.startswith("recapture-test-")}
    assert delivered == {e["event_id"] for e in events}  # plus the staff test event
