"""A burst larger than the workers can drain: oldest first, visible in the admin, nothing expires."""

from __future__ import annotations

import json
import random
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from destinations.models import Delivery
from destinations.services import create_destination, deliver_pending
from events.models import Event
from events.services import process_events
from pipeline.retention import prune_data
from tests.fakes.platforms import FakePlatforms
from tests.reliability.conftest import INGEST

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_rate_limits")]

BURST = 60


@pytest.fixture
def fake(settings):
    with FakePlatforms() as fake:
        settings.KLAVIYO_API_URL = fake.url
        settings.DELIVERY_BATCH_SIZE = 10
        settings.DELIVERY_THREADS = 2
        settings.DELIVERY_BULK_THRESHOLD = 10_000
        yield fake


def _burst(client, merchant) -> list[str]:
    events = [
        {
            "event_id": f"burst-{i:03d}-{uuid.uuid4().hex[:4]}",
            "type": "AddToCart",
            "anonymous_id": f"anon-{i}",
            "identifiers": {"email": f"b{i}@shopper.io"},
            "properties": {"ProductName": "Mug", "Price": 5, "Quantity": 1},
        }
        for i in range(BURST)
    ]
    # on-commit hooks are not run here: the events are stored and scheduled, nobody sends yet
    response = client.post(
        INGEST, data=json.dumps({"batch": events}), content_type="application/json", HTTP_X_WRITE_KEY=merchant.write_key
    )
    assert response.status_code == 202
    process_events(list(Event.objects.values_list("id", flat=True)))
    return [e["event_id"] for e in events]


def _age_randomly(ids: list[str]) -> list[str]:
    """Give the backlog shuffled ages; returns event ids oldest first."""
    order = ids[:]
    random.Random(7).shuffle(order)
    now = timezone.now()
    for rank, event_id in enumerate(order):
        Delivery.objects.filter(event__event_id=event_id).update(next_attempt_at=now - timedelta(minutes=BURST - rank))
    return order


def test_burst_backlog_drains_oldest_first_is_shown_in_the_admin_and_nothing_expires(
    client, admin_client, merchant, fake
):
    destination = create_destination(merchant, kind="klaviyo", api_key="pk_test_backlog_0001")
    oldest_first = _age_randomly(_burst(client, merchant))
    assert Delivery.objects.filter(status="pending").count() == BURST

    changelist = admin_client.get(reverse("admin:destinations_delivery_changelist"), {"status__exact": "pending"})
    assert f"{BURST} deliveries" in changelist.content.decode()
    dashboard = admin_client.get(reverse("admin:events_merchant_change", args=[merchant.pk]))
    assert dashboard.status_code == 200 and "pending" in dashboard.content.decode()

    fake.configure(delay=0.05)
    first = deliver_pending(destination_id=destination.pk, budget_seconds=0.3)  # the worker falls behind
    sent = [r.body["data"]["attributes"]["unique_id"] for r in fake.requests_to("/api/events", status=202)]
    assert 0 < len(sent) < BURST, first
    batches = -(-len(sent) // 10)
    assert set(sent) <= set(oldest_first[: batches * 10])  # claimed oldest first, 10 at a time
    assert set(Delivery.objects.values_list("status", flat=True)) == {"succeeded", "pending"}  # none left leased
    assert not Delivery.objects.filter(status="pending", attempts__gt=0).exists()  # deferred, not failed

    assert prune_data(events_days=0) == {"events": 0, "delivery_attempts": 0, "loop_webhooks": 0, "client_hints": 0}
    Event.objects.update(received_at=timezone.now() - timedelta(days=400))
    assert prune_data(events_days=1)["events"] == len(sent)  # only delivered events age out; the backlog stays

    fake.configure(delay=0.0)
    deliver_pending(destination_id=destination.pk, budget_seconds=30)
    assert Delivery.objects.filter(status="succeeded").count() == BURST - len(sent)  # the pruned ones are gone
    assert set(Delivery.objects.values_list("status", flat=True)) == {"succeeded"}
    assert set(fake.state.klaviyo_events) == set(oldest_first)
    assert len(fake.requests_to("/api/events", status=202)) == BURST  # each sent once


def test_dead_letters_are_listed_in_the_admin_and_the_replay_action_delivers_once(
    client, admin_client, merchant, fake, settings, django_capture_on_commit_callbacks
):
    settings.DELIVERY_MAX_ATTEMPTS = 2
    settings.DELIVERY_RETRY_BASE_SECONDS = 0
    create_destination(merchant, kind="klaviyo", api_key="pk_test_deadletter_01")
    ids = _burst(client, merchant)[:3]
    Delivery.objects.exclude(event__event_id__in=ids).delete()
    fake.configure(fail_every=1)
    for _ in range(2):  # the whole schedule, every try a 500
        deliver_pending(budget_seconds=5)
        Delivery.objects.filter(status="pending").update(next_attempt_at=timezone.now())
    assert set(Delivery.objects.values_list("status", "attempts")) == {("dead", 2)}

    dead = admin_client.get(reverse("admin:destinations_delivery_changelist"), {"status__exact": "dead"})
    html = dead.content.decode()
    assert "3 deliveries" in html and "gave up after 2 attempts" in html

    fake.configure(fail_every=0)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:destinations_delivery_changelist"),
            {"action": "replay", "_selected_action": list(Delivery.objects.values_list("pk", flat=True))},
        )
    assert response.status_code == 302
    assert set(Delivery.objects.values_list("status", flat=True)) == {"succeeded"}
    assert set(fake.state.klaviyo_events) == set(ids)
    assert len(fake.requests_to("/api/events", status=202)) == 3
