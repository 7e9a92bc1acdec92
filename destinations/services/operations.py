"""What staff do with destinations: add, fix the key, test, replay, prune."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.errors import ApplicationError
from destinations.clients import REGISTRY
from destinations.clients.base import (
    DestinationClient,
    FeatureCheck,
    StepOutcome,
    check_feature,
    outcome_of,
    platform_message,
    probe_key,
)
from destinations.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Destination,
    DestinationStatus,
)
from destinations.services.outbound import client_for
from destinations.services.queueing import queue_deliveries, queue_delivery
from destinations.services.transport import Recorder
from events.models import Merchant


class DestinationConfigError(ApplicationError):
    code = "destination_invalid"


@dataclass(frozen=True, slots=True)
class TestResult:
    ok: bool
    status_code: int | None
    message: str
    features: tuple[FeatureCheck, ...] = ()  # per feature: missing / unverified scopes

    __test__ = False  # not a pytest class

    @property
    def missing_scopes(self) -> dict[str, tuple[str, ...]]:
        return {f.name: f.missing for f in self.features if f.missing}


def _last4(api_key: str) -> str:
    return api_key[-4:] if len(api_key) >= 8 else ""


def create_destination(merchant: Merchant, *, kind: str, api_key: str, name: str = "", **options: Any) -> Destination:
    if kind not in REGISTRY:
        raise DestinationConfigError(f"Unknown destination kind {kind!r}.", fields={"kind": sorted(REGISTRY)})
    if not api_key.strip():
        raise DestinationConfigError("An API key is required.", fields={"api_key": ["required"]})
    if options.get("active_on_site") and not REGISTRY[kind].supports_active_on_site:
        raise DestinationConfigError(
            "Active on Site is a Klaviyo metric: only a Klaviyo destination sends it.",
            fields={"active_on_site": ["klaviyo only"]},
        )
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
    queue_delivery(destination.pk)
    return destination


def scope_summary(checks: Sequence[FeatureCheck]) -> str:
    """Pure: the Test's sentence about scopes (missing per feature, then what no read can prove)."""
    parts = []
    missing = [f"{c.name} ({', '.join(c.missing)})" for c in checks if c.status == "missing"]
    if missing:
        parts.append(f"Missing scopes: {'; '.join(missing)}.")
    unknown = [f"{c.name} ({c.detail})" for c in checks if c.status == "unknown"]
    if unknown:
        parts.append(f"Could not check: {'; '.join(unknown)}.")
    unverified = sorted({s for c in checks if c.status != "missing" for s in c.unverified})
    if unverified:
        parts.append(f"Not checkable without writing: {', '.join(unverified)}.")
    return " ".join(parts)


def _probe(client: DestinationClient, send: Recorder) -> list[FeatureCheck]:
    """One read per distinct probe request, then each feature's verdict."""
    features = client.features()
    results: dict[str, StepOutcome] = {}
    for feature in features:
        for _, request in feature.probes:
            if probe_key(request) not in results:
                results[probe_key(request)] = outcome_of(request, send(request))
    return [check_feature(f, results, denied=client.scope_denied) for f in features]


def _test_failed(destination: Destination, outcome: StepOutcome) -> TestResult:
    result = outcome.result
    message = platform_message(result) if result.status_code else outcome.message
    changes: dict[str, Any] = {"last_error": message[:2000], "last_error_at": timezone.now()}
    if result.status_code == 401:  # the key itself is refused: pause until it is fixed
        changes["status"] = DestinationStatus.ERROR
    Destination.objects.filter(pk=destination.pk).update(**changes)
    return TestResult(False, result.status_code, message)


def test_destination(destination: Destination) -> TestResult:
    """Check the key with read-only requests (real ones, even for dry-run destinations): the key
    itself, then one harmless read per scoped feature. Nothing is written to the platform.

    ok means the key works and no scope delivery needs is missing; then a paused destination resumes.
    """
    client = client_for(destination)
    send = Recorder(client, dry_run=False)
    request = client.key_check_request()
    outcome = outcome_of(request, send(request))
    result = outcome.result
    scope_only = result.status_code == 403 and client.scope_denied(result)  # a valid key without accounts:read
    if not outcome.ok and not scope_only:
        return _test_failed(destination, outcome)
    checks = _probe(client, send)
    if scope_only:
        checks.insert(0, FeatureCheck("account", "missing", ("accounts:read",)))
    ok = not any(c.required and c.status == "missing" for c in checks)
    account = "" if scope_only else f" ({client.describe_key(result)})"
    message = " ".join(p for p in (f"API key is valid{account}.", scope_summary(checks)) if p)
    now = timezone.now()
    if ok:
        Destination.objects.filter(pk=destination.pk).update(status=DestinationStatus.ACTIVE, last_success_at=now)
        destination.status = DestinationStatus.ACTIVE
        queue_delivery(destination.pk)
    else:
        Destination.objects.filter(pk=destination.pk).update(last_error=message[:2000], last_error_at=now)
    return TestResult(ok, result.status_code, message, tuple(checks))


def replay_delivery(delivery: Delivery) -> Delivery:
    """Send one delivery again now (same idempotency key / unique ids: the platform dedupes)."""
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = timezone.now()
    delivery.attempts = 0
    delivery.leased_until = None
    delivery.lease_token = ""
    delivery.save(update_fields=["status", "next_attempt_at", "attempts", "leased_until", "lease_token", "updated_at"])
    queue_deliveries([delivery.pk])
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
            queue_delivery(destination.pk)
    return count


def prune_delivery_attempts(*, days: int | None = None) -> int:
    days = settings.RETENTION_DELIVERY_ATTEMPTS_DAYS if days is None else days
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = DeliveryAttempt.objects.filter(created_at__lt=cutoff).delete()
    return deleted
