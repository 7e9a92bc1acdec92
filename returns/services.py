"""Loop Returns: receive webhooks, turn them into events, backfill, test events."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from config.errors import ApplicationError
from config.queue import enqueue_on_commit
from events.models import Merchant
from events.services import NewEvent, record_events
from returns import mapping, samples, selectors
from returns.client import LoopReturnsClient
from returns.exceptions import LoopSignatureInvalidError, LoopWebhookNotFoundError, LoopWebhookStaleError
from returns.models import LoopReturn, LoopWebhook, LoopWebhookDigest, WebhookState
from returns.parsing import body_digest, parse_datetime, parse_id, parse_text, signature_matches

logger = logging.getLogger(__name__)

PROCESS_TASK = "returns.tasks.process_loop_webhook"
BACKFILL_BATCH = 200
STALE_AFTER = timedelta(minutes=5)  # a received webhook not processed by then lost its task
SWEEP_LIMIT = 500
MAX_RETURN_ID = 64


def queue_loop_webhook(webhook_id: int) -> None:
    """Process the stored Loop webhook in a task, on commit (every caller queues it through here)."""
    enqueue_on_commit(PROCESS_TASK, webhook_id)


@dataclass(slots=True)
class WebhookReceipt:
    webhook: LoopWebhook | None  # None: a duplicate whose row retention already deleted
    duplicate: bool


# --- Receiving ----------------------------------------------------------------------


def receive_loop_webhook(*, token: str, body: bytes, signature: str | None) -> WebhookReceipt:
    """Verify, store raw, queue processing. A redelivered identical body is recognised, not stored twice."""
    merchant = selectors.get_merchant_by_webhook_token(token)
    if merchant is None:
        raise LoopWebhookNotFoundError("Unknown webhook URL.")
    if not signature_matches(merchant.returns_webhook_secret, body, signature):
        logger.warning("loop webhook rejected: bad signature", extra={"merchant_id": merchant.id})
        raise LoopSignatureInvalidError("The X-Loop-Signature header is missing or does not match the body.")
    digest = body_digest(body)
    payload = _load_payload(body) or {}
    changed = _payload_time(payload)
    _refuse_stale(changed)
    if _may_be_pruned(changed) and LoopWebhookDigest.objects.filter(merchant=merchant, body_sha256=digest).exists():
        return WebhookReceipt(webhook=None, duplicate=True)  # its row was pruned: a replay
    trigger = mapping.trigger_of(payload)
    try:
        with transaction.atomic():
            webhook = LoopWebhook.objects.create(
                merchant=merchant,
                topic=parse_text(payload.get("topic"))[:64],
                trigger=trigger[:64],
                return_id=mapping.return_id_of(payload, trigger)[:64],
                body=body.decode("utf-8", errors="replace").replace("\x00", "\ufffd"),  # PostgreSQL text: no NUL
                body_sha256=digest,
                signature_valid=True,
            )
            queue_loop_webhook(webhook.id)
    except IntegrityError:
        existing = LoopWebhook.objects.get(merchant=merchant, body_sha256=digest)
        return WebhookReceipt(webhook=existing, duplicate=True)
    return WebhookReceipt(webhook=webhook, duplicate=False)


def _payload_time(payload: Mapping[str, Any]) -> datetime | None:
    """The newest of the payload's own times (Loop sets them before it sends)."""
    times = [_changed_at(payload), parse_datetime(payload.get("label_updated_at"))]
    return max((t for t in times if t), default=None)


def _refuse_stale(changed: datetime | None) -> None:
    """A payload last changed more than LOOP_WEBHOOK_MAX_AGE_DAYS ago is an old webhook replayed (400)."""
    max_age = settings.LOOP_WEBHOOK_MAX_AGE_DAYS
    if max_age > 0 and changed is not None and changed < timezone.now() - timedelta(days=max_age):
        raise LoopWebhookStaleError(
            f"The payload last changed more than {max_age} days ago; a replay of an old webhook is refused."
        )


def _may_be_pruned(changed: datetime | None) -> bool:
    """Only a body older than the webhook retention can be a replay of a pruned row (the common path skips it)."""
    if changed is None:
        return True
    return changed < timezone.now() - timedelta(days=settings.RETENTION_WEBHOOKS_DAYS - 1)


