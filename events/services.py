"""Writes and orchestration for merchants and events."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from config.queue import enqueue_on_commit, enqueue_once_on_commit, task_started
from events.bulk import insert_events
from events.consent import apply_policy as apply_consent_policy
from events.exceptions import EventInvalidError
from events.hints import client_hint, hint_key
from events.ingest import parse_event, split_payload, unknown_type_warning
from events.models import AlertKind, Event, Merchant, MerchantAlert, new_webhook_secret, new_write_key
from events.shopify import is_noise
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
    received: int = 0
    warnings: list[EventError] = field(default_factory=list)  # accepted, but probably not what was meant

    def log_fields(self) -> dict[str, int]:
        """What the request's log line says of the batch (never its content)."""
        return {
            "received": self.received,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "invalid": len(self.errors),
        }

    @property
    def all_invalid(self) -> bool:
        """Every event was rejected (nothing stored, nothing duplicate)."""
        return bool(self.errors) and self.accepted == 0 and self.duplicates == 0

    def error_dicts(self) -> list[dict[str, Any]]:
        return [{"index": e.index, "code": e.code, "message": e.message} for e in self.errors]

    def as_dict(self) -> dict[str, Any]:
        body = {"accepted": self.accepted, "duplicates": self.duplicates, "errors": self.error_dicts()}
        if self.warnings:  # only when there is one: the common answer keeps its three keys
            body["warnings"] = [{"index": w.index, "code": w.code, "message": w.message} for w in self.warnings]
        return body


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


# --- Alerts (shown in the console) --------------------------------------------------


def raise_alert(merchant_id: int, *, kind: str, message: str, count: int = 1) -> None:
    """Open an alert for the merchant, or add ``count`` to the one already open for this kind."""
    now = timezone.now()
    open_alert = MerchantAlert.objects.filter(merchant_id=merchant_id, kind=kind, resolved_at__isnull=True)
    if not open_alert.update(count=F("count") + count, last_seen=now, message=message):
        try:
            with transaction.atomic():
                MerchantAlert.objects.create(
                    merchant_id=merchant_id, kind=kind, message=message, count=count, first_seen=now, last_seen=now
                )
        except IntegrityError:  # opened by a concurrent request meanwhile
            open_alert.update(count=F("count") + count, last_seen=now, message=message)
    logger.warning("merchant alert", extra={"merchant_id": merchant_id, "kind": kind, "count": count})


def resolve_alerts(alerts: Any) -> int:
    """Close the given open alerts (a queryset); the next occurrence opens a new one."""
    return alerts.filter(resolved_at__isnull=True).update(resolved_at=timezone.now())


