"""Writes and orchestration for merchants and events."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from config.queue import enqueue_on_commit
from events.bulk import insert_events
from events.exceptions import EventInvalidError
from events.ingest import parse_event, split_payload
from events.models import Event, Merchant, new_webhook_secret, new_write_key
from events.types import NewEvent

__all__ = ["IngestResult", "NewEvent", "RecordResult", "ingest_events", "process_events", "record_events"]

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class RecordResult:
    accepted: int
    duplicates: int
    event_ids: list[int]


@dataclass(frozen=True, slots=True)
class EventError:
    index: int
    code: str
    message: str


@dataclass(slots=True)
class IngestResult:
    accepted: int
    duplicates: int
    errors: list[EventError] = field(default_factory=list)

    @property
    def all_invalid(self) -> bool:
        """Every event was rejected (nothing stored, nothing duplicate)."""
        return bool(self.errors) and self.accepted == 0 and self.duplicates == 0

    def error_dicts(self) -> list[dict[str, Any]]:
        return [{"index": e.index, "code": e.code, "message": e.message} for e in self.errors]

    def as_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "errors": self.error_dicts()}


# --- Merchants -------------------------------------------------------------------


def create_merchant(
    name: str, *, shop_domain: str, allowed_origins: Sequence[str] = (), timezone_name: str = "UTC"
) -> Merchant:
    return Merchant.objects.create(
        name=name,
        shop_domain=shop_domain.strip().lower(),
        allowed_origins=list(allowed_origins),
        timezone=timezone_name,
    )


def rotate_write_key(merchant: Merchant) -> Merchant:
    """Issue a new write key; the old one is rejected from now on."""
    merchant.write_key = new_write_key()
    merchant.write_key_rotated_at = timezone.now()
    merchant.save(update_fields=["write_key", "write_key_rotated_at"])
    return merchant


def rotate_returns_webhook_secret(merchant: Merchant) -> Merchant:
    merchant.returns_webhook_secret = new_webhook_secret()
    merchant.save(update_fields=["returns_webhook_secret"])
    return merchant


# --- Events ------------------------------------------------------------------------


def ingest_events(merchant: Merchant, *, payload: Any) -> IngestResult:
    """Validate and normalise a parsed ingest body, store the valid events, report the rest.

    Whole-request problems (not an object, batch too large) raise ApplicationError;
    an invalid event is reported by index and never stops the others being stored.
    """
    raw_events = split_payload(payload, max_events=settings.INGEST_MAX_BATCH_EVENTS)
    now = timezone.now()
    max_future = timedelta(seconds=settings.INGEST_MAX_FUTURE_SECONDS)
    valid: list[NewEvent] = []
    errors: list[EventError] = []
    for index, raw in enumerate(raw_events):
        try:
            valid.append(parse_event(raw, now=now, max_future=max_future))
        except EventInvalidError as exc:
            errors.append(EventError(index=index, code=exc.code, message=exc.message))
    recorded = record_events(merchant, events=valid)
    result = IngestResult(accepted=recorded.accepted, duplicates=recorded.duplicates, errors=errors)
    logger.info(
        "events ingested",
        extra={
            "merchant_id": merchant.pk,
            "received": len(raw_events),
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "invalid": len(errors),
        },
    )
    return result


def record_events(merchant: Merchant, *, events: Sequence[NewEvent]) -> RecordResult:
    """Store events (duplicates by event_id skipped) and queue their processing on commit.

    One INSERT ... ON CONFLICT DO NOTHING RETURNING id per batch whatever its size
    (events.bulk), so a repeat counts as a duplicate even when two requests race.
    """
    unique: dict[str, NewEvent] = {}
    for event in events:
        unique.setdefault(event.event_id, event)
    if not unique:
        return RecordResult(accepted=0, duplicates=0, event_ids=[])
    with transaction.atomic():
        ids = insert_events(merchant, list(unique.values()))
        if ids:
            enqueue_on_commit("events.tasks.process_events", ids)
    return RecordResult(accepted=len(ids), duplicates=len(events) - len(ids), event_ids=ids)


def process_events(event_ids: Sequence[int], *, coalesce: int = 0) -> None:
    """Identity resolution, then delivery scheduling, for freshly stored events.

    The rows stay locked (SKIP LOCKED on PostgreSQL) for the whole step, so two workers
    never process the same event. With ``coalesce`` > 0 (the task passes
    EVENTS_PROCESS_COALESCE) the step also takes up to that many other unprocessed events
    stored just after these: under a backlog one task does the work of many single-event
    tasks in one batch, and the tasks of the events it took find nothing left to do.
    """
    from destinations.services import schedule_deliveries
    from identity.services import resolve_events

    with transaction.atomic():
        events = _claim_unprocessed(event_ids, coalesce=coalesce)
        if not events:
            return
        outcome = resolve_events(events=events)
        schedule_deliveries(events=outcome.events)
        if outcome.reidentified:
            schedule_deliveries(events=outcome.reidentified, reidentified=True)
        Event.objects.filter(id__in=[e.id for e in events]).update(processed_at=timezone.now())


COALESCE_ID_WINDOW = 4  # a coalescing task looks at most coalesce x this many ids ahead


def _claim_unprocessed(event_ids: Sequence[int], *, coalesce: int) -> list[Event]:
    unprocessed = Event.objects.filter(processed_at__isnull=True).select_related("merchant").order_by("id")
    if connection.features.has_select_for_update_skip_locked:
        unprocessed = unprocessed.select_for_update(skip_locked=True, of=("self",))
    events = list(unprocessed.filter(id__in=list(event_ids)))
    if not events or coalesce <= 0:
        return events
    first = events[0].id  # an id range keeps the look-ahead on the primary key index
    extra = unprocessed.filter(id__gt=first, id__lte=first + coalesce * COALESCE_ID_WINDOW).exclude(
        id__in=[e.id for e in events]
    )
    return sorted([*events, *extra[:coalesce]], key=lambda e: e.id)


UNPROCESSED_SWEEP_LIMIT = 5000


def requeue_unprocessed_events(*, older_than: timedelta | None = None, chunk: int = 500) -> int:
    """Safety net: queue processing again for events stored but never processed.

    An event is committed before its task is queued (on commit); if queueing then fails
    (the database or broker dropped in between), or the task fails and django-q2 does not
    retry it (max_attempts 1), the event would sit unprocessed forever. Scheduled every
    minute; process_events skips processed rows.
    """
    if older_than is None:
        older_than = timedelta(seconds=settings.EVENT_REQUEUE_AFTER_SECONDS)
    cutoff = timezone.now() - older_than
    ids = list(
        Event.objects.filter(processed_at__isnull=True, received_at__lt=cutoff)
        .order_by("id")
        .values_list("id", flat=True)[:UNPROCESSED_SWEEP_LIMIT]
    )
    for start in range(0, len(ids), chunk):
        enqueue_on_commit("events.tasks.process_events", ids[start : start + chunk])
    if ids:
        logger.warning("re-queued unprocessed events", extra={"count": len(ids)})
    return len(ids)
