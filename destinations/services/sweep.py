"""Finding due work: the minute schedule (safety net) and the sweeper loop (exact retry times).

django-q2's scheduler fires every 30-60 s, so a delivery told "Retry-After: 3" by a 429
would wait up to a minute for the scheduled sweep. ``run_sweeper`` (``manage.py
run_sweeper``, one small process beside the workers) looks every second, and sooner when
the next due row is nearer, and queues one delivery task per destination with due rows
(``queue_delivery`` dedupes it against a task already queued and not started). Claims are
conditional updates, so extra sweepers or the minute schedule never send anything twice.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.db import close_old_connections, connection
from django.db.models import Count, Min, Q
from django.utils import timezone

from destinations.models import Delivery, DeliveryStatus, DestinationStatus
from destinations.services.queueing import queue_delivery

logger = logging.getLogger(__name__)

MAX_TASKS_PER_DESTINATION = 20
MIN_WAIT_SECONDS = 0.05

# More due work the sweeper looks for each tick (e.g. platform erasure requests), registered
# by the modules that own it: each takes "now" and returns how many items it queued.
SWEEP_HOOKS: list[Callable[[datetime], int]] = []


def _due(now: datetime) -> Q:
    return Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now) | Q(
        status=DeliveryStatus.SENDING, leased_until__lt=now
    )


def _active() -> Q:
    return Q(destination__enabled=True, destination__status=DestinationStatus.ACTIVE)


def due_destination_counts(now: datetime) -> dict[int, int]:
    """Destination id -> due deliveries (pending and due, or sending with an expired lease)."""
    rows = Delivery.objects.filter(_due(now), _active()).values_list("destination_id").annotate(n=Count("id"))
    return dict(rows.values_list("destination_id", "n"))


def seconds_until_next_due(now: datetime) -> float | None:
    """How long until the earliest pending delivery (of an active destination) is due; None: none pending."""
    pending = Delivery.objects.filter(_active(), status=DeliveryStatus.PENDING, next_attempt_at__gt=now)
    soonest = pending.aggregate(at=Min("next_attempt_at"))["at"]
    return None if soonest is None else (soonest - now).total_seconds()


def sweep_deliveries() -> dict[int, int]:
    """Queue ``deliver_destination`` tasks for every destination with due rows, on commit: one per
    batch of due rows (at most MAX_TASKS_PER_DESTINATION, counting a task already queued and not
    started) so a backlog drains on several workers; claims keep them from sending a row twice."""
    counts = due_destination_counts(timezone.now())
    for destination_id, count in counts.items():
        queue_delivery(
            destination_id, tasks=min(MAX_TASKS_PER_DESTINATION, math.ceil(count / settings.DELIVERY_BATCH_SIZE))
        )
    return counts


def sweep_due_now(now: datetime | None = None) -> dict[str, int]:
    """One sweeper tick: a delivery task per destination with due rows, and the hooks' due work."""
    now = timezone.now() if now is None else now
    destinations = due_destination_counts(now)
    for destination_id in sorted(destinations):
        queue_delivery(destination_id)
    swept = {"destinations": len(destinations)}
    for hook in SWEEP_HOOKS:
        swept[hook.__name__] = hook(now)
    return swept


def next_wait(seconds_to_next_due: float | None, *, tick: float) -> float:
    """How long the sweeper sleeps (pure): the tick, or less when the next row is due sooner."""
    if seconds_to_next_due is None:
        return tick
    return min(tick, max(MIN_WAIT_SECONDS, seconds_to_next_due))


def run_sweeper(
    *,
    tick: float | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    sleep: Callable[[float], None] = time.sleep,
    max_iterations: int | None = None,
) -> int:
    """Sweep until ``should_stop()``; returns the ticks run. A database error is logged and waited out."""
    tick = settings.SWEEPER_TICK_SECONDS if tick is None else tick
    iterations = 0

    def more() -> bool:
        return not should_stop() and (max_iterations is None or iterations < max_iterations)

    while more():
        iterations += 1
        if not connection.in_atomic_block:
            close_old_connections()  # a long-lived process: drop a connection the database closed
        try:
            sweep_due_now()
            wait = next_wait(seconds_until_next_due(timezone.now()), tick=tick)
        except Exception:
            logger.exception("sweeper tick failed; trying again after the tick")
            wait = tick
        if more():
            sleep(wait)
    return iterations
