"""What staff do with destinations: add, fix the key, test, replay, prune."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.errors import ApplicationError
from config.queue import enqueue_on_commit
from destinations.clients import REGISTRY
from destinations.clients.base import outcome_of, platform_message
from destinations.models import Delivery, DeliveryAttempt, DeliveryStatus, Destination, DestinationStatus
from destinations.retry import Verdict
from destinations.services.outbound import client_for
from destinations.services.transport import Recorder
from events.models import Merchant


class DestinationConfigError(ApplicationError):
    code = "destination_invalid"


@dataclass(frozen=True, slots=True)
class TestResult:
    ok: bool
    status_code: int | None
    message: str

    __test__ = False  # not a pytest class


def _last4(api_key: str) -> str:
    return api_key[-4:] if len(api_key) >= 8 else ""


def create_destination(merchant: Merchant, *, kind: str, api_key: str, name: str = "", **options: Any) -> Destination:
    if kind not in REGISTRY:
        raise DestinationConfigError(f"Unknown destination kind {kind!r}.", fields={"kind": sorted(REGISTRY)})
    if not api_key.strip():
        raise DestinationConfigError("An API key is required.", fields={"api_key": ["required"]})
    destination = Destination(
        merchant=merchant,
        kind=kind,
        name=name or f"{merchant.name} {kind.title()}",
        api_key=api_key.strip(),
        api_key_last4=_last4(api_key.strip()),
        **options,
    )
    destination.full_clean(exclude=["api_key"])
    destination.save()
    return destination


def set_api_key(destination: Destination, *, api_key: str) -> Destination:
    """Replace the key; a paused destination resumes (a wrong key pauses it again on the next 401)."""
    destination.api_key = api_key.strip()
    destination.api_key_last4 = _last4(destination.api_key)
    destination.status = DestinationStatus.ACTIVE
    destination.save(update_fields=["api_key", "api_key_last4", "status", "updated_at"])
    enqueue_on_commit("destinations.tasks.deliver_destination", destination.pk)
    return destination


def _test_message(kind: str, result) -> str:
    data = result.json() if result else None
    if kind == "loops" and isinstance(data, dict) and data.get("teamName"):
        return f"API key is valid (team {data['teamName']})."
    return f"API key is valid (HTTP {result.status_code})."


def test_destination(destination: Destination) -> TestResult:
    """Validate the key against the platform (always a real request, even for dry-run destinations)."""
    client = client_for(destination)
    request = client.test_request(shop_domain=destination.merchant.shop_domain)
    outcome = outcome_of(request, Recorder(client, dry_run=False)(request))
    result = outcome.result
    now = timezone.now()
    if outcome.ok:
        Destination.objects.filter(pk=destination.pk).update(status=DestinationStatus.ACTIVE, last_success_at=now)
        destination.status = DestinationStatus.ACTIVE
        enqueue_on_commit("destinations.tasks.deliver_destination", destination.pk)
        return TestResult(True, result.status_code, _test_message(destination.kind, result))
    message = platform_message(result) if result.status_code else outcome.message
    changes: dict[str, Any] = {"last_error": message[:2000], "last_error_at": now}
    if outcome.verdict is Verdict.AUTH:
        changes["status"] = DestinationStatus.ERROR
    Destination.objects.filter(pk=destination.pk).update(**changes)
    return TestResult(False, result.status_code, message)


def replay_delivery(delivery: Delivery) -> Delivery:
    """Send one delivery again now (same idempotency key / unique ids: the platform dedupes)."""
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = timezone.now()
    delivery.attempts = 0
    delivery.leased_until = None
    delivery.lease_token = ""
    delivery.save(update_fields=["status", "next_attempt_at", "attempts", "leased_until", "lease_token", "updated_at"])
    enqueue_on_commit("destinations.tasks.deliver_deliveries", [delivery.pk])
    return delivery


def replay_dead_deliveries(
    *,
    destination: Destination,
    since: datetime | None = None,
    until: datetime | None = None,
    statuses: tuple[str, ...] = (DeliveryStatus.DEAD,),
) -> int:
    """Re-queue a destination's dead deliveries (optionally those of events in a time range)."""
    rows = Delivery.objects.filter(destination=destination, status__in=statuses)
    if since is not None:
        rows = rows.filter(event__timestamp__gte=since)
    if until is not None:
        rows = rows.filter(event__timestamp__lt=until)
    with transaction.atomic():
        count = rows.update(
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=timezone.now(),
            leased_until=None,
            lease_token="",
            updated_at=timezone.now(),
        )
        if count:
            enqueue_on_commit("destinations.tasks.deliver_destination", destination.pk)
    return count


def prune_delivery_attempts(*, days: int | None = None) -> int:
    days = settings.DELIVERY_LOG_RETENTION_DAYS if days is None else days
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = DeliveryAttempt.objects.filter(created_at__lt=cutoff).delete()
    return deleted
