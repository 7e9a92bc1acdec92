"""Loop payloads -> Recapture events (pure: no ORM, no I/O).

The metric names are data (METRICS / STATE_METRICS); everything else is small pure
functions over the payload dicts, unit-tested directly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from events.models import EventSource
from events.services import NewEvent
from returns.parsing import (
    as_dict,
    as_list,
    money_number,
    parse_datetime,
    parse_email,
    parse_id,
    parse_money,
    parse_text,
)

RETURN_TRIGGERS = ("return.created", "return.updated", "return.closed")
LABEL_TRIGGERS = ("label.created", "label.updated")
GIFTCARD_TRIGGER = "giftcard.requested"
RESTOCK_TRIGGER = "restock.requested"  # stored, never forwarded

# trigger -> metric name (the names merchants build Klaviyo flows on).
METRICS: dict[str, str] = {
    "return.created": "Return Created",
    "return.updated": "Return Updated",
    "return.closed": "Return Closed",
    "label.created": "Return Label Created",
    "label.updated": "Return Label Updated",
    GIFTCARD_TRIGGER: "Return Gift Card Requested",
}
# (trigger, return state) -> a more specific metric name replacing the trigger's.
STATE_METRICS: dict[tuple[str, str], str] = {
    ("return.updated", "cancelled"): "Return Cancelled",
    ("return.updated", "canceled"): "Return Cancelled",
    ("return.updated", "expired"): "Return Expired",
}
DELIVERED_METRIC = "Return Delivered"  # emitted beside "Return Label Updated"
DELIVERED_LABEL_STATUS = "delivered"
ALL_METRICS: tuple[str, ...] = tuple(dict.fromkeys((*METRICS.values(), *STATE_METRICS.values(), DELIVERED_METRIC)))

MAX_EVENT_ID = 128


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    event_id: str


def trigger_of(payload: Mapping[str, Any]) -> str:
    """The trigger, tolerating Loop's older short forms ("created" with topic "return")."""
    trigger = parse_text(payload.get("trigger")).lower()
    topic = parse_text(payload.get("topic")).lower()
    if trigger and "." not in trigger and topic:
        return f"{topic}.{trigger}"
    return trigger


def return_id_of(payload: Mapping[str, Any], trigger: str) -> str:
    """Return payloads and label/restock payloads carry the return id in ``id``; gift cards in ``return_id``."""
    if trigger == GIFTCARD_TRIGGER:
        return parse_id(payload.get("return_id"))
    return parse_id(payload.get("return_id")) or parse_id(payload.get("id"))


def return_state_of(ret: Mapping[str, Any]) -> str:
    return parse_text(ret.get("state")).lower()


def stable_event_id(*parts: str) -> str:
    """``loop:<part>:<part>…``, hashed past 128 characters so it stays stable and fits."""
    event_id = ":".join(["loop", *parts])
    if len(event_id) <= MAX_EVENT_ID:
        return event_id
    return event_id[:90] + ":" + hashlib.sha256(event_id.encode()).hexdigest()[:32]


def metrics_for(
    trigger: str, *, return_id: str, state: str = "", label: Mapping[str, Any] | None = None
) -> list[Metric]:
    """The metrics one Loop trigger produces, each with its stable event id (per return x trigger x state)."""
    if trigger not in METRICS:
        return []
    name = STATE_METRICS.get((trigger, state), METRICS[trigger])
    if trigger == "return.updated":
        return [Metric(name, stable_event_id(return_id, trigger, state or "unknown"))]
    if trigger in ("return.created", "return.closed"):
        return [Metric(name, stable_event_id(return_id, trigger))]
    if trigger == GIFTCARD_TRIGGER:
        return [Metric(name, stable_event_id(return_id, trigger))]
    label = label or {}
    tracking = parse_text(label.get("tracking_number"))
    status = parse_text(label.get("label_status") or label.get("status")).lower()
    if trigger == "label.created":
        return [Metric(name, stable_event_id(return_id, trigger, tracking))]
    metrics = [Metric(name, stable_event_id(return_id, trigger, tracking, status or "unknown"))]
    if status == DELIVERED_LABEL_STATUS:
        metrics.append(Metric(DELIVERED_METRIC, stable_event_id(return_id, "delivered", tracking)))
    return metrics


def backfill_triggers(state: str) -> list[str]:
    """The triggers a historical return in ``state`` went through (ids match the live webhooks' ids)."""
    triggers = ["return.created"]
    if ("return.updated", state) in STATE_METRICS:
        triggers.append("return.updated")
    if state == "closed":
        triggers.append("return.closed")
    return triggers


