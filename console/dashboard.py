"""Merchant dashboard selectors: a bounded number of aggregate queries per page view."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from config.admin import delivery_state
from destinations.clients import REGISTRY
from destinations.models import Delivery, DeliveryStatus, Destination
from events.models import Event, EventType, Identification, Merchant

WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7)}
ABANDONMENT_TYPES = (EventType.VIEW_CONTENT, EventType.ADD_TO_CART, EventType.INITIATE_CHECKOUT)
MESSAGE_SOURCES = tuple(REGISTRY)  # a platform's messages link with utm_source=<its kind>
LATENCY_SAMPLE = 10_000


@dataclass(slots=True)
class WindowStats:
    """Counts for one merchant over one window ("24h" or "7d")."""

    events_by_type: dict[str, int] = field(default_factory=dict)
    identification: dict[str, int] = field(default_factory=dict)
    deliveries: dict[str, dict[str, int]] = field(default_factory=dict)
    p95_latency_seconds: float | None = None
    recovered_orders: int = 0
    recovered_revenue: dict[str, Decimal] = field(default_factory=dict)

    @property
    def total_events(self) -> int:
        return sum(self.events_by_type.values())

    @property
    def resolved_events(self) -> int:
        return self.identification.get(Identification.RESOLVED, 0)

    @property
    def lift_text(self) -> str:
        """The lift in words: "on top of 1 the store identified itself (6.0 times as many)"."""
        native = self.identification.get(Identification.NATIVE, 0)
        if native <= 0:
            return "the store identified none itself"
        ratio = (native + self.resolved_events) / native
        return f"on top of {native:,} the store identified itself ({ratio:.1f} times as many)"

    @property
    def lift_percent(self) -> float | None:
        """How many more identified events flows can use thanks to resolution, in %."""
        native = self.identification.get(Identification.NATIVE, 0)
        resolved = self.identification.get(Identification.RESOLVED, 0)
        return lift_percent(native=native, resolved=resolved)


# --- Pure helpers ------------------------------------------------------------------


def lift_percent(*, native: int, resolved: int) -> float | None:
    if native <= 0:
        return None if resolved <= 0 else math.inf
    return round(100.0 * resolved / native, 1)


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile (p95 of [1..100] is 95); None for no data."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return ordered[rank - 1]


def order_value(properties: dict) -> tuple[Decimal, str]:
    """An order's value and currency from its properties ("$value" wins, then Revenue)."""
    raw = properties.get("$value", properties.get("Revenue", 0))
    try:
        value = Decimal(str(raw)) if raw not in (None, "") else Decimal(0)
    except InvalidOperation:
        value = Decimal(0)
    if not value.is_finite():
        value = Decimal(0)
    return value, str(properties.get("Currency") or "").upper()


