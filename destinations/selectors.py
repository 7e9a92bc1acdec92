"""Reads for the backup-flow table (merchant dashboard and CSV export), and page-view history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Q
from django.utils import timezone

from destinations.activity import PageView
from destinations.clients.klaviyo_flows import SPECS, FlowKind
from destinations.models import BackupFlow, Delivery, DeliveryStatus
from events.models import Event, EventType, Identification, Merchant

LIFT_DAYS = 30


@dataclass(frozen=True, slots=True)
class BackupFlowRow:
    flow: BackupFlow
    resolved: int  # trigger events delivered only because Recapture resolved who it was
    native: int  # trigger events the platform could attribute without Recapture

    @property
    def lift_percent(self) -> float | None:
        return round(100.0 * self.resolved / self.native, 1) if self.native else None

    @property
    def revenue(self) -> Decimal:
        return self.flow.revenue


def list_backup_flow_rows(
    merchant: Merchant, *, now: datetime | None = None, days: int = LIFT_DAYS
) -> list[BackupFlowRow]:
    """The merchant's backup flows with Klaviyo's figures and the identification lift: two queries."""
    flows = list(
        BackupFlow.objects.filter(destination__merchant=merchant)
        .select_related("destination")
        .order_by("destination_id", "kind")
    )
    if not flows:
        return []
    since = (now or timezone.now()) - timedelta(days=days)
    counts = delivered_by_identification({f.destination_id for f in flows}, since=since)
    rows = []
    for flow in flows:
        event_type = SPECS[FlowKind(flow.kind)].event_type
        by_identification = counts.get((flow.destination_id, event_type), {})
        rows.append(
            BackupFlowRow(
                flow, by_identification.get(Identification.RESOLVED, 0), by_identification.get(Identification.NATIVE, 0)
            )
        )
    return rows


def delivered_by_identification(destination_ids: set[int], *, since: datetime) -> dict[tuple[int, str], dict[str, int]]:
    """(destination, event type) -> identification -> real deliveries that succeeded since ``since``."""
    types = [spec.event_type for spec in SPECS.values()]
    rows = (
        Delivery.objects.filter(
            destination_id__in=sorted(destination_ids),
            created_at__gte=since,
            status=DeliveryStatus.SUCCEEDED,
            dry_run=False,
            event__type__in=types,
        )
        .values("destination_id", "event__type", "event__identification")
        .annotate(n=Count("id"))
        .order_by()
    )
    out: dict[tuple[int, str], dict[str, int]] = {}
    for row in rows:
        out.setdefault((row["destination_id"], row["event__type"]), {})[row["event__identification"]] = row["n"]
    return out


def list_page_views(
    merchant_id: int, *, anonymous_ids: set[str], profile_ids: set[int], since: datetime, until: datetime
) -> list[PageView]:
    """The merchant's page views of these browsers or people between ``since`` and ``until``
    (what decides which page view starts a visit: destinations.activity)."""
    who = Q(anonymous_id__in=anonymous_ids - {""}) | Q(profile_id__in=profile_ids)
    rows = Event.objects.filter(
        who, merchant_id=merchant_id, type=EventType.PAGE_VIEW, timestamp__gte=since, timestamp__lte=until
    ).values_list("id", "anonymous_id", "profile_id", "timestamp")
    return [PageView(*row) for row in rows]