def outcome_of(*, refund: Decimal | None, exchange: Decimal | None, gift_card: Decimal | None) -> str:
    """ "refund", "exchange", "store credit", or several joined by " + " (from the totals); "none"."""
    parts = [
        label for label, amount in (("refund", refund), ("exchange", exchange), ("store credit", gift_card)) if amount
    ]
    return " + ".join(parts) or "none"


def customer_of(ret: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(identifiers, traits) for the returning customer, from customer / customer_detail / address."""
    detail = as_dict(ret.get("customer_detail")) or as_dict(ret.get("customer"))
    email = parse_email(detail.get("email")) or parse_email(ret.get("customer")) or parse_email(ret.get("email"))
    identifiers: dict[str, Any] = {}
    if email:
        identifiers["email"] = email
    customer_id = parse_id(
        detail.get("provider_customer_id") or ret.get("provider_customer_id") or detail.get("shopify_customer_id")
    )
    if customer_id:
        identifiers["shopify_customer_id"] = customer_id
    traits = {
        "first_name": parse_text(detail.get("first_name") or ret.get("first_name")),
        "last_name": parse_text(detail.get("last_name") or ret.get("last_name")),
    }
    if not ret.get("is_gift_return"):  # a gift return's address is the recipient's, not the customer's
        address = as_dict(ret.get("address"))
        traits |= {
            "city": parse_text(address.get("city")),
            "region": parse_text(address.get("state") or address.get("province")),
            "country": parse_text(address.get("country_code") or address.get("country")),
            "zip": parse_text(address.get("zip")),
        }  # the address phone is not taken: unverified, it would become a Klaviyo phone_number identifier
    return identifiers, {k: v for k, v in traits.items() if v}


def product_keys(ret: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    """(SKUs, variant ids) of the returned items, to look our own product data up in one query."""
    skus, variants = set(), set()
    for item in map(as_dict, as_list(ret.get("line_items"))):
        if sku := parse_text(item.get("sku")):
            skus.add(sku)
        if variant := parse_id(item.get("variant_id")):
            variants.add(variant)
    return skus, variants


def _item(item: Mapping[str, Any], products: Mapping[tuple[str, str], Mapping[str, Any]]) -> dict[str, Any]:
    sku, variant = parse_text(item.get("sku")), parse_id(item.get("variant_id"))
    seen = products.get(("sku", sku)) or products.get(("variant", variant)) or {}
    return {
        "SKU": sku,
        "ProductName": parse_text(item.get("title") or item.get("product_title")) or seen.get("ProductName", ""),
        "VariantTitle": parse_text(item.get("variant_title")) or seen.get("VariantTitle", ""),
        "ImageURL": parse_text(item.get("image") or item.get("image_url")) or seen.get("ImageURL", ""),
        "Price": money_number(parse_money(item.get("price"))),
        "Reason": parse_text(item.get("return_reason")),
        "ParentReason": parse_text(item.get("parent_return_reason")),
        "ProductID": parse_id(item.get("product_id")),
        "VariantID": variant,
    }


def _exchange(item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "ProductName": parse_text(item.get("title") or item.get("product_title")),
        "VariantTitle": parse_text(item.get("variant_title")),
        "SKU": parse_text(item.get("sku")),
        "Price": money_number(parse_money(item.get("price"))),
        "ProductID": parse_id(item.get("product_id")),
        "VariantID": parse_id(item.get("variant_id")),
    }


def _label_fields(ret: Mapping[str, Any], label: Mapping[str, Any] | None) -> dict[str, Any]:
    """Carrier/tracking/status/url from the label webhook, else the return's latest label."""
    labels = [as_dict(x) for x in as_list(ret.get("labels"))]
    tracking = parse_text((label or {}).get("tracking_number"))
    same = [x for x in labels if tracking and parse_text(x.get("tracking_number")) == tracking]
    known = (same or labels or [{}])[-1]
    source = label or known
    return {
        "Carrier": parse_text(source.get("carrier")),
        "TrackingNumber": parse_text(source.get("tracking_number")),
        "LabelStatus": parse_text(source.get("label_status") or source.get("status")).lower(),
        "LabelURL": parse_text(source.get("url") or source.get("label_url") or known.get("url")),
    }


def return_properties(
    ret: Mapping[str, Any],
    *,
    label: Mapping[str, Any] | None = None,
    products: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The properties of a return event (see the issue's list), with "$value" = refund total."""
    refund, exchange = parse_money(ret.get("refund")), parse_money(ret.get("exchange_total"))
    gift_card = parse_money(ret.get("gift_card"))
    items = [_item(as_dict(x), products or {}) for x in as_list(ret.get("line_items"))]
    reasons = list(dict.fromkeys(i["Reason"] for i in items if i["Reason"]))
    currency = parse_text(ret.get("currency")).upper()
    exchanges = [_exchange(as_dict(x)) for x in as_list(ret.get("exchanges"))]
    return {
        "ReturnID": parse_id(ret.get("id")),
        "OrderName": parse_text(ret.get("order_name")),
        "ShopifyOrderID": parse_id(ret.get("provider_order_id")),
        "ReturnState": return_state_of(ret),
        "Outcome": outcome_of(refund=refund, exchange=exchange, gift_card=gift_card),
        "RefundTotal": money_number(refund),
        "ExchangeTotal": money_number(exchange),
        "GiftCardTotal": money_number(gift_card),
        "Currency": currency,
        "ReturnReasons": reasons,
        **_label_fields(ret, label),
        "StatusPageURL": parse_text(ret.get("status_page_url")),
        "IsGiftReturn": bool(ret.get("is_gift_return")),
        "Items": items,
        "ItemNames": [i["ProductName"] for i in items if i["ProductName"]],
        "SKUs": [i["SKU"] for i in items if i["SKU"]],
        "ItemCount": len(items),
        "ExchangeItems": exchanges,
        "ExchangeItemNames": [x["ProductName"] for x in exchanges if x["ProductName"]],
        "$value": money_number(refund),
    }


def giftcard_properties(giftcard: Mapping[str, Any]) -> dict[str, Any]:
    """Gift-card specific properties; the gift card's credit is the event's value."""
    issued = parse_money(giftcard.get("total_credit_issued"))
    return {
        "GiftCardID": parse_id(giftcard.get("id")),
        "GiftCardTotal": money_number(issued),
        "GiftCardSubtotal": money_number(parse_money(giftcard.get("gift_card_subtotal"))),
        "GiftCardBonusCredit": money_number(parse_money(giftcard.get("gift_card_bonus_credit"))),
        "$value": money_number(issued),
    }


def event_time(trigger: str, payload: Mapping[str, Any], ret: Mapping[str, Any], fallback: datetime) -> datetime:
    """When it happened in Loop: created_at for creations, the last edit/update for the rest."""
    if trigger == "return.created":
        candidates = [ret.get("created_at")]
    elif trigger in LABEL_TRIGGERS:
        candidates = [payload.get("label_updated_at"), payload.get("updated_at")]
    elif trigger == GIFTCARD_TRIGGER:
        candidates = [payload.get("created_at")]
    elif trigger == "return.closed":
        candidates = [ret.get("closed_at"), ret.get("updated_at"), ret.get("edited_at")]
    else:
        candidates = [ret.get("updated_at"), ret.get("edited_at")]
    return next((t for t in map(parse_datetime, candidates) if t), fallback)


def build_events(
    trigger: str,
    *,
    payload: Mapping[str, Any],
    ret: Mapping[str, Any],
    fallback_time: datetime,
    products: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
) -> list[NewEvent]:
    """The Recapture events for one Loop trigger. ``ret`` is the return payload (for labels and
    gift cards: the stored return, possibly empty for a gift card); ``payload`` the webhook itself."""
    return_id = return_id_of(payload, trigger) or parse_id(ret.get("id"))
    label = payload if trigger in LABEL_TRIGGERS else None
    metrics = metrics_for(trigger, return_id=return_id, state=return_state_of(ret), label=label)
    if not metrics:
        return []
    identifiers, traits = customer_of(ret)
    properties = return_properties(ret, label=label, products=products) | {"ReturnID": return_id}
    if trigger == GIFTCARD_TRIGGER:
        gift_identifiers, gift_traits = customer_of(payload)
        identifiers, traits = gift_identifiers | identifiers, gift_traits | traits
        properties |= giftcard_properties(payload)
        properties["Currency"] = properties["Currency"] or parse_text(payload.get("currency")).upper()
    when = event_time(trigger, payload, ret, fallback_time)
    return [
        NewEvent(
            event_id=metric.event_id,
            type=metric.name,
            anonymous_id="",
            timestamp=when,
            identifiers=dict(identifiers),
            traits=dict(traits),
            properties=dict(properties),
            raw={"loop_trigger": trigger, "loop_return_id": return_id},
            source=EventSource.RETURNS,
        )
        for metric in metrics
    ]
