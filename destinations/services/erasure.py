"""Erasure reaches the platforms: the erased person is deleted on every destination of the
merchant (Klaviyo data-privacy deletion jobs, Loops contact delete).

``schedule_platform_erasures`` is identity's erasure hook (registered in the app config), so
every ``forget_profile`` caller (admin action, retention, API) schedules them in the same
transaction. One PlatformErasure row per destination x identifier, claimed with a
conditional update and retried on the delivery backoff (Retry-After honoured); the sweeper
and the minute schedule pick up the due ones.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from destinations.clients.base import StepOutcome, outcome_of, platform_message
from destinations.models import Destination, PlatformErasure, PlatformErasureStatus, SyncedProfile
from destinations.retry import RetryPolicy, Verdict, next_delay, parse_retry_after
from destinations.services.outbound import client_for
from destinations.services.plan import retry_policy
from destinations.services.queueing import platform_erasures_started, queue_platform_erasures
from destinations.services.transport import Recorder

logger = logging.getLogger(__name__)

CLAIM_LIMIT = 100
# identity's identifier types -> what a destination client deletes by
PLATFORM_TYPES = {
    "email": "email",
    "phone": "phone",
    "shopify_customer_id": "external_id",
    "external_id": "external_id",
}


def platform_identifiers(identifiers: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Pure: identity's (type, value) pairs as the clients' identifier kinds (emails lower-cased), once each."""
    pairs = []
    for kind, value in identifiers:
        if kind in PLATFORM_TYPES and value:
            pairs.append((PLATFORM_TYPES[kind], value.lower() if kind == "email" else value))
    return list(dict.fromkeys(pairs))


def schedule_platform_erasures(profile, *, record, identifiers: Sequence[tuple[str, str]]) -> int:
    """The erasure hook: a deletion request per destination and identifier its platform deletes by."""
    pairs = platform_identifiers(identifiers)
    remote = dict(
        SyncedProfile.objects.filter(profile_id=profile.pk)
        .exclude(remote_id="")
        .values_list("destination_id", "remote_id")
    )
    now, rows = timezone.now(), []
    for destination in Destination.objects.filter(merchant_id=profile.merchant_id).order_by("id"):
        client = client_for(destination)
        own = pairs + ([("remote_id", remote[destination.pk])] if destination.pk in remote else [])
        for kind, value in own:
            if client.erasure_requests([(kind, value)]):
                rows.append(
                    PlatformErasure(
                        erasure=record,
                        destination=destination,
                        identifier_type=kind,
                        identifier=value,
                        next_attempt_at=now,
                    )
                )
    PlatformErasure.objects.bulk_create(rows)
    if rows:
        queue_platform_erasures()
    return len(rows)


def _due(now: datetime) -> Q:
    return Q(status=PlatformErasureStatus.PENDING, next_attempt_at__lte=now) | Q(
        status=PlatformErasureStatus.SENDING, leased_until__lt=now
    )


def sweep_platform_erasures(now: datetime) -> int:
    """A sweep hook: queue the sending task when a deletion request is due."""
    due = PlatformErasure.objects.filter(_due(now)).count()
    if due:
        queue_platform_erasures()
    return due


def claim_platform_erasures(*, limit: int = CLAIM_LIMIT) -> list[PlatformErasure]:
    """Lease due rows one conditional UPDATE each (erasures are rare): two workers never send the same one."""
    now = timezone.now()
    lease = now + timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)
    ids = list(
        PlatformErasure.objects.filter(_due(now)).order_by("next_attempt_at", "id").values_list("id", flat=True)[:limit]
    )
    claimed = [
        pk
        for pk in ids
        if PlatformErasure.objects.filter(_due(now), pk=pk).update(
            status=PlatformErasureStatus.SENDING, leased_until=lease
        )
    ]
    return list(PlatformErasure.objects.filter(pk__in=claimed).select_related("destination").order_by("id"))


def send_platform_erasures() -> Counter:
    """Send every due deletion request and record how each ended."""
    platform_erasures_started()
    counts: Counter = Counter()
    for row in claim_platform_erasures():
        counts[_send(row)] += 1
    return counts


def _send(row: PlatformErasure) -> str:
    client = client_for(row.destination)
    requests = client.erasure_requests([(row.identifier_type, row.identifier)])
    if not requests:  # the identifier is one this platform no longer deletes by
        return _finish(
            row, StepOutcome(Verdict.DEAD, message=f"{row.destination.kind} cannot delete by {row.identifier_type}")
        )
    recorder = Recorder(client, dry_run=row.destination.dry_run)
    try:
        outcome = outcome_of(requests[0], recorder(requests[0]))
    except Exception as exc:  # a bug must not lose the request: retry it and keep the reason
        logger.exception("platform erasure %s crashed", row.pk)
        outcome = StepOutcome(Verdict.RETRY, message=f"internal error: {type(exc).__name__}")
    return _finish(row, outcome)


def next_step(outcome: StepOutcome, *, attempts: int, policy: RetryPolicy, now: datetime) -> tuple[str, float | None]:
    """Pure: (status, seconds until the next try). A refused key (401/403) is retried, not final:
    the merchant may fix the key, and the deletion must still happen."""
    if outcome.ok:
        return PlatformErasureStatus.SUCCEEDED, None
    if outcome.verdict in (Verdict.RETRY, Verdict.AUTH):
        header = outcome.result.headers.get("retry-after") if outcome.result else None
        delay = next_delay(attempts, policy, retry_after=parse_retry_after(header, now=now))
        if delay is not None:
            return PlatformErasureStatus.PENDING, delay
    return PlatformErasureStatus.DEAD, None


def _finish(row: PlatformErasure, outcome: StepOutcome) -> str:
    now = timezone.now()
    row.attempts += 1
    row.status, delay = next_step(outcome, attempts=row.attempts, policy=retry_policy(), now=now)
    result = outcome.result
    row.last_status_code = result.status_code if result else None
    row.leased_until = None
    if row.status == PlatformErasureStatus.SUCCEEDED:
        row.identifier, row.completed_at = "", now  # confirmed: the last personal data goes
        row.last_error = "dry run: built, not sent" if result and result.dry_run else ""
    else:
        message = platform_message(result) if result and result.status_code else outcome.message
        row.last_error = message[:1000]
        row.next_attempt_at = now + timedelta(seconds=delay or 0)
    row.save()
    return row.status
