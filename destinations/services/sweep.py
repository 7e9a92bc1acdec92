"""The scheduled safety net: find destinations with due deliveries and queue their batches."""

from __future__ import annotations

import math

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone
from django_q.tasks import async_task

from destinations.models import Delivery, DeliveryStatus

MAX_TASKS_PER_DESTINATION = 20


def sweep_deliveries() -> dict[int, int]:
    """Queue ``deliver_destination`` tasks for every destination with due rows (claims dedupe them)."""
    now = timezone.now()
    due = Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now) | Q(
        status=DeliveryStatus.SENDING, leased_until__lt=now
    )
    counts = dict(
        Delivery.objects.filter(due, destination__enabled=True, destination__status="active")
        .values_list("destination_id")
        .annotate(n=Count("id"))
        .values_list("destination_id", "n")
    )
    for destination_id, count in counts.items():
        tasks = min(MAX_TASKS_PER_DESTINATION, math.ceil(count / settings.DELIVERY_BATCH_SIZE))
        for _ in range(tasks):
            async_task("destinations.tasks.deliver_destination", destination_id)
    return counts
