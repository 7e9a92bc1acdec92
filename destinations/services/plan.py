"""What the delivery engine, the existence look-up and the recording share: one delivery's
``Plan`` for a batch, and the retry policy its outcome is judged by.

engine builds and sends plans, existence fills them in, recording turns them into rows;
each imports this module, none imports another for these (no import circle).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from destinations.clients.base import OutboundEvent, StepOutcome
from destinations.models import Delivery
from destinations.retry import RetryPolicy


def retry_policy() -> RetryPolicy:
    """The delivery retry schedule from settings (also used for platform erasure requests)."""
    return RetryPolicy(
        base_seconds=settings.DELIVERY_RETRY_BASE_SECONDS,
        factor=settings.DELIVERY_RETRY_FACTOR,
        cap_seconds=settings.DELIVERY_RETRY_CAP_SECONDS,
        max_attempts=settings.DELIVERY_MAX_ATTEMPTS,
        jitter=settings.DELIVERY_RETRY_JITTER,
    )


@dataclass(slots=True)
class Plan:
    delivery: Delivery
    event: OutboundEvent
    sync_profile: bool
    cost: int = 1
    held: bool = False
    outcome: StepOutcome | None = None
    sync: StepOutcome | None = None
    records: list[dict[str, Any]] = field(default_factory=list)
    found_remote_id: str = ""  # the platform's id, learnt from an existence look-up
    hold_reason: str = ""
