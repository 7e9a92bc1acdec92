"""Event type -> platform metric names, and the value of an event. Data and pure functions."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers

from events.models import EventType

ORDERED_PRODUCT = "OrderedProduct"

# The property that carries the shop's order id on a Purchase ("Placed Order"), whoever
# reported it (theme pixel, Shopify Custom Pixel, a server-side order webhook). It is the
# Placed Order's Klaviyo ``unique_id`` and the seed of its Loops Idempotency-Key, so any
# number of reports of one order are one Placed Order. Sources must put the order id
# (Shopify's numeric id, not the "#1001" name) in this property.
ORDER_ID_PROPERTY = "OrderID"
# Per line item: the final price of the whole line after line-level discounts (Shopify's
# ``finalLinePrice``); Ordered Product's value. Without it: Price x Quantity - LineDiscount.
FINAL_LINE_PRICE = "FinalLinePrice"

# Default metric / event names per platform (same for Klaviyo and Loops today).
DEFAULT_NAMES: dict[str, str] = {
    EventType.VIEW_CONTENT: "Viewed Product",
    EventType.ADD_TO_CART: "Added to Cart",
    EventType.INITIATE_CHECKOUT: "Started Checkout",
    EventType.PURCHASE: "Placed Order",
    EventType.VIEW_CART: "Viewed Cart",
    EventType.VIEW_COLLECTION: "Viewed Collection",
    EventType.SEARCH: "Searched Site",
    EventType.REMOVE_FROM_CART: "Removed from Cart",
    EventType.ADD_SHIPPING_ADDRESS: "Added Shipping Address",
    EventType.ADD_SHIPPING_METHOD: "Added Shipping Method",
    EventType.ADD_PAYMENT_INFO: "Added Payment Info",
    EventType.CANCELLED_ORDER: "Cancelled Order",
    EventType.REFUNDED_ORDER: "Refunded Order",
    ORDERED_PRODUCT: "Ordered Product",
}

# Klaviyo's name for a visit by a known browser ("Active on Site ... When someone visits your
# website", Klaviyo's integration guides). A page view gets it on a Klaviyo destination with
# ``active_on_site`` (one per visit: destinations.activity); the name override and suffix apply.
ACTIVE_ON_SITE = "Active on Site"

# Where the monetary value of a standard event comes from, when "$value" is absent.
VALUE_SOURCES: dict[str, tuple[str, ...]] = {
    EventType.PURCHASE: ("Revenue",),
    EventType.CANCELLED_ORDER: ("Revenue",),
    EventType.REFUNDED_ORDER: ("RefundAmount",),
    EventType.INITIATE_CHECKOUT: ("CartValue",),
    EventType.ADD_TO_CART: ("CartValue",),
}
VALUED_TYPES = frozenset(VALUE_SOURCES)


def metric_name(
    event_type: str, *, overrides: Mapping[str, str] | None = None, suffix: str = "", active_on_site: bool = False
) -> str:
    """Default mapping (custom and return events keep their name), then overrides, then suffix.

    With ``active_on_site`` a page view is "Active on Site"; without it, it keeps its type name."""
    name = DEFAULT_NAMES.get(event_type, event_type)
    if active_on_site and event_type == EventType.PAGE_VIEW:
        name = ACTIVE_ON_SITE
    override = (overrides or {}).get(event_type)
    if isinstance(override, str) and override.strip():
        name = override.strip()
    return f"{name}{suffix or ''}"


def to_number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite():
        return None
    return float(number)


def event_value(event_type: str, properties: Mapping[str, Any]) -> float | None:
    """properties["$value"] when present; else Revenue / CartValue by type; else Price * Quantity."""
    if "$value" in properties:
        return to_number(properties["$value"])
    if event_type not in VALUED_TYPES:
        return None
    for key in VALUE_SOURCES[event_type]:
        value = to_number(properties.get(key))
        if value is not None:
            return value
    price = to_number(properties.get("Price"))
    if price is None:
        return None
    quantity = to_number(properties.get("Quantity"))
    return round(price * (quantity if quantity is not None else 1), 2)


def order_id(event_type: str, properties: Mapping[str, Any]) -> str:
    """The order id of a Purchase ("" for other types or when the source sent none)."""
    if event_type != EventType.PURCHASE:
        return ""
    value = properties.get(ORDER_ID_PROPERTY)
    if value is None or isinstance(value, (bool, dict, list)):
        return ""
    return str(value).strip()[:100]


def dedupe_id(event_type: str, properties: Mapping[str, Any], event_id: str) -> str:
    """What identifies the fact on the platform: the order for a Purchase, else the event."""
    order = order_id(event_type, properties)
    return f"order:{order}" if order else event_id


def line_value(item: Mapping[str, Any]) -> float | None:
    """What the customer paid for a line: the final line price, else price x quantity - discount."""
    final = to_number(item.get(FINAL_LINE_PRICE))
    if final is not None:
        return round(final, 2)
    price, quantity = to_number(item.get("Price")), to_number(item.get("Quantity"))
    if price is None:
        return None
    discount = to_number(item.get("LineDiscount")) or 0.0
    return round(price * (quantity if quantity is not None else 1) - discount, 2)


def cart_value(properties: Mapping[str, Any]) -> float | None:
    """An Added to Cart's cart total: CartValue as sent, else the cart's own total, else the line's."""
    for key in ("CartValue", "CartTotal", "LineTotal"):
        value = to_number(properties.get(key))
        if value is not None:
            return value
    cart = properties.get("Cart")
    if isinstance(cart, Mapping):
        value = to_number(cart.get("TotalPrice") or cart.get("total_price"))
        if value is not None:
            return value
    return line_value(properties)


def seeded_properties(event_type: str, properties: Mapping[str, Any]) -> dict[str, Any]:
    """The event's properties plus the seed properties flows expect (Added to Cart's CartValue)."""
    props = dict(properties)
    if event_type == EventType.ADD_TO_CART and to_number(props.get("CartValue")) is None:
        value = cart_value(props)
        if value is not None:
            props["CartValue"] = value
    return props


def line_items(properties: Mapping[str, Any]) -> list[dict[str, Any]]:
    items = properties.get("Items")
    if not isinstance(items, list):
        return []
    return [item for item in items if isinstance(item, dict)]


def e164(value: str, *, region: str) -> str | None:
    """A phone number in E.164 (read with the merchant's default region when it has no +),
    or None when it is not a valid number: Klaviyo rejects the whole request for one."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else (region or "US"))
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
