"""The delivery engine: claim due rows, send them concurrently (or as bulk jobs), record every try."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from destinations import platform_limits
from destinations.clients.base import DestinationClient, StepOutcome
from destinations.models import Delivery, DeliveryStatus, Destination, DestinationStatus
from destinations.retry import Verdict, parse_retry_after
from destinations.services.existence import check_existing
from destinations.services.outbound import client_for, outbound_event, phone_region, property_overlays
from destinations.services.plan import Plan, retry_policy
from destinations.services.queueing import queue_delivery
from destinations.services.recording import record_outcomes
from destinations.services.transport import Recorder, get_executor

logger = logging.getLogger(__name__)


def _due(now: datetime) -> Q:
    return Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now) | Q(
        status=DeliveryStatus.SENDING, leased_until__lt=now
    )


def claim_deliveries(
    *,
    limit: int,
    delivery_ids: Sequence[int] | None = None,
    event_ids: Sequence[int] | None = None,
    destination_id: int | None = None,
) -> list[Delivery]:
    """Lease due rows with a conditional UPDATE: two workers never hold the same delivery."""
    now = timezone.now()
    token = uuid.uuid4().hex
    candidates = Delivery.objects.filter(
        _due(now), destination__enabled=True, destination__status=DestinationStatus.ACTIVE
    )
    if delivery_ids is not None:
        candidates = candidates.filter(id__in=list(delivery_ids))
    if event_ids is not None:
        candidates = candidates.filter(event_id__in=list(event_ids))
    if destination_id is not None:
        candidates = candidates.filter(destination_id=destination_id)
    with transaction.atomic():
        candidates = candidates.order_by("next_attempt_at", "id")
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True, of=("self",))
        ids = list(candidates.values_list("id", flat=True)[:limit])
        if not ids:
            return []
        lease = now + timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)
        Delivery.objects.filter(_due(now), id__in=ids).update(
            status=DeliveryStatus.SENDING, leased_until=lease, lease_token=token
        )
    rows = Delivery.objects.filter(lease_token=token, status=DeliveryStatus.SENDING)
    claimed = list(rows.select_related("event__profile").defer("event__raw").order_by("id"))
    _share_destinations(claimed)
    return claimed


def _share_destinations(deliveries: list[Delivery]) -> None:
    """One Destination (and Merchant) object per batch, not a copy per row.

    A batch is mostly one destination: joining it (and its merchant, twice) onto every row
    built and decrypted the same API key and webhook secret a thousand times per batch.
    One query loads each distinct destination with its merchant; the events share it.
    """
    ids = {d.destination_id for d in deliveries}
    destinations = Destination.objects.select_related("merchant").in_bulk(ids) if ids else {}
    merchants = {d.merchant_id: d.merchant for d in destinations.values()}
    for delivery in deliveries:
        delivery.destination = destinations[delivery.destination_id]
        if delivery.event.merchant_id in merchants:
            delivery.event.merchant = merchants[delivery.event.merchant_id]


def deliver_pending(
    *,
    event_ids: Sequence[int] | None = None,
    delivery_ids: Sequence[int] | None = None,
    destination_id: int | None = None,
    budget_seconds: float | None = None,
) -> Counter:
    """Claim and send due deliveries batch by batch until none are left or the time budget is spent."""
    budget = settings.DELIVERY_TASK_BUDGET_SECONDS if budget_seconds is None else budget_seconds
    deadline = time.time() + budget
    totals: Counter = Counter()
    while time.time() < deadline:
        claimed = claim_deliveries(
            limit=settings.DELIVERY_BATCH_SIZE,
            delivery_ids=delivery_ids,
            event_ids=event_ids,
            destination_id=destination_id,
        )
        if not claimed:
            break
        by_destination: dict[int, list[Delivery]] = defaultdict(list)
        for delivery in claimed:
            by_destination[delivery.destination_id].append(delivery)
        for rows in by_destination.values():
            totals += send_batch(rows[0].destination, rows, deadline=deadline)
    return totals


def deliver_destination_batch(destination_id: int) -> Counter:
    """Claim and send one batch of the destination's due deliveries.

    A full batch queues the next task before sending, so it takes the next batch on
    another worker while this one sends: a backlog drains in parallel, and every task stays
    one batch long, so processing tasks queued meanwhile are not starved behind a long drain.
    """
    claimed = claim_deliveries(limit=settings.DELIVERY_BATCH_SIZE, destination_id=destination_id)
    if not claimed:
        return Counter()
    if len(claimed) >= settings.DELIVERY_BATCH_SIZE:
        queue_delivery(destination_id)
    deadline = time.time() + settings.DELIVERY_TASK_BUDGET_SECONDS
    return send_batch(claimed[0].destination, claimed, deadline=deadline)


def _plans(destination: Destination, client: DestinationClient, deliveries: Sequence[Delivery]) -> list[Plan]:
    from destinations.models import SyncedProfile

    profile_ids = {d.event.profile_id for d in deliveries if d.event.profile_id}
    rows = SyncedProfile.objects.filter(destination=destination, profile_id__in=profile_ids)
    synced, remote_ids = {}, {}
    for profile_id, digest, remote_id in rows.values_list("profile_id", "digest", "remote_id"):
        synced[profile_id] = digest
        if remote_id:
            remote_ids[profile_id] = remote_id
    region = phone_region(destination.merchant)
    overlays = property_overlays([d.event for d in deliveries])
    seen: set[int] = set()
    plans = []
    for delivery in deliveries:
        overlay = overlays.get(delivery.event.pk)
        event = outbound_event(delivery.event, backfill=delivery.backfill, region=region, overlay=overlay)
        person = event.person
        sync = bool(
            person.profile_id
            and person.profile_id not in seen
            and client.should_sync_profile(person)
            and synced.get(person.profile_id) != person.digest()
        )
        if sync:
            seen.add(person.profile_id)
        plan = Plan(delivery, event, sync, cost=client.estimate_requests(event, sync_profile=sync))
        plan.held = not client.can_deliver(event)
        plans.append(plan)
    check_existing(destination, client, plans, remote_ids)
    return plans


def send_batch(destination: Destination, deliveries: Sequence[Delivery], *, deadline: float) -> Counter:
    """Send one destination's claimed deliveries and record the outcomes."""
    client = client_for(destination)
    plans = _plans(destination, client, deliveries)
    ready = [p for p in plans if not p.held and p.outcome is None]  # a failed look-up already has one
    key = platform_limits.bucket_key(destination.api_key, "default")
    if client.supports_bulk and len(ready) >= settings.DELIVERY_BULK_THRESHOLD:
        _run_bulk(client, ready, destination=destination, deadline=deadline)
    else:
        spilled = _run_concurrently(
            client,
            ready,
            key=key,
            dry_run=destination.dry_run,
            deadline=deadline,
            spill=client.supports_bulk and settings.DELIVERY_BULK_OVERFLOW,
        )
        if spilled:  # the per-event budget is spent for now: the rest goes as bulk jobs, not later
            _run_bulk(client, spilled, destination=destination, deadline=deadline)
    _respect_retry_after(destination, client, plans, key=key)
    return record_outcomes(destination, plans, policy=retry_policy())


