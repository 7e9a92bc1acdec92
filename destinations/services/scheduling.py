"""Which events go to which destination, and when they are held for identity."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from destinations import mapping, selectors
from destinations.activity import PageView, visit_starts
from destinations.clients import client_class
from destinations.models import Delivery, DeliveryStatus, Destination
from destinations.services.outbound import client_for, idempotency_key, outbound_event, phone_region
from destinations.services.queueing import queue_click_lookups, queue_delivery, queue_event_deliveries
from events.models import Event, EventSource, EventType

# Filled by higher apps (shopify: a Started Checkout waits a little for its checkout webhook's
# recovery URL): event pk -> seconds before its new or released deliveries are due.
DELAY_HOOKS: list[Callable[[Sequence[Event]], Mapping[int, float]]] = []


def delivery_delays(events: Sequence[Event]) -> dict[int, float]:
    delays: dict[int, float] = {}
    for hook in DELAY_HOOKS:
        for pk, seconds in hook(events).items():
            delays[pk] = max(delays.get(pk, 0.0), float(seconds))
    return {pk: seconds for pk, seconds in delays.items() if seconds > 0}


def forwards_event(
    *,
    event_type: str,
    source: str,
    reidentified: bool,
    event_types: Iterable[str],
    forward_returns: bool,
    forward_reidentified: bool,
    active_on_site: bool = False,
) -> bool:
    """A destination's settings decide (pure): returns by flag, page views as Klaviyo's "Active on
    Site" by flag, others by type; re-identified opt-out."""
    if reidentified and not forward_reidentified:
        return False
    if source == EventSource.RETURNS:
        return forward_returns
    if active_on_site and event_type == EventType.PAGE_VIEW:
        return True
    return event_type in set(event_types or ())


def _forwards(destination: Destination, event: Event, reidentified: bool) -> bool:
    return forwards_event(
        event_type=event.type,
        source=event.source,
        reidentified=reidentified,
        event_types=destination.event_types,
        forward_returns=destination.forward_returns,
        forward_reidentified=destination.forward_reidentified,
        active_on_site=destination.active_on_site,
    )


def _skipped_page_views(events: Sequence[Event], destinations: Sequence[Destination]) -> set[int]:
    """Page views a destination with ``active_on_site`` does not send: those that continue a
    visit (destinations.activity). One query per merchant with such a destination and page views."""
    merchants = {d.merchant_id for d in destinations if d.active_on_site}
    skipped: set[int] = set()
    gap = timedelta(minutes=settings.KLAVIYO_ACTIVE_ON_SITE_GAP_MINUTES)
    for merchant_id in merchants:
        views = [
            PageView(e.pk, e.anonymous_id, e.profile_id, e.timestamp)
            for e in events
            if e.merchant_id == merchant_id and e.type == EventType.PAGE_VIEW
        ]
        if not views:
            continue
        history = selectors.list_page_views(
            merchant_id,
            anonymous_ids={v.anonymous_id for v in views},
            profile_ids={v.profile_id for v in views if v.profile_id is not None},
            since=min(v.timestamp for v in views) - gap,
            until=max(v.timestamp for v in views),
        )
        skipped |= {v.id for v in views} - visit_starts(views, history, gap=gap)
    return skipped


def _new_delivery(
    event: Event, destination: Destination, *, deliverable: bool, reidentified: bool, backfill: bool = False
) -> Delivery:
    """The Idempotency-Key follows the fact, not the report: every report of one order shares it."""
    fact = mapping.dedupe_id(event.type, event.properties or {}, event.event_id)
    return Delivery(
        event=event,
        destination=destination,
        status=DeliveryStatus.PENDING if deliverable else DeliveryStatus.HELD,
        next_attempt_at=timezone.now(),
        reidentified=reidentified,
        backfill=backfill,
        idempotency_key=idempotency_key(merchant_id=event.merchant_id, event_id=fact, destination_id=destination.pk),
    )


def plan_deliveries(
    events: Sequence[Event], destinations: Sequence[Destination], *, reidentified: bool, backfill: bool = False
) -> tuple[list[Delivery], list[int]]:
    """New Delivery rows to create, and ids of held rows that can now be released."""
    rows = Delivery.objects.filter(event__in=events, destination__in=destinations)
    existing = {
        (e, d): (pk, status) for e, d, pk, status in rows.values_list("event_id", "destination_id", "id", "status")
    }
    clients = {d.pk: client_for(d) for d in destinations}
    regions = {d.merchant_id: phone_region(d.merchant) for d in destinations}
    skipped = _skipped_page_views(events, destinations)
    create, release = [], []
    for event in events:
        outbound = outbound_event(event, region=regions.get(event.merchant_id, ""))
        for destination in destinations:
            if destination.merchant_id != event.merchant_id or not _forwards(destination, event, reidentified):
                continue
            if destination.active_on_site and event.pk in skipped:
                continue
            deliverable = clients[destination.pk].can_deliver(outbound)
            found = existing.get((event.pk, destination.pk))
            if found is None:
                create.append(
                    _new_delivery(
                        event, destination, deliverable=deliverable, reidentified=reidentified, backfill=backfill
                    )
                )
            elif found[1] == DeliveryStatus.HELD and deliverable:
                release.append(found[0])
    return create, release


