"""One-statement bulk insert of events that returns the ids of the rows actually inserted.

The whole batch travels as ONE JSON parameter (serialised by orjson) and is expanded by
the database (``jsonb_to_recordset`` on PostgreSQL, ``json_each`` on SQLite), with
``ON CONFLICT (merchant_id, event_id) DO NOTHING RETURNING id``: one query per batch,
duplicates skipped by the unique constraint itself (race-free), and none of the
per-parameter cost of a 500-row ORM insert (8,500 parameters). Columns not carried per
event (merchant, received_at, model defaults added later) are bound once as constants,
so a new field with a default needs no change here. Other vendors use the ORM.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from functools import cache
from typing import Any

import orjson
from django.db import connection, transaction
from django.db.models import Field
from django.utils import timezone

from events.models import Event, Merchant
from events.types import NewEvent

PER_EVENT_FIELDS = (
    "event_id",
    "type",
    "source",
    "anonymous_id",
    "timestamp",
    "context",
    "identifiers",
    "traits",
    "properties",
    "raw",
    "client_hint",
)
JSON_FIELDS = frozenset({"context", "identifiers", "traits", "properties", "raw"})


def insert_events(merchant: Merchant, events: Sequence[NewEvent]) -> list[int]:
    """Insert events whose event_id is new for the merchant; the new primary keys."""
    if not events:
        return []
    inserter = INSERTERS.get(connection.vendor, _insert_orm)
    return inserter(merchant, events)


def _constant_columns(merchant: Merchant) -> list[tuple[str, Any]]:
    """(column, db value) of every concrete column not carried per event."""
    now = timezone.now()
    out = []
    for field in Event._meta.concrete_fields:
        if field.primary_key or field.name in PER_EVENT_FIELDS:
            continue
        value = _constant_value(field, merchant, now)
        out.append((field.column, field.get_db_prep_save(value, connection)))
    return out


def _constant_value(field: Field, merchant: Merchant, now: Any) -> Any:
    if field.name == "merchant":
        return merchant.pk
    if getattr(field, "auto_now_add", False) or getattr(field, "auto_now", False):
        return now
    return field.get_default()


def _document(events: Sequence[NewEvent], timestamp: Callable[[Any], Any]) -> str:
    rows = [
        {
            "event_id": e.event_id,
            "type": e.type,
            "source": str(e.source),
            "anonymous_id": e.anonymous_id,
            "timestamp": timestamp(e.timestamp),
            "context": e.context,
            "identifiers": e.identifiers,
            "traits": e.traits,
            "properties": e.properties,
            "raw": e.raw,
            "client_hint": e.client_hint,
        }
        for e in events
    ]
    return orjson.dumps(rows, default=_json_default, option=orjson.OPT_NON_STR_KEYS).decode()


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _column(name: str) -> str:
    return connection.ops.quote_name(Event._meta.get_field(name).column)


def _insert_postgresql(merchant: Merchant, events: Sequence[NewEvent]) -> list[int]:
    constants = _constant_columns(merchant)
    params = [value for _, value in constants] + [_document(events, lambda ts: ts.isoformat())]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(connection.vendor, tuple(c for c, _ in constants)), params)
        return [row[0] for row in cursor.fetchall()]


def _insert_sqlite(merchant: Merchant, events: Sequence[NewEvent]) -> list[int]:
    constants = _constant_columns(merchant)
    params = [value for _, value in constants] + [_document(events, connection.ops.adapt_datetimefield_value)]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(connection.vendor, tuple(c for c, _ in constants)), params)
        return sorted(row[0] for row in cursor.fetchall())


def _postgresql_source() -> tuple[list[str], str]:
    types = ", ".join(f"{name} {'jsonb' if name in JSON_FIELDS else 'text'}" for name in PER_EVENT_FIELDS)
    types = types.replace("timestamp text", "timestamp timestamptz")
    return [f"r.{n}" for n in PER_EVENT_FIELDS], f"jsonb_to_recordset(%s::jsonb) AS r({types})"


def _sqlite_source() -> tuple[list[str], str]:
    return [f"json_extract(value, '$.{n}')" for n in PER_EVENT_FIELDS], "json_each(%s) WHERE true"


@cache  # built once per process: the statement only depends on the model's columns
def _insert_sql(vendor: str, constant_columns: tuple[str, ...]) -> str:
    """INSERT ... SELECT the rows of the one JSON document parameter ... RETURNING the new ids."""
    select, source = SOURCES[vendor]()
    columns = [_column(n) for n in PER_EVENT_FIELDS] + [connection.ops.quote_name(c) for c in constant_columns]
    select += ["%s"] * len(constant_columns)
    return (
        f"INSERT INTO {Event._meta.db_table} ({', '.join(columns)}) "  # noqa: S608 - identifiers from the model
        f"SELECT {', '.join(select)} FROM {source} "
        f"ON CONFLICT (merchant_id, event_id) DO NOTHING RETURNING id"
    )


SOURCES: dict[str, Callable[[], tuple[list[str], str]]] = {
    "postgresql": _postgresql_source,
    "sqlite": _sqlite_source,
}


@transaction.atomic  # several statements, unlike the one-statement inserters above
def _insert_orm(merchant: Merchant, events: Sequence[NewEvent]) -> list[int]:
    existing = set(
        Event.objects.filter(merchant=merchant, event_id__in=[e.event_id for e in events]).values_list(
            "event_id", flat=True
        )
    )
    rows = [Event(merchant=merchant, **{n: getattr(e, n) for n in PER_EVENT_FIELDS}) for e in events]
    rows = [r for r in rows if r.event_id not in existing]
    Event.objects.bulk_create(rows, ignore_conflicts=True)
    keys = [r.event_id for r in rows]
    return list(Event.objects.filter(merchant=merchant, event_id__in=keys).values_list("id", flat=True))


INSERTERS: dict[str, Callable[[Merchant, Sequence[NewEvent]], list[int]]] = {
    "postgresql": _insert_postgresql,
    "sqlite": _insert_sqlite,
}
