"""Destination services: scheduling, the delivery engine and staff operations."""

from destinations.services.engine import (
    claim_deliveries,
    deliver_destination_batch,
    deliver_pending,
    send_batch,
)
from destinations.services.erasure import (
    schedule_platform_erasures,
    send_platform_erasures,
    sweep_platform_erasures,
)
from destinations.services.operations import (
    TestResult,
    create_destination,
    prune_delivery_attempts,
    replay_dead_deliveries,
    replay_delivery,
    set_api_key,
    test_destination,
)
from destinations.services.queueing import delivery_started
from destinations.services.scheduling import backfill_destination, schedule_deliveries
from destinations.services.sweep import run_sweeper, sweep_deliveries, sweep_due_now

__all__ = [
    "TestResult",
    "backfill_destination",
    "claim_deliveries",
    "create_destination",
    "deliver_destination_batch",
    "deliver_pending",
    "delivery_started",
    "prune_delivery_attempts",
    "replay_dead_deliveries",
    "replay_delivery",
    "run_sweeper",
    "schedule_deliveries",
    "schedule_platform_erasures",
    "send_batch",
    "send_platform_erasures",
    "set_api_key",
    "sweep_deliveries",
    "sweep_due_now",
    "sweep_platform_erasures",
    "test_destination",
]