def sum_by_currency(orders: Iterable[dict]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for properties in orders:
        value, currency = order_value(properties)
        totals[currency] = totals.get(currency, Decimal(0)) + value
    return totals


def came_from_message_q() -> Q:
    """A Purchase whose visit came from a Klaviyo or Loops message (utm source or _kx)."""
    q = Q(identifiers__has_key="kx")
    for source in MESSAGE_SOURCES:
        q |= Q(context__utm__source__iexact=source)
    return q


# --- Selectors -------------------------------------------------------------------


def get_merchant_dashboard(merchant: Merchant, *, now: datetime | None = None) -> dict[str, WindowStats]:
    """Both windows at once: five small-or-indexed queries, each covering 7 days and split by the 24 h boundary."""
    now = now or timezone.now()
    since = {name: now - delta for name, delta in WINDOWS.items()}
    stats = {name: WindowStats() for name in WINDOWS}
    _events_into(stats, merchant, since)
    labels = _destination_labels(merchant)
    _deliveries_into(stats, labels, since)
    latencies = list_latency_samples(merchant, since=since["7d"], destination_ids=list(labels))
    orders = list_recovered_orders(merchant, since=since["7d"])
    for name in WINDOWS:
        stats[name].p95_latency_seconds = percentile([s for at, s in latencies if at >= since[name]], 95)
        window_orders = [o.properties for o in orders if o.timestamp >= since[name]]
        stats[name].recovered_orders = len(window_orders)
        stats[name].recovered_revenue = sum_by_currency(window_orders)
    return stats


def _events_into(stats: dict[str, WindowStats], merchant: Merchant, since: dict[str, datetime]) -> None:
    """Events by type and by identification, both windows, in one scan of the merchant's week."""
    rows = (
        Event.objects.filter(merchant=merchant, received_at__gte=since["7d"])
        .values("type", "identification")
        .annotate(d7=Count("id"), d1=Count("id", filter=Q(received_at__gte=since["24h"])))
        .order_by()
    )
    for row in rows:
        for window, n in (("7d", row["d7"]), ("24h", row["d1"])):
            if n:
                by_type, by_identification = stats[window].events_by_type, stats[window].identification
                by_type[row["type"]] = by_type.get(row["type"], 0) + n
                by_identification[row["identification"]] = by_identification.get(row["identification"], 0) + n


# --- Deliveries (destinations.Delivery, looked up lazily to keep events importable alone) ---

# The console's delivery states (config.admin.delivery_state), in the dashboard's order.
DELIVERY_BUCKETS = ("succeeded", "dry run", "pending", "retrying", "held", "dead")


def delivery_bucket(status: str, attempts: int, dry_run: bool = False) -> str:
    """Dashboard bucket of a delivery: the same word every other page uses."""
    return delivery_state(status, attempts, dry_run)


def _destination_labels(merchant: Merchant) -> dict[int, str]:
    """The merchant's destinations; filtering deliveries by these ids (not a join) keeps plans exact."""
    return {d.pk: f"{d.name} ({d.kind})" for d in Destination.objects.filter(merchant=merchant).only("name", "kind")}


def _deliveries_into(stats: dict[str, WindowStats], labels: dict[int, str], since: dict[str, datetime]) -> None:
    rows = (
        Delivery.objects.filter(destination_id__in=list(labels), created_at__gte=since["7d"])
        .values("destination_id", "status", "dry_run")
        .annotate(
            d7=Count("id"),
            d7_retry=Count("id", filter=Q(attempts__gt=0)),
            d1=Count("id", filter=Q(created_at__gte=since["24h"])),
            d1_retry=Count("id", filter=Q(created_at__gte=since["24h"], attempts__gt=0)),
        )
        .order_by()
    )
    for row in rows:
        label = labels[row["destination_id"]]
        for window, total, retried in (("7d", row["d7"], row["d7_retry"]), ("24h", row["d1"], row["d1_retry"])):
            counts = stats[window].deliveries.setdefault(label, {})
            for bucket, n in (
                (delivery_bucket(row["status"], 1, row["dry_run"]), retried),
                (delivery_bucket(row["status"], 0, row["dry_run"]), total - retried),
            ):
                if n:
                    counts[bucket] = counts.get(bucket, 0) + n


def list_latency_samples(
    merchant: Merchant, *, since: datetime, destination_ids: list[int] | None = None
) -> list[tuple[datetime, float]]:
    """(delivered_at, seconds from event received to delivered) of the newest LATENCY_SAMPLE real sends.

    Newest by primary key, so PostgreSQL walks the pk index backwards and stops early
    instead of sorting a week of deliveries.
    """
    if destination_ids is None:
        destination_ids = list(_destination_labels(merchant))
    pairs = (
        Delivery.objects.filter(
            destination_id__in=destination_ids, status=DeliveryStatus.SUCCEEDED, dry_run=False, delivered_at__gte=since
        )
        .order_by("-id")
        .values_list("event__received_at", "delivered_at")[:LATENCY_SAMPLE]
    )
    return [(done, max((done - received).total_seconds(), 0.0)) for received, done in pairs]


def get_p95_latency_seconds(merchant: Merchant, *, since: datetime) -> float | None:
    """p95 of event received_at -> delivery succeeded (the time to the first successful send)."""
    return percentile([seconds for _, seconds in list_latency_samples(merchant, since=since)], 95)


@dataclass(frozen=True, slots=True)
class RecoveredOrder:
    timestamp: datetime
    properties: dict


def list_recovered_orders(merchant: Merchant, *, since: datetime) -> list[RecoveredOrder]:
    """Purchases a visit from a message led to, after Recapture forwarded an abandonment event.

    "A visit from a message": an event of the same profile (the order itself, or the device's
    earlier visit: a Custom Pixel's thank-you page never carries the UTM or _kx) with utm source
    klaviyo / loops or a Klaviyo _kx, at most ``merchant.attribution_window_days`` before the order.
    "After Recapture forwarded": a real (not dry-run) successful delivery of a Viewed Product /
    Added to Cart / Started Checkout event of the same profile, delivered before that visit.
    """
    forwarded = Delivery.objects.filter(
        event__profile_id=OuterRef("profile_id"),
        event__type__in=[t.value for t in ABANDONMENT_TYPES],
        status=DeliveryStatus.SUCCEEDED,
        dry_run=False,
        delivered_at__lt=OuterRef("timestamp"),
    )
    window = timedelta(days=merchant.attribution_window_days)
    visit = Event.objects.filter(
        profile_id=OuterRef("profile_id"),
        timestamp__lte=OuterRef("timestamp"),
        timestamp__gte=OuterRef("timestamp") - window,
    ).filter(came_from_message_q(), Exists(forwarded))
    purchases = Event.objects.filter(
        merchant=merchant, type=EventType.PURCHASE, timestamp__gte=since, profile__isnull=False
    ).filter(Exists(visit))
    return [RecoveredOrder(ts, props) for ts, props in purchases.values_list("timestamp", "properties")]
