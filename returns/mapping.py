"""Loop payloads -> Recapture events (pure: no ORM, no I/O).

The metric names are data (METRICS / STATE_METRICS); everything else is small pure
functions over the payload dicts, unit-tested directly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

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


def order_id_of(ret: Mapping[str, Any]) -> str:
    """The Shopify order id (Loop's provider_order_id), what the order's Purchase event carries as OrderID."""
    return parse_id(ret.get("provider_order_id"))


SHOPIFY_NO_VARIANT = "Default Title"  # Shopify's variant title for a product without variants


def split_title(title: str, variant_title: str = "") -> tuple[str, str]:
    """Pure: Loop's line item title can be "Product - Variant" ("Classic Tee - Black / M").

    With the variant title known, a title ending in " - <variant>" loses that suffix. Without
    it, the title is split at its last " - " only when the tail looks like a Shopify variant
    title (options joined by " / "); "T-Shirt - Organic" stays whole.
    """
    if variant_title and title.endswith(f" - {variant_title}") and len(title) > len(variant_title) + 3:
        return title[: -len(variant_title) - 3], variant_title
    if not variant_title and " - " in title:
        head, tail = title.rsplit(" - ", 1)
        if head and " / " in tail:
            return head, tail
    return title, variant_title


def _item(item: Mapping[str, Any], order_items: Mapping[tuple[str, str], Mapping[str, Any]]) -> dict[str, Any]:
    """A returned item; variant title, image and name from the order's own Purchase line item first."""
    sku, variant = parse_text(item.get("sku")), parse_id(item.get("variant_id"))
    ordered = order_items.get(("variant", variant)) or order_items.get(("sku", sku)) or {}
    variant_title = parse_text(ordered.get("VariantName") or ordered.get("VariantTitle"))
    variant_title = variant_title or parse_text(item.get("variant_title"))
    if variant_title == SHOPIFY_NO_VARIANT:
        variant_title = ""
    name, variant_title = split_title(parse_text(item.get("title") or item.get("product_title")), variant_title)
    return {
        "SKU": sku,
        "ProductName": parse_text(ordered.get("ProductName")) or name,
        "VariantTitle": variant_title,
        "ImageURL": parse_text(ordered.get("ImageURL")) or parse_text(item.get("image") or item.get("image_url")),
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
    carrier, number = parse_text(source.get("carrier")), parse_text(source.get("tracking_number"))
    return {
        "Carrier": carrier,
        "TrackingNumber": number,
        "TrackingURL": parse_text(source.get("tracking_url") or known.get("tracking_url"))
        or tracking_url(carrier, number),
        "LabelStatus": parse_text(source.get("label_status") or source.get("status")).lower(),
        "LabelURL": parse_text(source.get("url") or source.get("label_url") or known.get("url")),
    }


# Carriers' public tracking pages, for labels whose payload has no tracking URL (Loop's label
# webhook carries only "carrier" and "tracking_number"); keys are lower-cased carrier names.
TRACKING_PAGES: dict[str, str] = {
    "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
    "ups": "https://www.ups.com/track?tracknum={}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={}",
    "dhl": "https://www.dhl.com/global-en/home/tracking/tracking-express.html?tracking-id={}",
    "dhl express": "https://www.dhl.com/global-en/home/tracking/tracking-express.html?tracking-id={}",
    "canada post": "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor={}",
    "canadapost": "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor={}",
}


def tracking_url(carrier: str, tracking_number: str) -> str:
    """Pure: the carrier's tracking page for this number, "" for an unknown carrier or no number."""
    page = TRACKING_PAGES.get(carrier.strip().lower())
    return page.format(quote(tracking_number, safe="")) if page and tracking_number else ""


RETURN_WINDOW = timedelta(days=28)  # "Return expired: When a return is 28 days old but has not been shipped"
DESTINATION_FIELDS = {"name": "name", "street_address": "address1", "city": "city", "state": "state"}
DESTINATION_FIELDS |= {"zip": "zip", "country": "country", "country_code": "country_code"}


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _keep_item(ret: Mapping[str, Any]) -> bool | None:
    """The return's keep_item, else whether any line item is kept ("keep item" returns need no label)."""
    flags = [_flag(as_dict(item).get("keep_item")) for item in as_list(ret.get("line_items"))]
    known = [f for f in flags if f is not None]
    return _flag(ret.get("keep_item")) if _flag(ret.get("keep_item")) is not None else (any(known) if known else None)


def fulfilment_fields(ret: Mapping[str, Any], *, has_label: bool = False) -> dict[str, Any]:
    """Return destination, labels_enabled, keep_item and return-by, as Loop's Klaviyo integration sends
    them (help.loopreturns.com, "Klaviyo Integration: Events & Payloads"). Only what the payload
    says, or can be derived from it, is sent: an unknown flag is left out, never guessed. The
    return-by date is Loop's own field, else created + 28 days ("Return expired: When a return is
    28 days old but has not been shipped (label is expired)")."""
    place = as_dict(ret.get("return_destination")) or as_dict(ret.get("destination"))
    destination = {
        ours: parse_text(place.get(theirs) or place.get(ours)) for ours, theirs in DESTINATION_FIELDS.items()
    }
    labels_enabled = _flag(ret.get("labels_enabled"))
    if labels_enabled is None and (has_label or as_list(ret.get("labels"))):
        labels_enabled = True  # a label exists: labels are on
    created = parse_datetime(ret.get("created_at"))
    return_by = parse_datetime(ret.get("return_by")) or (created + RETURN_WINDOW if created else None)
    out = {
        "ReturnDestination": destination if any(destination.values()) else None,
        "LabelsEnabled": labels_enabled,
        "KeepItem": _keep_item(ret),
        "ReturnBy": return_by.date().isoformat() if return_by else None,
    }
    return {k: v for k, v in out.items() if v is not None}


def return_properties(
    ret: Mapping[str, Any],
    *,
    label: Mapping[str, Any] | None = None,
    order_items: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The properties of a return event (see the issue's list), with "$value" = refund total."""
    refund, exchange = parse_money(ret.get("refund")), parse_money(ret.get("exchange_total"))
    gift_card = parse_money(ret.get("gift_card"))
    items = [_item(as_dict(x), order_items or {}) for x in as_list(ret.get("line_items"))]
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
        "ParentReturnReasons": list(dict.fromkeys(i["ParentReason"] for i in items if i["ParentReason"])),
        **_label_fields(ret, label),
        **fulfilment_fields(ret, has_label=label is not None),
        "StatusPageURL": parse_text(ret.get("status_page_url")),
        "IsGiftReturn": bool(ret.get("is_gift_return")),
        "Items": items,
        "ItemNames": [i["ProductName"] for i in items if i["ProductName"]],
        "VariantTitles": [i["VariantTitle"] for i in items if i["VariantTitle"]],
        "ImageURLs": [i["ImageURL"] for i in items if i["ImageURL"]],
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
    order_items: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
) -> list[NewEvent]:
    """The Recapture events for one Loop trigger. ``ret`` is the return payload (for labels and
    gift cards: the stored return, possibly empty for a gift card); ``payload`` the webhook itself."""
    return_id = return_id_of(payload, trigger) or parse_id(ret.get("id"))
    label = payload if trigger in LABEL_TRIGGERS else None
    metrics = metrics_for(trigger, return_id=return_id, state=return_state_of(ret), label=label)
    if not metrics:
        return []
    identifiers, traits = customer_of(ret)
    properties = return_properties(ret, label=label, order_items=order_items) | {"ReturnID": return_id}
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
