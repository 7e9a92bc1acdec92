"""events.bulk.insert_events: one statement, exact round trip, duplicates skipped (both vendors)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from events import bulk
from events.models import Event, EventSource, Identification
from events.services import record_events
from events.types import NewEvent


def new_event(event_id: str, **overrides) -> NewEvent:
    values = {
        "event_id": event_id,
        "type": "Purchase",
        "anonymous_id": "anon-1",
        "timestamp": datetime(2026, 11, 23, 10, 15, 30, 123456, tzinfo=UTC),
        "context": {"url": "https://acme.com/", "utm": {"source": "google"}},
        "identifiers": {"email": "ada@example.com", "gclid": "Cj0"},
        "traits": {"first_name": "Zoë"},
        "properties": {"Revenue": 143.2, "Items": [{"SKU": "A", "Quantity": 2}], "Flag": True, "None": None},
        "raw": {"event_id": event_id, "nested": {"a": [1, "two", None]}},
        "source": EventSource.SHOPIFY,
    }
    values.update(overrides)
    return NewEvent(**values)


@pytest.mark.django_db
def test_insert_events_round_trips_every_field(merchant):
    original = new_event("e1")
    [pk] = bulk.insert_events(merchant, [original])
    row = Event.objects.get(pk=pk)
    assert row.merchant_id == merchant.pk
    assert (row.event_id, row.type, row.source, row.anonymous_id) == ("e1", "Purchase", "shopify", "anon-1")
    assert row.timestamp == original.timestamp
    assert (row.context, row.identifiers, row.traits) == (original.context, original.identifiers, original.traits)
    assert (row.properties, row.raw) == (original.properties, original.raw)
    assert row.identification == Identification.PENDING
    assert row.resolved_by == "" and row.profile_id is None and row.processed_at is None
    assert row.received_at is not None


@pytest.mark.django_db
def test_insert_events_json_is_queryable_with_orm_lookups(merchant):
    bulk.insert_events(merchant, [new_event("e1"), new_event("e2", identifiers={"email": "bob@example.com"})])
    assert list(Event.objects.filter(identifiers__email="ada@example.com").values_list("event_id", flat=True)) == ["e1"]
    assert Event.objects.filter(properties__Revenue=143.2).count() == 2


@pytest.mark.django_db
def test_insert_events_returns_only_new_ids_in_one_query(merchant):
    [first] = bulk.insert_events(merchant, [new_event("e1")])
    with CaptureQueriesContext(connection) as ctx:
        ids = bulk.insert_events(merchant, [new_event("e1"), new_event("e2"), new_event("e3")])
    assert len(ctx.captured_queries) == 1
    assert len(ids) == 2 and first not in ids
    assert set(Event.objects.filter(pk__in=ids).values_list("event_id", flat=True)) == {"e2", "e3"}


@pytest.mark.django_db
def test_insert_events_decimal_properties_become_numbers(merchant):
    [pk] = bulk.insert_events(merchant, [new_event("e1", properties={"$value": Decimal("12.50")})])
    assert Event.objects.get(pk=pk).properties == {"$value": 12.5}


@pytest.mark.django_db
def test_insert_events_orm_fallback_matches(merchant):
    ids = bulk._insert_orm(merchant, [new_event("e1"), new_event("e2")])
    assert len(ids) == 2
    assert bulk._insert_orm(merchant, [new_event("e1")]) == []
    assert Event.objects.get(event_id="e1").timestamp == new_event("e1").timestamp


@pytest.mark.django_db
def test_record_events_counts_in_batch_and_stored_duplicates(merchant):
    record_events(merchant, events=[new_event("e1")])
    result = record_events(merchant, events=[new_event("e1"), new_event("e2"), new_event("e2")])
    assert (result.accepted, result.duplicates) == (1, 2)
    assert Event.objects.filter(merchant=merchant).count() == 2


@pytest.mark.django_db
def test_record_events_empty_is_a_no_op(merchant, django_assert_num_queries):
    with django_assert_num_queries(0):
        result = record_events(merchant, events=[])
    assert (result.accepted, result.duplicates, result.event_ids) == (0, 0, [])
