"""django-q2 tasks: take ids, call a service. Retries are Delivery rows, never task redelivery."""

from __future__ import annotations

import logging

from django.utils import timezone

from destinations import services
from destinations.models import Destination
from destinations.services import flows

logger = logging.getLogger(__name__)


def deliver_events(event_ids: list[int]) -> None:
    """Right after scheduling with DELIVERY_COALESCE off, send the new deliveries of these events
    (with it on, scheduling queues ``deliver_destination`` instead)."""
    services.deliver_pending(event_ids=event_ids)


def deliver_deliveries(delivery_ids: list[int]) -> None:
    services.deliver_pending(delivery_ids=delivery_ids)


def deliver_destination(destination_id: int) -> None:
    """One batch of the destination's due deliveries; a full batch queues the next task first."""
    services.delivery_started(destination_id)
    services.deliver_destination_batch(destination_id)


def sweep_deliveries() -> None:
    """The minute schedule: due deliveries and due platform erasure requests (the sweeper's safety net)."""
    services.sweep_deliveries()
    services.sweep_platform_erasures(timezone.now())


def erase_on_platforms() -> None:
    """Send the due deletion requests of erased profiles to Klaviyo and Loops."""
    services.send_platform_erasures()


def resolve_klaviyo_clicks(profile_ids: list[int]) -> None:
    """Ask Klaviyo who clicked (the profiles' _kx) and re-identify their events."""
    from destinations.services.exchange import resolve_klaviyo_clicks as resolve

    resolve(profile_ids=profile_ids)


def schedule_backup_flow_reports() -> None:
    """Daily: queue one report refresh per Klaviyo destination with backup flows."""
    flows.schedule_backup_flow_reports()


def refresh_backup_flow_reports(destination_id: int) -> None:
    """Klaviyo's flow report for one destination's backup flows; a refused report is logged, not retried."""
    destination = Destination.objects.select_related("merchant").filter(pk=destination_id).first()
    if destination is None:
        return
    try:
        flows.refresh_backup_flow_reports(destination)
    except flows.FlowProvisioningError as exc:
        logger.warning("backup flow report for destination %s failed: %s", destination_id, exc.message)