def _store(
    create: list[Delivery], release: list[int], event_ids: list[int], delays: Mapping[int, float] | None = None
) -> None:
    """Create and release rows; those of a delayed event (DELAY_HOOKS) are due only later."""
    now, delays = timezone.now(), delays or {}
    for row in create:
        if row.event_id in delays:
            row.next_attempt_at = now + timedelta(seconds=delays[row.event_id])
    with transaction.atomic():
        Delivery.objects.bulk_create(create, ignore_conflicts=True, batch_size=500)
        if release:
            Delivery.objects.filter(id__in=release, status=DeliveryStatus.HELD).update(
                status=DeliveryStatus.PENDING, next_attempt_at=now, reidentified=True
            )
            for event_id, seconds in delays.items():
                Delivery.objects.filter(id__in=release, event_id=event_id).update(
                    next_attempt_at=now + timedelta(seconds=seconds)
                )
        if any(d.status == DeliveryStatus.PENDING for d in create) or release:
            _queue_delivery(create, release, event_ids)


def _queue_delivery(create: list[Delivery], release: list[int], event_ids: list[int]) -> None:
    """With DELIVERY_COALESCE, one queued task per destination drains whatever is due for it;
    a destination whose task is queued and not started yet needs no other."""
    if not settings.DELIVERY_COALESCE:
        queue_event_deliveries(event_ids)
        return
    destination_ids = {d.destination_id for d in create if d.status == DeliveryStatus.PENDING}
    if release:
        destination_ids |= set(Delivery.objects.filter(id__in=release).values_list("destination_id", flat=True))
    for destination_id in sorted(destination_ids):
        queue_delivery(destination_id)


def schedule_deliveries(*, events: list[Event], reidentified: bool = False) -> None:
    """One Delivery per event x forwarding destination: pending, or held until identity is known.

    With ``reidentified=True`` (earlier anonymous events now attributed), held rows are
    released and missing rows created, for destinations that forward re-identified events.
    """
    if not events:
        return
    by_merchant: dict[int, list[Destination]] = defaultdict(list)
    merchant_ids = {e.merchant_id for e in events}
    for destination in Destination.objects.filter(merchant_id__in=merchant_ids, enabled=True).select_related(
        "merchant"
    ):
        by_merchant[destination.merchant_id].append(destination)
    destinations = [d for ds in by_merchant.values() for d in ds]
    if not destinations:
        return
    create, release = plan_deliveries(events, destinations, reidentified=reidentified)
    delays = delivery_delays(events) if create or release else {}
    _store(create, release, [e.pk for e in events], delays)
    if any(client_class(d.kind).supports_click_lookup for d in destinations):
        queue_click_lookups(events)


def backfill_destination(destination: Destination, *, days: int) -> int:
    """Schedule the last ``days`` of stored events (idempotent: existing rows and unique ids).

    The rows are marked ``backfill``: Klaviyo records them with ``backfill: true`` (no flow
    fires on week-old carts); Loops has no such flag and every ``events/send`` can start a
    workflow, so a backfill to Loops only updates contacts (see LoopsClient.deliver).
    """
    since = timezone.now() - timedelta(days=days)
    events = Event.objects.filter(merchant_id=destination.merchant_id, timestamp__gte=since).select_related(
        "profile", "merchant"
    )
    created = 0
    batch: list[Event] = []
    for event in events.order_by("id").iterator(chunk_size=1000):
        batch.append(event)
        if len(batch) >= 1000:
            created += _backfill_batch(batch, destination)
            batch = []
    if batch:
        created += _backfill_batch(batch, destination)
    return created


def _backfill_batch(events: list[Event], destination: Destination) -> int:
    create, release = plan_deliveries(events, [destination], reidentified=False, backfill=True)
    with transaction.atomic():
        Delivery.objects.bulk_create(create, ignore_conflicts=True, batch_size=500)
        Delivery.objects.filter(id__in=release).update(
            status=DeliveryStatus.PENDING, next_attempt_at=timezone.now(), backfill=True
        )
        queue_delivery(destination.pk)
    return len(create)
