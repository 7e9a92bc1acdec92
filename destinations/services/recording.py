"""Turn the outcomes of one batch into row updates: retry schedule, dead letters, health."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from destinations.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Destination,
    DestinationStatus,
    SyncedProfile,
)
from destinations.retry import RetryPolicy, Verdict, next_delay, parse_retry_after
from destinations.services.plan import Plan
from identity.models import Profile

DELIVERY_FIELDS = ["status", "attempts", "next_attempt_at", "leased_until", "lease_token", "last_error", "dry_run"]
DELIVERY_FIELDS += ["delivered_at", "updated_at", "note"]
RELEASE_DELAY = timedelta(seconds=1)
logger = logging.getLogger(__name__)


def _release(delivery: Delivery, *, status: str, at) -> None:
    delivery.status = status
    delivery.next_attempt_at = at
    delivery.leased_until = None
    delivery.lease_token = ""


def apply_outcome(delivery: Delivery, plan: Plan, *, policy: RetryPolicy, now) -> str:
    """Mutate ``delivery`` for its outcome; returns the verdict label counted in reports."""
    delivery.updated_at = now
    notes = [*plan.event.notes, *(plan.outcome.notes if plan.outcome else [])]
    delivery.note = "; ".join(dict.fromkeys(notes))[:1000] if notes else delivery.note
    if plan.held:
        _release(delivery, status=DeliveryStatus.HELD, at=now)
        delivery.last_error = plan.hold_reason or delivery.last_error
        return "held"
    if plan.outcome is None:  # not sent: rate limit or time budget; not an attempt
        _release(delivery, status=DeliveryStatus.PENDING, at=now + RELEASE_DELAY)
        return "deferred"
    outcome = plan.outcome
    if outcome.verdict is Verdict.AUTH:  # the destination pauses; the delivery waits, unharmed
        _release(delivery, status=DeliveryStatus.PENDING, at=now)
        delivery.last_error = outcome.message
        return "paused"
    delivery.attempts += 1
    if outcome.verdict is Verdict.SUCCESS:
        _release(delivery, status=DeliveryStatus.SUCCEEDED, at=now)
        delivery.delivered_at, delivery.last_error = now, ""
        delivery.dry_run = any(r.get("dry_run") for r in plan.records)
        return "succeeded"
    delivery.last_error = outcome.message
    if outcome.verdict is Verdict.RETRY:
        header = outcome.result.headers.get("retry-after") if outcome.result else None
        delay = next_delay(delivery.attempts, policy, retry_after=parse_retry_after(header, now=now))
        if delay is not None:
            _release(delivery, status=DeliveryStatus.PENDING, at=now + timedelta(seconds=delay))
            return "retrying"
        delivery.last_error = f"gave up after {delivery.attempts} attempts: {outcome.message}"[:1000]
    _release(delivery, status=DeliveryStatus.DEAD, at=now)
    return "dead"


def _attempt_rows(plan: Plan) -> list[DeliveryAttempt]:
    return [
        DeliveryAttempt(delivery=plan.delivery, attempt=max(plan.delivery.attempts, 1), **record)
        for record in plan.records
    ]


def _synced_rows(destination: Destination, plans: Sequence[Plan], now) -> list[SyncedProfile]:
    rows = {}
    for plan in plans:
        synced, person = plan.sync or plan.outcome, plan.event.person
        if not person.profile_id:
            continue
        if synced and synced.profile_synced:  # kept even when the event itself must be retried
            digest, remote_id = person.digest(), synced.remote_profile_id or plan.found_remote_id
        elif plan.found_remote_id:  # looked up, not synced: the id only (a later sync still runs)
            digest, remote_id = "", plan.found_remote_id
        else:
            continue
        rows[person.profile_id] = SyncedProfile(
            destination=destination,
            profile_id=person.profile_id,
            digest=digest,
            remote_id=remote_id[:64],
            synced_at=now,
        )
    return list(rows.values())


def _health(destination: Destination, plans: Sequence[Plan], counts: Counter, now) -> None:
    changes: dict = {}
    if counts["succeeded"]:
        changes["last_success_at"] = now
    failed = [p for p in plans if p.outcome is not None and not p.outcome.ok]
    if failed:
        changes.update(last_error=failed[-1].outcome.message[:2000], last_error_at=now)
    if counts["paused"]:
        changes["status"] = DestinationStatus.ERROR
    if changes:
        Destination.objects.filter(pk=destination.pk).update(**changes)


def _save_deliveries(deliveries: Sequence[Delivery]) -> int:
    """One UPDATE per distinct outcome (a batch mostly shares one), not a CASE per row.
    Returns how many rows still existed (an erased event takes its deliveries with it)."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for delivery in deliveries:
        groups[tuple(getattr(delivery, f) for f in DELIVERY_FIELDS)].append(delivery.pk)
    updated = 0
    for values, ids in groups.items():
        for start in range(0, len(ids), 500):
            updated += Delivery.objects.filter(id__in=ids[start : start + 500]).update(
                **dict(zip(DELIVERY_FIELDS, values, strict=True))
            )
    return updated


def record_outcomes(destination: Destination, plans: Sequence[Plan], *, policy: RetryPolicy) -> Counter:
    """Write a batch's outcomes; a profile merged or erased meanwhile never costs them.

    Sync marks are kept only for profiles that still exist (a merge deletes the loser's
    row); should a row still vanish before the commit (a merge or an erasure racing this
    batch: a foreign-key error), the outcomes and health are written again on their own,
    so the batch is never sent again for it.
    """
    now = timezone.now()
    counts: Counter = Counter(apply_outcome(p.delivery, p, policy=policy, now=now) for p in plans)
    synced = _synced_rows(destination, plans, now)
    if synced:
        alive = set(Profile.objects.filter(id__in=[r.profile_id for r in synced]).values_list("id", flat=True))
        synced = [r for r in synced if r.profile_id in alive]
    try:
        with transaction.atomic():
            kept = plans
            if _save_deliveries([p.delivery for p in plans]) < len(plans):  # some erased meanwhile
                alive = set(Delivery.objects.filter(id__in=[p.delivery.pk for p in plans]).values_list("id", flat=True))
                kept = [p for p in plans if p.delivery.pk in alive]
            DeliveryAttempt.objects.bulk_create([row for p in kept for row in _attempt_rows(p)], batch_size=500)
            if synced:
                SyncedProfile.objects.bulk_create(
                    synced,
                    update_conflicts=True,
                    unique_fields=["destination", "profile"],
                    update_fields=["digest", "remote_id", "synced_at"],
                )
            _health(destination, plans, counts, now)
    except IntegrityError:
        logger.warning("destination %s: a profile or event vanished while recording; outcomes kept", destination.pk)
        with transaction.atomic():
            _save_deliveries([p.delivery for p in plans])
            _health(destination, plans, counts, now)
    return counts