def _respect_retry_after(destination: Destination, client: DestinationClient, plans: list[Plan], *, key: str) -> None:
    """A 429 with Retry-After pauses the key's shared bucket, so no worker keeps hitting the limit."""
    waits = [
        parse_retry_after(p.outcome.result.headers.get("retry-after"), now=timezone.now())
        for p in plans
        if p.outcome and p.outcome.result and p.outcome.result.status_code == 429
    ]
    longest = max((w for w in waits if w is not None), default=None)
    if longest and not destination.dry_run:
        platform_limits.pause(
            key, client.limits.get("default", ()), min(longest, retry_policy().max_retry_after_seconds)
        )


def _execute(client: DestinationClient, plan: Plan, *, dry_run: bool) -> None:
    recorder = Recorder(client, dry_run=dry_run)
    try:
        plan.outcome = client.deliver(
            plan.event, recorder, idempotency_key=plan.delivery.idempotency_key, sync_profile=plan.sync_profile
        )
    except Exception as exc:  # a bug must not lose the delivery: retry it and keep the reason
        logger.exception("delivery %s crashed", plan.delivery.pk)
        plan.outcome = StepOutcome(Verdict.RETRY, message=f"internal error: {type(exc).__name__}")
    plan.records = recorder.records


def _run_concurrently(
    client: DestinationClient, plans: list[Plan], *, key: str, dry_run: bool, deadline: float, spill: bool = False
) -> list[Plan]:
    """Send in rate-limited chunks on the process's thread pool; whatever the budget misses stays pending.

    With ``spill`` (the platform has a bulk endpoint with limits of its own) the plans the
    per-event bucket cannot cover right now are returned instead of waited for.
    """
    todo = deque(plans)
    executor = get_executor()
    limits = client.limits.get("default", ())
    while todo:
        want = sum(p.cost for p in todo)
        if not limits or dry_run:
            granted = want
        elif spill:
            granted = platform_limits.take(key, limits, want)[0]
        else:
            granted = platform_limits.acquire(key, limits, want, deadline=deadline)
        if not granted:
            return list(todo) if spill else []
        chunk, cost = [], 0
        while todo and (not chunk or cost + todo[0].cost <= granted):
            plan = todo.popleft()
            chunk.append(plan)
            cost += plan.cost
        for future in [executor.submit(_execute, client, p, dry_run=dry_run) for p in chunk]:
            future.result()
        if spill and granted < want:
            return list(todo)
    return []


