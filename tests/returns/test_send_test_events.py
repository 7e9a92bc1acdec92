import pytest

from events.models import Event
from returns.mapping import ALL_METRICS
from returns.models import LoopReturn, LoopWebhook
from returns.services import send_test_return_events

pytestmark = pytest.mark.django_db


def test_send_test_return_events_records_every_metric(merchant):
    count = send_test_return_events(merchant)
    events = list(Event.objects.filter(merchant=merchant))
    assert count == len(events) == len(ALL_METRICS) == 9
    assert sorted(e.type for e in events) == sorted(ALL_METRICS)
    for event in events:
        assert event.source == "returns"
        assert event.identifiers == {"email": f"returns-test@{merchant.shop_domain}"}
        assert event.properties["IsTest"] is True
        assert event.event_id.startswith("loop:test-")
    created = next(e for e in events if e.type == "Return Created")
    assert created.properties["$value"] == 42
    assert created.properties["Outcome"] == "refund + exchange"
    assert next(e for e in events if e.type == "Return Cancelled").properties["ReturnState"] == "cancelled"
    assert LoopReturn.objects.count() == 0
    assert LoopWebhook.objects.count() == 0


def test_send_test_return_events_ids_unique_per_call(merchant):
    assert send_test_return_events(merchant) == 9
    assert send_test_return_events(merchant) == 9
    assert Event.objects.filter(merchant=merchant).count() == 18