def set_loop_webhook_secret(merchant: Merchant, *, secret: str) -> Merchant:
    """Store the webhook secret Loop shows in its Developer Tools page (Loop signs with it)."""
    secret = secret.strip()
    if not secret:
        raise ApplicationError("The Loop webhook secret cannot be empty.", code="invalid", fields={"secret": ["empty"]})
    merchant.returns_webhook_secret = secret
    merchant.save(update_fields=["returns_webhook_secret"])
    return merchant


def reprocess_loop_webhook(webhook: LoopWebhook) -> None:
    """Queue a stored webhook again (e.g. a failed one, from the admin)."""
    LoopWebhook.objects.filter(id=webhook.id).update(state=WebhookState.RECEIVED, error="")
    queue_loop_webhook(webhook.id)


def sweep_loop_webhooks() -> int:
    """Re-queue webhooks still ``received`` after STALE_AFTER (their task was lost); scheduled every few minutes."""
    cutoff = timezone.now() - STALE_AFTER
    ids = list(
        LoopWebhook.objects.filter(state=WebhookState.RECEIVED, received_at__lt=cutoff)
        .order_by("received_at")
        .values_list("id", flat=True)[:SWEEP_LIMIT]
    )
    for webhook_id in ids:
        queue_loop_webhook(webhook_id)
    return len(ids)


def prune_loop_webhooks(*, days: int | None = None) -> int:
    """Delete processed / ignored webhooks (their bodies hold PII) older than the retention.

    Their digests are kept (LoopWebhookDigest) for LOOP_WEBHOOK_DIGEST_RETENTION_DAYS, so a
    replay is still a duplicate; returns how many webhooks were deleted.
    """
    days = settings.RETENTION_WEBHOOKS_DAYS if days is None else days
    now = timezone.now()
    done = [WebhookState.PROCESSED, WebhookState.IGNORED]
    old = LoopWebhook.objects.filter(state__in=done, received_at__lt=now - timedelta(days=days))
    with transaction.atomic():
        LoopWebhookDigest.objects.bulk_create(
            [
                LoopWebhookDigest(merchant_id=m, body_sha256=d, received_at=r)
                for m, d, r in old.values_list("merchant_id", "body_sha256", "received_at")
            ],
            ignore_conflicts=True,
            batch_size=1000,
        )
        deleted, _ = old.delete()
    digest_days = settings.LOOP_WEBHOOK_DIGEST_RETENTION_DAYS
    LoopWebhookDigest.objects.filter(received_at__lt=now - timedelta(days=digest_days)).delete()
    return deleted


def erase_loop_payloads(merchant_id: int, *, emails: set[str]) -> dict[str, int]:
    """Erasure: the Loop webhook bodies and stored returns that carry one of these emails."""
    if not emails:
        return {"loop_webhooks": 0, "loop_returns": 0}
    mentions = Q()
    for email in emails:
        mentions |= Q(body__icontains=email)
    webhooks, _ = LoopWebhook.objects.filter(mentions, merchant_id=merchant_id).delete()
    returns, _ = LoopReturn.objects.filter(merchant_id=merchant_id, email__in=emails).delete()
    return {"loop_webhooks": webhooks, "loop_returns": returns}


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _load_payload(body: bytes | str) -> dict[str, Any] | None:
    """The body as a JSON object, or None: not strict JSON (NaN/Infinity too), not UTF-8, nested
    too deep, or holding what the JSON columns cannot store (NUL, lone surrogates on PostgreSQL)."""
    try:
        payload = json.loads(body, parse_constant=_reject_constant)
        if _has_nul(payload):
            return None
        # 1e999 parses to inf (no JSON column takes it); lone surrogates raise UnicodeEncodeError
        json.dumps(payload, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (ValueError, RecursionError):
        return None
    return payload if isinstance(payload, dict) else None


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


# --- Processing ---------------------------------------------------------------------


def process_loop_webhook(webhook: LoopWebhook) -> LoopWebhook:
    """Turn one stored webhook into events (or park it until its return arrives)."""
    payload = _load_payload(webhook.body)
    if payload is None:
        return _finish(webhook, WebhookState.FAILED, error="The body is not a JSON object.")
    trigger = mapping.trigger_of(payload)
    handler = _HANDLERS.get(trigger)
    if handler is None:
        return _finish(
            webhook, WebhookState.IGNORED, error=f"Trigger {trigger or '(none)'!r} is stored, not forwarded."
        )
    try:
        return handler(webhook, payload, trigger)
    except Exception as exc:  # the row records the failure; the admin can reprocess it
        logger.exception("loop webhook processing failed", extra={"loop_webhook_id": webhook.id})
        return _finish(webhook, WebhookState.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000])