def _bulk_chunks(client: DestinationClient, plans: list[Plan]) -> list[list[Plan]]:
    chunks: list[list[Plan]] = [[]]
    count = 0
    for plan in plans:
        if count + plan.cost > client.bulk_max_events and chunks[-1]:
            chunks.append([])
            count = 0
        chunks[-1].append(plan)
        count += client.bulk_units(plan.event)
    return [c for c in _split_by_size(client, chunks) if c]


def _rough_size(chunk: list[Plan]) -> int:
    """An over-estimate of a chunk's JSON size (properties twice for Ordered Product copies)."""
    return sum(1000 + 2 * len(json.dumps(p.event.properties, default=str)) for p in chunk)


def _split_by_size(client: DestinationClient, chunks: list[list[Plan]]) -> list[list[Plan]]:
    out: list[list[Plan]] = []
    for chunk in chunks:
        if _rough_size(chunk) < client.bulk_max_bytes // 2:  # clearly small: skip building it twice
            out.append(chunk)
            continue
        body = client.bulk_requests([p.event for p in chunk])[0].json
        if len(chunk) > 1 and len(json.dumps(body, default=str)) > client.bulk_max_bytes:
            half = len(chunk) // 2
            out.extend(_split_by_size(client, [chunk[:half], chunk[half:]]))
        else:
            out.append(chunk)
    return out


def _run_bulk(client: DestinationClient, plans: list[Plan], *, destination: Destination, deadline: float) -> None:
    """A backlog for one destination: profiles synced first, then events-bulk-create jobs."""
    for plan in plans:
        if plan.sync_profile:
            recorder = Recorder(client, dry_run=destination.dry_run)
            plan.sync = client.sync_profile(plan.event.person, recorder)
            plan.records = recorder.records
            if not plan.sync.ok:
                plan.outcome = plan.sync
    key = platform_limits.bucket_key(destination.api_key, "bulk")
    for chunk in _bulk_chunks(client, [p for p in plans if p.outcome is None]):
        if not destination.dry_run and not platform_limits.acquire(key, client.limits["bulk"], 1, deadline=deadline):
            return
        recorder = Recorder(client, dry_run=destination.dry_run)
        outcome = client.deliver_bulk([p.event for p in chunk], recorder)
        for plan in chunk:
            plan.outcome = plan.sync if (plan.sync and outcome.ok) else outcome
            plan.records = plan.records + recorder.records
