"""Which deliveries schedule_deliveries creates, holds and releases; claims and leases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from destinations.models import Delivery, DeliveryStatus, DestinationStatus
from destinations.services import claim_deliveries, schedule_deliveries
from destinations.services.scheduling import forwards_event
from tests.destinations.conftest import DestinationFactory, ProfileFactory, make_event

STANDARD = ["ViewContent", "AddToCart", "InitiateCheckout", "Purchase"]


@pytest.mark.parametrize(
    ("event_type", "source", "reidentified", "types", "returns", "reident", "expected"),
    [
        ("ViewContent", "pixel", False, STANDARD, True, True, True),
        ("PageView", "pixel", False, STANDARD, True, True, False),
        ("Wishlist", "pixel", False, STANDARD, True, True, False),
        ("Wishlist", "pixel", False, [*STANDARD, "Wishlist"], True, True, True),
        ("Return Created", "returns", False, STANDARD, True, True, True),
        ("Return Created", "returns", False, STANDARD, False, True, False),
        ("ViewContent", "pixel", True, STANDARD, True, True, True),
        ("ViewContent", "pixel", True, STANDARD, True, False, False),
        ("Return Created", "returns", True, STANDARD, True, False, False),
    ],
)
def test_forwards_event_by_settings(event_type, source, reidentified, types, returns, reident, expected):
    assert (
        forwards_event(
            event_type=event_type,
            source=source,
            reidentified=reidentified,
            event_types=types,
            forward_returns=returns,
            forward_reidentified=reident,
        )
        is expected
    )


def test_schedule_deliveries_one_per_event_and_enabled_destination(merchant, klaviyo, loops):
    DestinationFactory(merchant=merchant, enabled=False)
    other = DestinationFactory()  # another merchant's destination
    profile = ProfileFactory(merchant=merchant, email="ann@example.com")
    events = [make_event(merchant, profile=profile, event_id=f"e{i}") for i in range(3)]
    events.append(make_event(merchant, profile=profile, event_id="pv", type="PageView"))
    schedule_deliveries(events=events)
    schedule_deliveries(events=events)  # idempotent
    rows = Delivery.objects.all()
    assert rows.count() == 6
    assert set(rows.values_list("destination_id", flat=True)) == {klaviyo.pk, loops.pk}
    assert not rows.filter(destination=other).exists()
    assert set(rows.values_list("status", flat=True)) == {DeliveryStatus.PENDING}
    keys = list(rows.values_list("idempotency_key", flat=True))
    assert len(set(keys)) == 6


def test_schedule_deliveries_holds_anonymous_events_for_both(merchant, klaviyo, loops):
    event = make_event(merchant)
    schedule_deliveries(events=[event])
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.HELD}


def test_schedule_deliveries_returns_events_use_their_flag(merchant, klaviyo):
    event = make_event(merchant, type="Return Created", source="returns", identifiers={"email": "a@b.co"})
    schedule_deliveries(events=[event])
    assert Delivery.objects.get().status == DeliveryStatus.PENDING
    klaviyo.forward_returns = False
    klaviyo.save()
    schedule_deliveries(events=[make_event(merchant, event_id="r2", type="Return Created", source="returns")])
    assert Delivery.objects.count() == 1


def test_schedule_reidentified_creates_missing_rows_and_respects_opt_out(merchant, klaviyo, loops):
    loops.forward_reidentified = False
    loops.save()
    profile = ProfileFactory(merchant=merchant, email="ann@example.com")
    event = make_event(merchant, profile=profile)
    schedule_deliveries(events=[event], reidentified=True)
    row = Delivery.objects.get()
    assert (row.destination_id, row.status, row.reidentified) == (klaviyo.pk, DeliveryStatus.PENDING, True)


def test_schedule_enqueues_fast_path_on_commit(merchant, klaviyo, django_capture_on_commit_callbacks):
    event = make_event(merchant, identifiers={"email": "a@b.co"})
    with django_capture_on_commit_callbacks() as callbacks:
        schedule_deliveries(events=[event])
    assert len(callbacks) == 1


def _pending(merchant, destination, n):
    events = [make_event(merchant, event_id=f"c{i}", identifiers={"email": f"p{i}@x.co"}) for i in range(n)]
    schedule_deliveries(events=events)
    return Delivery.objects.filter(destination=destination)


def test_claim_deliveries_never_hands_one_row_out_twice(merchant, klaviyo):
    _pending(merchant, klaviyo, 5)
    first = claim_deliveries(limit=3)
    second = claim_deliveries(limit=10)
    assert len(first) == 3 and len(second) == 2
    assert not {d.pk for d in first} & {d.pk for d in second}
    assert claim_deliveries(limit=10) == []
    assert all(d.status == DeliveryStatus.SENDING and d.leased_until for d in first + second)


def test_claim_deliveries_reclaims_after_lease_expiry(merchant, klaviyo):
    _pending(merchant, klaviyo, 1)
    [claimed] = claim_deliveries(limit=1)
    Delivery.objects.filter(pk=claimed.pk).update(leased_until=timezone.now() - timedelta(seconds=1))
    [again] = claim_deliveries(limit=1)  # the worker holding it died: only delayed
    assert again.pk == claimed.pk and again.lease_token != claimed.lease_token


def test_claim_deliveries_skips_paused_disabled_and_future(merchant, klaviyo):
    rows = _pending(merchant, klaviyo, 3)
    klaviyo.status = DestinationStatus.ERROR
    klaviyo.save()
    assert claim_deliveries(limit=10) == []
    klaviyo.status, klaviyo.enabled = DestinationStatus.ACTIVE, False
    klaviyo.save()
    assert claim_deliveries(limit=10) == []
    klaviyo.enabled = True
    klaviyo.save()
    rows.update(next_attempt_at=timezone.now() + timedelta(minutes=5))
    assert claim_deliveries(limit=10) == []


def test_schedule_deliveries_constant_queries(merchant, klaviyo, loops, django_assert_max_num_queries):
    from events.models import Event

    profile = ProfileFactory(merchant=merchant, email="ann@example.com")
    for i in range(60):
        make_event(merchant, profile=profile if i % 2 else None, event_id=f"q{i}")
    events = list(Event.objects.select_related("profile", "merchant"))  # as processing loads them
    with django_assert_max_num_queries(6):
        schedule_deliveries(events=events)
    assert Delivery.objects.count() == 120


def test_claim_and_send_constant_queries(mocked, merchant, klaviyo, django_assert_max_num_queries):
    from destinations.services import deliver_pending

    klaviyo.profile_sync = "off"
    klaviyo.save()
    events = [make_event(merchant, event_id=f"n{i}", identifiers={"email": f"p{i}@x.co"}) for i in range(30)]
    schedule_deliveries(events=events)
    for _ in range(30):
        mocked.post("https://a.klaviyo.com/api/events", status=202)
    with django_assert_max_num_queries(22):  # 30 rows or 3000: the same statements
        assert deliver_pending(destination_id=klaviyo.pk) == {"succeeded": 30}