def _process_return(webhook: LoopWebhook, payload: dict[str, Any], trigger: str) -> LoopWebhook:
    return_id = mapping.return_id_of(payload, trigger)
    if not return_id:
        return _finish(webhook, WebhookState.FAILED, error="The return payload has no id.")
    if len(return_id) > MAX_RETURN_ID:  # LoopReturn.return_id is 64 characters (PostgreSQL enforces it)
        return _finish(webhook, WebhookState.FAILED, error=f"The return id is longer than {MAX_RETURN_ID} characters.")
    with transaction.atomic():
        upsert_loop_return(webhook.merchant, payload=payload)
        _record(webhook, trigger, payload=payload, ret=payload)
        _finish(webhook, WebhookState.PROCESSED)
    release_waiting_webhooks(webhook.merchant, return_id=return_id)
    return webhook


def _process_joined(webhook: LoopWebhook, payload: dict[str, Any], trigger: str) -> LoopWebhook:
    """Label (and gift-card) webhooks: join to the stored return; wait for it when it has not arrived."""
    return_id = mapping.return_id_of(payload, trigger)
    if not return_id and not _has_own_email(payload, trigger):
        return _finish(webhook, WebhookState.FAILED, error="The payload has no return id to join to.")
    loop_return = selectors.get_loop_return(webhook.merchant, return_id=return_id)
    if loop_return is None and not _has_own_email(payload, trigger):
        _finish(webhook, WebhookState.WAITING)
        # The return may have been stored between our read and the write above: look again.
        loop_return = selectors.get_loop_return(webhook.merchant, return_id=return_id)
        if loop_return is None or not _claim(webhook.id, WebhookState.WAITING):
            return webhook
    with transaction.atomic():
        _record(webhook, trigger, payload=payload, ret=loop_return.payload if loop_return else {})
        _finish(webhook, WebhookState.PROCESSED)
    return webhook


def _has_own_email(payload: Mapping[str, Any], trigger: str) -> bool:
    return trigger == mapping.GIFTCARD_TRIGGER and "email" in mapping.customer_of(payload)[0]


def _ignore(webhook: LoopWebhook, payload: dict[str, Any], trigger: str) -> LoopWebhook:
    return _finish(webhook, WebhookState.IGNORED, error=f"Trigger {trigger!r} is stored, not forwarded.")


_HANDLERS: dict[str, Callable[[LoopWebhook, dict[str, Any], str], LoopWebhook]] = {
    **dict.fromkeys(mapping.RETURN_TRIGGERS, _process_return),
    **dict.fromkeys(mapping.LABEL_TRIGGERS, _process_joined),
    mapping.GIFTCARD_TRIGGER: _process_joined,
    mapping.RESTOCK_TRIGGER: _ignore,
}


def release_waiting_webhooks(merchant: Merchant, *, return_id: str) -> int:
    """Process the label/gift-card webhooks parked for this return; each is claimed exactly once."""
    released = 0
    for webhook_id in selectors.list_waiting_webhook_ids(merchant, return_id=return_id):
        if _claim(webhook_id, WebhookState.WAITING):
            process_loop_webhook(LoopWebhook.objects.select_related("merchant").get(id=webhook_id))
            released += 1
    return released


def _claim(webhook_id: int, state: str) -> bool:
    """Conditional update: only one worker moves a row out of ``state``."""
    return LoopWebhook.objects.filter(id=webhook_id, state=state).update(state=WebhookState.RECEIVED) == 1


def _finish(webhook: LoopWebhook, state: str, *, error: str = "") -> LoopWebhook:
    webhook.state, webhook.error = state, error
    webhook.processed_at = None if state == WebhookState.WAITING else timezone.now()
    webhook.save(update_fields=["state", "error", "processed_at"])
    return webhook


def _record(webhook: LoopWebhook, trigger: str, *, payload: Mapping[str, Any], ret: Mapping[str, Any]) -> None:
    events = events_for(webhook.merchant, trigger, payload=payload, ret=ret, fallback_time=webhook.received_at)
    for event in events:
        event.raw["loop_webhook_id"] = webhook.id
    record_events(webhook.merchant, events=events)


def events_for(
    merchant: Merchant, trigger: str, *, payload: Mapping[str, Any], ret: Mapping[str, Any], fallback_time: datetime
) -> list[NewEvent]:
    """Build the events for one trigger; item names, variant titles and images come from the order's
    own Purchase line items (one query), not from whatever product pages the pixel saw."""
    order_items = selectors.get_order_line_items(merchant, order_id=mapping.order_id_of(ret))
    return mapping.build_events(trigger, payload=payload, ret=ret, fallback_time=fallback_time, order_items=order_items)


