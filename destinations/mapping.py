"""Event type -> platform metric names, and the value of an event. Data and pure functions."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from events.models import EventType

ORDERED_PRODUCT = "OrderedProduct"

# Default metric / event names per platform (same for Klaviyo and Loops today).
DEFAULT_NAMES: dict[str, str] = {
    EventType.VIEW_CONTENT: "Viewed Product",
    EventType.ADD_TO_CART: "Added to Cart",
    EventType.INITIATE_CHECKOUT: "Started Checkout",
    EventType.PURCHASE: "Placed Order",
    EventType.CANCELLED_ORDER: "Cancelled Order",
    EventType.REFUNDED_ORDER: "Refunded Order",
    ORDERED_PRODUCT: "Ordered Product",
}

# Where the monetary value of a standard event comes from, when "$value" is absent.
VALUE_SOURCES: dict[str, tuple[str, ...]] = {
    EventType.PURCHASE: ("Revenue",),
    EventType.CANCELLED_ORDER: ("Revenue",),
    EventType.REFUNDED_ORDER: ("RefundAmount",),
    EventType.INITIATE_CHECKOUT: ("CartValue",),
    EventType.ADD_TO_CART: ("CartValue",),
}
VALUED_TYPES = frozenset(VALUE_SOURCES)


def metric_name(event_type: str, *, overrides: Mapping[str, str] | None = None, suffix: str = "") -> str:
    """Default mapping (custom and return events keep their name), then overrides, then suffix."""
    name = DEFAULT_NAMES.get(event_type, event_type)
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


def line_items(properties: Mapping[str, Any]) -> list[dict[str, Any]]:
    items = properties.get("Items")
    if not isinstance(items, list):
        return []
    return [item for item in items if isinstance(item, dict)]
