"""The per-event delivery task drains every due delivery of its destination (DELIVERY_COALESCE)."""

from __future__ import annotations

import pytest
from responses import matchers

from destinations import tasks
from destinations.models import Delivery, DeliveryStatus
from destinations.services import schedule_deliveries
from tests.destinations.conftest import KLAVIYO, KLAVIYO_KEY, DestinationFactory, ProfileFactory, make_event


@pytest.fixture
def scheduled(merchant):
    DestinationFactory(merchant=merchant, kind="klaviyo", api_key=KLAVIYO_KEY, profile_sync="off")
    profile = ProfileFactory(merchant=merchant, email="ann@example.com")
    events = [make_event(merchant, profile=profile, event_id=f"e{i}", type="AddToCart") for i in range(3)]
    schedule_deliveries(events=events)
    return events


def _expect_events(mocked, count: int) -> None:
    for _ in range(count):
        mocked.post(
            f"{KLAVIYO}/api/events",
            status=202,
            match=[matchers.header_matcher({"Authorization": f"Klaviyo-API-Key {KLAVIYO_KEY}"})],
        )


def test_deliver_events_coalesced_sends_every_due_delivery_of_the_destination(settings, mocked, scheduled):
    settings.DELIVERY_COALESCE = True
    _expect_events(mocked, 3)
    tasks.deliver_events([scheduled[0].pk])
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SUCCEEDED}
    assert len(mocked.calls) == 3


def test_deliver_events_not_coalesced_sends_only_its_own(settings, mocked, scheduled):
    settings.DELIVERY_COALESCE = False
    _expect_events(mocked, 1)
    tasks.deliver_events([scheduled[0].pk])
    statuses = dict(Delivery.objects.values_list("event__event_id", "status"))
    assert statuses == {"e0": DeliveryStatus.SUCCEEDED, "e1": DeliveryStatus.PENDING, "e2": DeliveryStatus.PENDING}


def test_deliver_events_coalesced_leaves_rows_not_yet_due(settings, mocked, scheduled):
    settings.DELIVERY_COALESCE = True
    Delivery.objects.filter(event__event_id="e2").update(next_attempt_at="2099-01-01T00:00:00Z")
    _expect_events(mocked, 2)
    tasks.deliver_events([scheduled[0].pk])
    statuses = dict(Delivery.objects.values_list("event__event_id", "status"))
    assert statuses == {"e0": DeliveryStatus.SUCCEEDED, "e1": DeliveryStatus.SUCCEEDED, "e2": DeliveryStatus.PENDING}
