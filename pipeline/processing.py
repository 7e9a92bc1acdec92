"""The processing pipeline: resolve identity, then schedule deliveries.

events claims the unprocessed rows and calls ``process_stored_events`` inside the batch's
transaction (registered in ``pipeline.apps``); events itself imports neither app.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from destinations import services as delivery_services
from events.models import Event
from identity import services as identity_services
from identity.models import Profile


def process_stored_events(events: list[Event]) -> None:
    """Resolve the events' identities, then schedule deliveries for them and for the earlier
    events of a profile that has just been identified (sent again as re-identified)."""
    # Both services are looked up at call time (module attributes): a test may observe them.
    outcome = identity_services.resolve_events(events=events)
    delivery_services.schedule_deliveries(events=outcome.events)
    if outcome.reidentified:
        delivery_services.schedule_deliveries(events=outcome.reidentified, reidentified=True)


def resend_recent_events(profile: Profile, *, hours: int | None = None) -> int:
    """Schedule the profile's recent events for delivery again (as re-identified); return how many."""
    lookback = hours if hours is not None else profile.merchant.reidentify_lookback_hours
    events = list(
        Event.objects.filter(profile=profile, timestamp__gte=timezone.now() - timedelta(hours=lookback))
        .select_related("merchant")
        .order_by("timestamp", "id")
    )
    if events:
        delivery_services.schedule_deliveries(events=events, reidentified=True)
    return len(events)
