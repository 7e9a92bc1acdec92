"""One ``queue_…`` function per task of ``destinations/tasks.py``: every caller queues through
these, so each task has one set of rules (on commit, de-duplicated where a queued task that
has not started yet already covers the new work). The task names appear nowhere else.

Imports no other service module: scheduling, the engine, the sweep, operations, erasure and
flows all import this one.
"""

from __future__ import annotations

from collections.abc import Sequence

from config.queue import enqueue_on_commit, enqueue_once_on_commit, task_started
from events.models import Event

DELIVER_DESTINATION = "destinations.tasks.deliver_destination"
DELIVER_EVENTS = "destinations.tasks.deliver_events"
DELIVER_DELIVERIES = "destinations.tasks.deliver_deliveries"
ERASE_ON_PLATFORMS = "destinations.tasks.erase_on_platforms"
RESOLVE_KLAVIYO_CLICKS = "destinations.tasks.resolve_klaviyo_clicks"
REFRESH_BACKUP_FLOW_REPORTS = "destinations.tasks.refresh_backup_flow_reports"

DELIVERY_PENDING_SECONDS = 10
ERASE_PENDING_KEY = "destinations:erase-pending"
ERASE_PENDING_SECONDS = 10


def delivery_pending_key(destination_id: int) -> str:
    return f"destinations:deliver-pending:{destination_id}"


def queue_delivery(destination_id: int, *, tasks: int = 1) -> None:
    """Queue ``deliver_destination`` on commit, unless one is queued and not started yet.

    Each task sends one batch (a full batch queues the next first). ``tasks`` > 1 is the
    minute sweep's fan-out for a backlog: that many tasks, counting the one already queued.
    """
    enqueue_once_on_commit(
        DELIVER_DESTINATION,
        destination_id,
        pending_key=delivery_pending_key(destination_id),
        pending_seconds=DELIVERY_PENDING_SECONDS,
    )
    for _ in range(tasks - 1):  # extra workers on the backlog: claims keep them apart
        enqueue_on_commit(DELIVER_DESTINATION, destination_id)


def delivery_started(destination_id: int) -> None:
    """A destination's delivery task starts: deliveries scheduled from now on queue another."""
    task_started(delivery_pending_key(destination_id))


def queue_event_deliveries(event_ids: Sequence[int]) -> None:
    """``deliver_events`` on commit: the new deliveries of these events (DELIVERY_COALESCE off)."""
    enqueue_on_commit(DELIVER_EVENTS, list(event_ids))


def queue_deliveries(delivery_ids: Sequence[int]) -> None:
    """``deliver_deliveries`` on commit: exactly these rows (a replay)."""
    enqueue_on_commit(DELIVER_DELIVERIES, list(delivery_ids))


def queue_platform_erasures() -> None:
    """``erase_on_platforms`` on commit, unless one is queued and not started yet."""
    enqueue_once_on_commit(ERASE_ON_PLATFORMS, pending_key=ERASE_PENDING_KEY, pending_seconds=ERASE_PENDING_SECONDS)


def platform_erasures_started() -> None:
    task_started(ERASE_PENDING_KEY)


def queue_click_lookups(events: Sequence[Event]) -> None:
    """``resolve_klaviyo_clicks`` on commit for the events' profiles that hold a _kx and no
    email or phone (one task for all of them)."""
    ids = sorted(
        {
            e.profile_id
            for e in events
            if e.profile_id and getattr(e.profile, "klaviyo_kx", "") and not (e.profile.email or e.profile.phone)
        }
    )
    if ids:
        enqueue_on_commit(RESOLVE_KLAVIYO_CLICKS, ids)


def queue_flow_report(destination_id: int) -> None:
    """``refresh_backup_flow_reports`` on commit for one destination."""
    enqueue_on_commit(REFRESH_BACKUP_FLOW_REPORTS, destination_id)
