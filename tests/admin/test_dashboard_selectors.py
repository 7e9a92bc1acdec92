"""Merchant dashboard aggregates: windows, lift, deliveries, p95 latency, recovered revenue."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from console.dashboard import get_merchant_dashboard, get_p95_latency_seconds, list_recovered_orders
from destinations.models import Delivery
from events.models import Event
from tests.admin.conftest import DeliveryFactory, DestinationFactory, ProfileFactory
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def _event(merchant, *, hours_ago: float, **kwargs) -> Event:
    event = EventFactory(merchant=merchant, timestamp=NOW - timedelta(hours=hours_ago), **kwargs)
    Event.objects.filter(pk=event.pk).update(received_at=NOW - timedelta(hours=hours_ago))
    event.refresh_from_db()
    return event


def _delivered(event, destination, *, after_seconds: float, status="succeeded", dry_run=False, attempts=1) -> Delivery:
    delivery = DeliveryFactory(event=event, destination=destination, status=status, dry_run=dry_run, attempts=attempts)
    Delivery.objects.filter(pk=delivery.pk).update(
        created_at=event.received_at,
        delivered_at=event.received_at + timedelta(seconds=after_seconds) if status == "succeeded" else None,
    )
    return delivery


def test_dashboard_splits_24h_from_7d(merchant):
    _event(merchant, hours_ago=1, type="ViewContent", identification="native")
    _event(merchant, hours_ago=2, type="ViewContent", identification="resolved")
    _event(merchant, hours_ago=30, type="AddToCart", identification="resolved")
    _event(merchant, hours_ago=24 * 8, type="Purchase", identification="native")  # outside both windows
    stats = get_merchant_dashboard(merchant, now=NOW)
    assert stats["24h"].events_by_type == {"ViewContent": 2}
    assert stats["7d"].events_by_type == {"ViewContent": 2, "AddToCart": 1}
    assert stats["24h"].lift_percent == 100.0
    assert stats["7d"].identification == {"native": 1, "resolved": 2}
    assert stats["7d"].lift_percent == 200.0


def test_dashboard_ignores_other_merchants(merchant):
    from tests.factories import MerchantFactory

    _event(MerchantFactory(), hours_ago=1)
    assert get_merchant_dashboard(merchant, now=NOW)["7d"].total_events == 0


def test_dashboard_delivery_buckets_per_destination(merchant):
    klaviyo = DestinationFactory(merchant=merchant, name="K")
    for status, attempts, hours in [
        ("succeeded", 1, 1),
        ("pending", 2, 1),
        ("pending", 0, 1),
        ("dead", 3, 40),
        ("held", 0, 2),
    ]:
        _delivered(_event(merchant, hours_ago=hours), klaviyo, after_seconds=1, status=status, attempts=attempts)
    stats = get_merchant_dashboard(merchant, now=NOW)
    assert stats["24h"].deliveries == {"K (klaviyo)": {"succeeded": 1, "retrying": 1, "pending": 1, "held": 1}}
    assert stats["7d"].deliveries == {
        "K (klaviyo)": {"succeeded": 1, "retrying": 1, "pending": 1, "held": 1, "dead": 1}
    }


def test_p95_latency_from_received_to_delivered(merchant):
    destination = DestinationFactory(merchant=merchant)
    for seconds in range(1, 21):  # 1..20 s
        _delivered(_event(merchant, hours_ago=1), destination, after_seconds=seconds)
    _delivered(_event(merchant, hours_ago=1), destination, after_seconds=500, dry_run=True)  # not a real send
    _delivered(_event(merchant, hours_ago=1), destination, after_seconds=0, status="dead")
    assert get_p95_latency_seconds(merchant, since=NOW - timedelta(hours=24)) == 19.0


def test_p95_latency_is_none_without_deliveries(merchant):
    assert get_p95_latency_seconds(merchant, since=NOW - timedelta(hours=24)) is None


def _abandon_then_buy(merchant, destination, *, context=None, identifiers=None, delivered_after_purchase=False, **kw):
    profile = ProfileFactory(merchant=merchant)
    cart = _event(merchant, hours_ago=5, type="AddToCart", profile=profile)
    _delivered(cart, destination, after_seconds=(4 * 3600 + 60) if delivered_after_purchase else 2, **kw)
    return _event(
        merchant,
        hours_ago=1,
        type="Purchase",
        profile=profile,
        context=context if context is not None else {"utm": {"source": "Klaviyo", "medium": "email"}},
        identifiers=identifiers or {},
        properties={"OrderID": "1001", "Revenue": "80.50", "Currency": "USD"},
    )


def test_recovered_order_from_klaviyo_utm_after_forwarded_abandonment(merchant):
    _abandon_then_buy(merchant, DestinationFactory(merchant=merchant))
    orders = list_recovered_orders(merchant, since=NOW - timedelta(days=7))
    assert [o.properties for o in orders] == [{"OrderID": "1001", "Revenue": "80.50", "Currency": "USD"}]
    stats = get_merchant_dashboard(merchant, now=NOW)
    assert stats["24h"].recovered_orders == 1
    assert stats["24h"].recovered_revenue == {"USD": Decimal("80.50")}


@pytest.mark.parametrize(
    ("context", "identifiers", "counted"),
    [
        ({"utm": {"source": "loops"}}, {}, True),
        ({}, {"kx": "abc123"}, True),
        ({"utm": {"source": "google"}}, {}, False),
        ({}, {}, False),
    ],
)
def test_recovered_order_needs_a_message_source(merchant, context, identifiers, counted):
    _abandon_then_buy(merchant, DestinationFactory(merchant=merchant), context=context, identifiers=identifiers)
    assert len(list_recovered_orders(merchant, since=NOW - timedelta(days=7))) == int(counted)


@pytest.mark.parametrize(
    "kwargs",
    [{"delivered_after_purchase": True}, {"dry_run": True}, {"status": "dead"}],
    ids=["forwarded-after-the-order", "dry-run", "never-delivered"],
)
def test_recovered_order_needs_a_real_forward_before_the_order(merchant, kwargs):
    _abandon_then_buy(merchant, DestinationFactory(merchant=merchant), **kwargs)
    assert list_recovered_orders(merchant, since=NOW - timedelta(days=7)) == []


def test_dashboard_query_count_is_constant(merchant, django_assert_max_num_queries):
    destination = DestinationFactory(merchant=merchant)
    for _ in range(10):
        _abandon_then_buy(merchant, destination)
    with django_assert_max_num_queries(7):
        stats = get_merchant_dashboard(merchant, now=NOW)
    assert stats["7d"].recovered_orders == 10