def note_ingest_over_quota(merchant: Merchant, *, key_count: int, shed: bool) -> None:
    """The store went over its ingest quota this minute: one alert update per merchant per minute."""
    window = int(timezone.now().timestamp() // 60)
    try:
        first = cache.add(f"alert-gate:{AlertKind.INGEST_QUOTA}:{merchant.pk}:{window}", 1, timeout=90)
    except Exception:  # a cache outage must not take ingest down
        logger.warning("alert gate unavailable", exc_info=True)
        return
    if first:
        what = "heavy sources are being refused" if shed else "shoppers are still admitted"
        raise_alert(
            merchant.pk,
            kind=AlertKind.INGEST_QUOTA,
            message=f"{key_count} ingest requests this minute, over the store's quota of "
            f"{settings.INGEST_RATE_LIMIT_PER_KEY}; {what}. Someone may be posting with the public write key.",
        )


# --- Events ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """The sending browser as the request shows it: address (through TRUSTED_PROXY_COUNT) and user agent."""

    ip: str = ""
    user_agent: str = ""


def ingest_events(merchant: Merchant, *, payload: Any, client: ClientInfo | None = None) -> IngestResult:
    """Validate and normalise a parsed ingest body, store the valid events, report the rest.

    Whole-request problems (not an object, batch too large) raise ApplicationError;
    an invalid event is reported by index and never stops the others being stored.
    With ``client``, each event keeps only its client hint (events.hints), never the address.
    """
    raw_events = split_payload(payload, max_events=settings.INGEST_MAX_BATCH_EVENTS)
    now = timezone.now()
    max_future = timedelta(seconds=settings.INGEST_MAX_FUTURE_SECONDS)
    valid: list[NewEvent] = []
    errors: list[EventError] = []
    warnings: list[EventError] = []
    for index, raw in enumerate(raw_events):
        if isinstance(raw, dict) and is_noise(raw):
            continue  # Shopify's error and UI events: accepted, not stored
        try:
            event = parse_event(raw, now=now, max_future=max_future)
        except EventInvalidError as exc:
            errors.append(EventError(index=index, code=exc.code, message=exc.message))
            continue
        kept = apply_consent_policy(event, policy=merchant.consent_policy)
        if kept is None:  # no analytics consent and the merchant stores nothing then
            continue
        valid.append(kept)
        if (warning := unknown_type_warning(event.type)) is not None:
            warnings.append(EventError(index=index, code="unknown_event_type", message=warning))
    if client is not None and client.ip:
        _stamp_client_hints(valid, client)
    recorded = record_events(merchant, events=valid)
    return IngestResult(
        accepted=recorded.accepted,
        duplicates=recorded.duplicates,
        errors=errors,
        received=len(raw_events),
        warnings=warnings,
    )


def _stamp_client_hints(events: list[NewEvent], client: ClientInfo) -> None:
    key = hint_key(settings.SECRET_KEY)
    hints: dict[str, str] = {}
    for event in events:
        agent = client.user_agent or str(event.context.get("user_agent") or "")
        if agent not in hints:
            hints[agent] = client_hint(client.ip, agent, key=key)
        event.client_hint = hints[agent]


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
    # One statement, so no transaction of our own (it saves BEGIN and the autocommit toggles);
    # the task is queued once the row is committed (at once, or when an outer atomic commits).
    ids = insert_events(merchant, list(unique.values()))
    if ids:
        queue_processing(ids)
    return RecordResult(accepted=len(ids), duplicates=len(events) - len(ids), event_ids=ids)


PROCESS_TASK = "events.tasks.process_events"
PROCESS_PENDING_KEY = "events:process-pending"
PROCESS_PENDING_SECONDS = 10


def queue_processing(event_ids: Sequence[int], *, fresh: bool = True) -> None:
    """Queue ``process_events`` on commit (every caller queues it through here).

    Fresh events (just stored) queue nothing while a processing task is queued and not
    started: that task takes them along when it starts (``process_events`` with coalesce), so
    at peak one task per batch of arrivals instead of one per request. Older events
    (``fresh=False``, the re-queue sweep) are past what coalescing takes: their own task.
    """
    if not fresh:
        enqueue_on_commit(PROCESS_TASK, list(event_ids))
        return
    enqueue_once_on_commit(
        PROCESS_TASK, list(event_ids), pending_key=PROCESS_PENDING_KEY, pending_seconds=PROCESS_PENDING_SECONDS
    )


def processing_started() -> None:
    """A processing task starts: events stored from now on queue a task of their own."""
    task_started(PROCESS_PENDING_KEY)


def process_events(event_ids: Sequence[int], *, coalesce: int = 0) -> None:
    """Process freshly stored events (the registered processor: identity, then deliveries).

    The rows stay locked (SKIP LOCKED on PostgreSQL) for the whole step, so two workers
    never process the same event. With ``coalesce`` > 0 (the task passes
    EVENTS_PROCESS_COALESCE) the step also takes up to that many of the oldest other
    unprocessed events received within EVENT_REQUEUE_AFTER_SECONDS (older ones are the
    sweep's): one task does the work of every request that arrived while it was queued,
    and queues a follow-up when it had to leave some behind. If the batch fails, its
    events are processed one by one, so one bad event never holds the others back.
    """
    claimed: list[int] = []
    try:
        full = _process_batch(event_ids, coalesce=coalesce, claimed=claimed)
    except (OperationalError, InterfaceError):
        raise  # the database is unavailable: no event is to blame, the sweep queues them again
    except Exception:
        if len(claimed) <= 1:
            raise
        logger.exception("event batch failed; processing its events one by one", extra={"count": len(claimed)})
        _process_one_by_one(claimed)
        full = coalesce > 0 and len(claimed) >= coalesce  # it may have left events behind
    if full:
        queue_processing([])


# What processing a stored event means (resolve its identity, then schedule its deliveries)
# belongs to the layer above every app: ``pipeline`` registers it here in its AppConfig.ready.
# events owns the queue around it (claim, lock, coalesce, one by one, re-queue) and never
# imports the apps that do the work.
EventProcessor = Callable[[list[Event]], None]
_PROCESSORS: list[EventProcessor] = []


def register_event_processor(processor: EventProcessor) -> None:
    """Set the step run on each locked batch of unprocessed events, inside its transaction."""
    _PROCESSORS[:] = [processor]


def _event_processor() -> EventProcessor:
    if not _PROCESSORS:
        raise ImproperlyConfigured("No event processor registered: is the pipeline app in INSTALLED_APPS?")
    return _PROCESSORS[0]


def _process_batch(event_ids: Sequence[int], *, coalesce: int, claimed: list[int] | None = None) -> bool:
    """Process one locked batch (its ids added to ``claimed``); True when coalescing left events behind."""
    with transaction.atomic():
        events, full = _claim_unprocessed(event_ids, coalesce=coalesce)
        if not events:
            return False
        if claimed is not None:
            claimed.extend(e.id for e in events)
        _event_processor()(events)
        Event.objects.filter(id__in=[e.id for e in events]).update(processed_at=timezone.now())
    return full


def _process_one_by_one(event_ids: Sequence[int]) -> None:
    for event_id in event_ids:
        try:
            _process_batch([event_id], coalesce=0)
        except Exception:
            logger.exception("event processing failed; the sweep will retry it", extra={"event_id": event_id})


def _claim_unprocessed(event_ids: Sequence[int], *, coalesce: int) -> tuple[list[Event], bool]:
    unprocessed = Event.objects.filter(processed_at__isnull=True).defer("raw")
    if connection.features.has_select_for_update_skip_locked:
        unprocessed = unprocessed.select_for_update(skip_locked=True, of=("self",))
    events = list(unprocessed.filter(id__in=list(event_ids)).order_by("id"))
    full = False
    if coalesce > 0:
        recent = timezone.now() - timedelta(seconds=settings.EVENT_REQUEUE_AFTER_SECONDS)
        # the oldest first, through the partial index of unprocessed events (event_unprocessed)
        others = unprocessed.filter(received_at__gte=recent).exclude(id__in=[e.id for e in events])
        extra = list(others.order_by("received_at", "id")[: coalesce + 1])  # one more: is anything left behind?
        events, full = sorted([*events, *extra[:coalesce]], key=lambda e: e.id), len(extra) > coalesce
    # One Merchant per store for the whole batch, not a joined copy (and a decrypted webhook
    # secret) per event.
    merchants = Merchant.objects.in_bulk({e.merchant_id for e in events})
    for event in events:
        event.merchant = merchants[event.merchant_id]
    return events, full


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
        queue_processing(ids[start : start + chunk], fresh=False)
    if ids:
        logger.warning("re-queued unprocessed events", extra={"count": len(ids)})
    return len(ids)
