"""The admin's live event stream: newest events first, with identity and delivery chips.

Reads only; three queries per poll whatever the page size (events with merchant and
profile joined, their deliveries with destinations joined, nothing per row).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet

from config.admin import DELIVERY_STATES, delivery_state, delivery_state_q
from destinations.models import Delivery
from events.models import Event, Identification

MAX_ROWS = 200


@dataclass(frozen=True, slots=True)
class StreamFilters:
    merchant_id: int | None = None
    type: str = ""
    identification: str = ""
    delivery_status: str = ""
    after_id: int | None = None
    limit: int = 50

    @classmethod
    def from_query(cls, params) -> StreamFilters:
        return cls(
            merchant_id=_int_or_none(params.get("merchant")),
            type=params.get("type", "")[:128],
            identification=params.get("identification", "")
            if params.get("identification", "") in Identification.values
            else "",
            delivery_status=params.get("delivery_status", "")
            if params.get("delivery_status") in DELIVERY_STATES
            else "",
            after_id=_int_or_none(params.get("after")),
            limit=min(_int_or_none(params.get("limit")) or 50, MAX_ROWS),
        )


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def filter_events(qs: QuerySet, f: StreamFilters) -> QuerySet:
    if f.merchant_id:
        qs = qs.filter(merchant_id=f.merchant_id)
    if f.type:
        qs = qs.filter(type=f.type)
    if f.identification:
        qs = qs.filter(identification=f.identification)
    if f.after_id:
        qs = qs.filter(id__gt=f.after_id)
    if f.delivery_status:
        in_state = Delivery.objects.filter(delivery_state_q(f.delivery_status), event_id=OuterRef("pk"))
        qs = qs.filter(Exists(in_state))
    return qs


def deliveries_by_event(event_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Every delivery of the given events, grouped by event id (one query)."""
    out: dict[int, list[dict[str, Any]]] = {}
    if not event_ids:
        return out
    rows = (
        Delivery.objects.filter(event_id__in=event_ids)
        .select_related("destination")
        .order_by("destination__kind", "destination_id")
    )
    for d in rows:
        out.setdefault(d.event_id, []).append(
            {
                "id": d.id,
                "destination": d.destination.name,
                "kind": d.destination.kind,
                "status": d.status,
                "state": delivery_state(d.status, d.attempts, d.dry_run),
                "attempts": d.attempts,
            }
        )
    return out


def list_stream_events(f: StreamFilters) -> list[dict[str, Any]]:
    """The newest events matching ``f`` as JSON-ready dicts (newest first)."""
    qs = filter_events(Event.objects.select_related("merchant", "profile"), f).order_by("-id")[: f.limit]
    events = list(qs)
    chips = deliveries_by_event([e.id for e in events])
    return [_row(e, chips.get(e.id, [])) for e in events]


def _row(e: Event, deliveries: list[dict[str, Any]]) -> dict[str, Any]:
    profile = e.profile
    return {
        "id": e.id,
        "event_id": e.event_id,
        "type": e.type,
        "source": e.source,
        "merchant": e.merchant.name,
        "merchant_id": e.merchant_id,
        "timestamp": e.timestamp.isoformat(),
        "received_at": e.received_at.isoformat(),
        "profile": (profile.email or f"profile #{profile.pk}") if profile else "anonymous",
        "profile_id": e.profile_id,
        "identification": e.identification,
        "resolved_by": e.resolved_by,
        "deliveries": deliveries,
    }