def upsert_loop_return(merchant: Merchant, *, payload: Mapping[str, Any]) -> LoopReturn:
    """Keep the latest return payload per return id (an older out-of-order update never wins)."""
    return_id = parse_id(payload.get("id"))
    identifiers, traits = mapping.customer_of(payload)
    fields = {
        "state": mapping.return_state_of(payload)[:32],
        "email": identifiers.get("email", "")[:254],
        "customer": {"identifiers": identifiers, "traits": traits},
        "payload": dict(payload),
        "loop_updated_at": _changed_at(payload),
    }
    loop_return, created = LoopReturn.objects.select_for_update().get_or_create(
        merchant=merchant, return_id=return_id, defaults=fields
    )
    stored, incoming = loop_return.loop_updated_at, fields["loop_updated_at"]
    if not created and (stored is None or incoming is None or incoming >= stored):
        for name, value in fields.items():
            setattr(loop_return, name, value)
        loop_return.save()
    return loop_return


def _changed_at(ret: Mapping[str, Any]) -> datetime | None:
    times = [parse_datetime(ret.get(k)) for k in ("updated_at", "closed_at", "edited_at", "created_at")]
    return max((t for t in times if t), default=None)


# --- Test events and backfill ---------------------------------------------------------


def send_test_return_events(merchant: Merchant) -> int:
    """Record one realistic sample of every forwarded return metric (test email, fresh ids); returns the count."""
    now = timezone.now()
    ret = samples.sample_return(merchant, return_id=f"test-{uuid.uuid4().hex[:12]}", now=now)
    events: list[NewEvent] = []
    for trigger, payload, state in samples.sample_triggers(ret, now=now):
        snapshot = {**ret, "state": state}
        events += events_for(merchant, trigger, payload=payload, ret=snapshot, fallback_time=now)
    for event in events:
        event.properties["IsTest"] = True
    return record_events(merchant, events=events).accepted


@dataclass(slots=True)
class BackfillSummary:
    merchant_id: int
    returns_read: int = 0
    returns_skipped: int = 0
    events_built: int = 0
    events_recorded: int = 0
    events_duplicate: int = 0
    skipped_reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def backfill_returns(merchant: Merchant, *, returns: Iterable[Mapping[str, Any]]) -> BackfillSummary:
    """Historical returns as events at their own time; idempotent (event ids come from return id + state)."""
    summary = BackfillSummary(merchant_id=merchant.id)
    batch: list[NewEvent] = []
    for ret in returns:
        summary.returns_read += 1
        if not isinstance(ret, Mapping) or not 0 < len(parse_id(ret.get("id"))) <= MAX_RETURN_ID:
            summary.returns_skipped += 1
            summary.skipped_reasons.append(f"item {summary.returns_read}: no return id")
            continue
        batch += _backfill_one(merchant, ret)
        if len(batch) >= BACKFILL_BATCH:
            _flush(merchant, batch, summary)
            batch = []
    _flush(merchant, batch, summary)
    return summary


def backfill_returns_from_loop_api(
    merchant: Merchant, *, api_key: str, since: datetime, until: datetime
) -> BackfillSummary:
    """List the merchant's returns with Loop's Detailed Returns List API and backfill them."""
    client = LoopReturnsClient(api_key=api_key)
    return backfill_returns(merchant, returns=client.iter_returns(since=since, until=until))


def _backfill_one(merchant: Merchant, ret: Mapping[str, Any]) -> list[NewEvent]:
    with transaction.atomic():
        upsert_loop_return(merchant, payload=ret)
    release_waiting_webhooks(merchant, return_id=parse_id(ret.get("id")))
    fallback = _changed_at(ret) or timezone.now()
    events: list[NewEvent] = []
    for trigger in mapping.backfill_triggers(mapping.return_state_of(ret)):
        events += events_for(merchant, trigger, payload=ret, ret=ret, fallback_time=fallback)
    for event in events:  # history: delivered with Klaviyo's backfill flag, so no Return flow fires
        event.context["backfill"] = True
    return events


def _flush(merchant: Merchant, batch: list[NewEvent], summary: BackfillSummary) -> None:
    if not batch:
        return
    result = record_events(merchant, events=batch)
    summary.events_built += len(batch)
    summary.events_recorded += result.accepted
    summary.events_duplicate += result.duplicates
