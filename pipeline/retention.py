"""Data retention: delete what we no longer need on a schedule (`prune_data`, daily).

- Events older than RETENTION_EVENTS_DAYS (by received_at), raw payloads included, with
  their deliveries and attempts. An event with a delivery still pending or sending is
  kept until that delivery finishes: retention never drops an undelivered event.
- Delivery attempt logs older than RETENTION_DELIVERY_ATTEMPTS_DAYS (14 by default).
- Processed / ignored Loop webhook bodies older than RETENTION_WEBHOOKS_DAYS.
- Client hints (keyed hash of network prefix + OS family) of click ids first seen more than
  IDENTITY_CLIENT_HINT_RETENTION_HOURS ago; an event's own hint is blanked when it is resolved.
A setting of 0 keeps that data forever.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from destinations.models import Delivery, DeliveryStatus
from destinations.services import prune_delivery_attempts
from events.models import Event
from identity.services.erasure import forget_client_hints
from returns.services import prune_loop_webhooks

logger = logging.getLogger(__name__)

EVENT_BATCH = 2000


def prune_events(*, days: int, batch_size: int = EVENT_BATCH) -> int:
    """Delete old events in batches (deliveries and attempts cascade); returns how many."""
    if days <= 0:
        return 0
    cutoff = timezone.now() - timedelta(days=days)
    in_flight = Delivery.objects.filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING]).values("event_id")
    old = Event.objects.filter(received_at__lt=cutoff).exclude(id__in=in_flight)
    deleted = 0
    while True:
        ids = list(old.order_by("id").values_list("id", flat=True)[:batch_size])
        if not ids:
            return deleted
        Event.objects.filter(id__in=ids).delete()
        deleted += len(ids)


def prune_data(
    *, events_days: int | None = None, attempts_days: int | None = None, webhooks_days: int | None = None
) -> dict[str, int]:
    """Apply every retention period (settings unless given); returns rows deleted per kind."""

    def pick(value: int | None, default: int) -> int:
        return default if value is None else value

    attempts = pick(attempts_days, settings.RETENTION_DELIVERY_ATTEMPTS_DAYS)
    webhooks = pick(webhooks_days, settings.RETENTION_WEBHOOKS_DAYS)
    counts = {
        "events": prune_events(days=pick(events_days, settings.RETENTION_EVENTS_DAYS)),
        "delivery_attempts": prune_delivery_attempts(days=attempts) if attempts > 0 else 0,
        "loop_webhooks": prune_loop_webhooks(days=webhooks) if webhooks > 0 else 0,
        "client_hints": forget_client_hints(hours=settings.IDENTITY_CLIENT_HINT_RETENTION_HOURS),
    }
    logger.info("data pruned", extra=counts)
    return counts
