"""Shopify REST order / refund payloads -> the internal event (pure: no ORM, no I/O).

The shapes are the Admin REST ``Order`` and ``Refund`` resources Shopify posts for
``orders/create``, ``orders/paid``, ``orders/cancelled`` and ``refunds/create``. Properties
use the pixel's names (OrderID, Revenue, Items...) so one order reads the same whoever reported it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs, urlsplit

from events.models import EventSource, EventType
from events.shopify import CLICK_ID_PARAMS, SERVER_EVENT_ID_PREFIX, UTM_PARAMS, placed_order_event_id
from events.types import NewEvent
from shopify.webhooks import parse_time

ADDRESS_TRAITS = {"first_name": "first_name", "last_name": "last_name", "city": "city", "province": "region"}


def text(value: Any) -> str:
    """A Shopify id or string as text: 820982911946154508 -> "820982911946154508"; "" when absent."""
    if value is None or isinstance(value, bool | dict | list):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def number(value: Any) -> float | None:
    """Shopify money is a string ("403.00"): a float, or None when absent or unreadable."""
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return float(amount) if amount.is_finite() else None


def order_id_of(payload: dict[str, Any]) -> str:
    return text(payload.get("id"))


def session_tokens(order: dict[str, Any]) -> tuple[str, str]:
    """(checkout_token, cart_token) of an order: what joins it to the pixel's session."""
    return text(order.get("checkout_token")), text(order.get("cart_token"))


def email_of(order: dict[str, Any]) -> str:
    customer = _dict(order.get("customer"))
    for value in (order.get("email"), order.get("contact_email"), customer.get("email")):
        if text(value) and "@" in text(value):
            return text(value)
    return ""


def placed_order(order: dict[str, Any], *, anonymous_id: str, fallback_time: datetime) -> NewEvent:
    """Placed Order (Purchase) with the same event id as the pixel's checkout_completed of that order."""
    order_id = order_id_of(order)
    checkout_token, _ = session_tokens(order)
    when = parse_time(order.get("processed_at")) or parse_time(order.get("created_at")) or fallback_time
    event_id = placed_order_event_id(order_id, checkout_token or None)
    return _event(order, EventType.PURCHASE, event_id, when, anonymous_id)


def cancelled_order(order: dict[str, Any], *, anonymous_id: str, fallback_time: datetime) -> NewEvent:
    when = parse_time(order.get("cancelled_at")) or parse_time(order.get("updated_at")) or fallback_time
    event_id = f"{SERVER_EVENT_ID_PREFIX}order-cancelled:{order_id_of(order)}"
    event = _event(order, EventType.CANCELLED_ORDER, event_id, when, anonymous_id)
    event.properties.update(_compact({"CancelReason": text(order.get("cancel_reason")) or None}))
    return event


def refunded_order(
    refund: dict[str, Any], *, order: dict[str, Any], anonymous_id: str, fallback_time: datetime
) -> NewEvent:
    """Refunded Order: who and what from the stored order, the amount from the refund's own transactions."""
    when = parse_time(refund.get("processed_at")) or parse_time(refund.get("created_at")) or fallback_time
    event_id = f"{SERVER_EVENT_ID_PREFIX}refund:{text(refund.get('id'))}"
    event = _event(order, EventType.REFUNDED_ORDER, event_id, when, anonymous_id)
    items = [_refund_item(_dict(r)) for r in _list(refund.get("refund_line_items"))]
    event.properties = _compact(
        {
            "OrderID": event.properties.get("OrderID"),
            "OrderName": event.properties.get("OrderName"),
            "RefundID": text(refund.get("id")) or None,
            "RefundAmount": refund_amount(refund),
            "Currency": event.properties.get("Currency"),
            "Items": [i for i in items if i],
            "Note": text(refund.get("note")) or None,
        }
    )
    return event


def refund_amount(refund: dict[str, Any]) -> float:
    """The money actually returned: the refund's successful ``refund`` transactions."""
    total = Decimal(0)
    for tx in map(_dict, _list(refund.get("transactions"))):
        if tx.get("kind") == "refund" and tx.get("status") == "success" and number(tx.get("amount")) is not None:
            total += Decimal(str(tx["amount"]).strip())
    return float(total)


def _event(order: dict[str, Any], kind: str, event_id: str, when: datetime, anonymous_id: str) -> NewEvent:
    landing = text(order.get("landing_site"))
    return NewEvent(
        event_id=event_id,
        type=kind,
        anonymous_id=anonymous_id or f"{SERVER_EVENT_ID_PREFIX}order:{order_id_of(order)}",
        timestamp=when,
        context=_context(order, landing),
        identifiers=identifiers_of(order, landing),
        traits=traits_of(order),
        properties=order_properties(order),
        raw={"order_id": order_id_of(order)},
        source=EventSource.SHOPIFY_WEBHOOK,
    )


def identifiers_of(order: dict[str, Any], landing: str = "") -> dict[str, str]:
    customer = _dict(order.get("customer"))
    billing = _dict(order.get("billing_address"))
    out: dict[str, str] = {}
    if email_of(order):
        out["email"] = email_of(order)
    phone = next((text(p) for p in (order.get("phone"), customer.get("phone"), billing.get("phone")) if text(p)), "")
    if phone:
        out["phone"] = phone
    if text(customer.get("id")):
        out["shopify_customer_id"] = text(customer.get("id"))
    query = _query(landing)
    out.update({key: query[key] for key in CLICK_ID_PARAMS if query.get(key)})
    if query.get("_kx"):
        out["kx"] = query["_kx"]
    return out


def traits_of(order: dict[str, Any]) -> dict[str, str]:
    traits: dict[str, str] = {}
    sources = (_dict(order.get("customer")), _dict(order.get("billing_address")), _dict(order.get("shipping_address")))
    for source in sources:
        for key, trait in ADDRESS_TRAITS.items():
            if text(source.get(key)) and trait not in traits:
                traits[trait] = text(source.get(key))
        for key, trait in (("zip", "zip"), ("country_code", "country")):
            if text(source.get(key)) and trait not in traits:
                traits[trait] = text(source.get(key))
    return traits


def order_properties(order: dict[str, Any]) -> dict[str, Any]:
    items = [line_item(_dict(li)) for li in _list(order.get("line_items"))]
    codes = [text(d.get("code")) for d in map(_dict, _list(order.get("discount_codes"))) if text(d.get("code"))]
    checkout_token, cart_token = session_tokens(order)
    quantities = [i["Quantity"] for i in items if isinstance(i.get("Quantity"), int | float)]
    return _compact(
        {
            "OrderID": order_id_of(order) or None,
            "OrderName": text(order.get("name")) or None,
            "Revenue": number(order.get("total_price")),
            "Currency": text(order.get("currency")) or None,
            "Items": items,
            "ItemCount": sum(quantities) if items else None,
            "DiscountCodes": codes or None,
            "Subtotal": number(order.get("subtotal_price")),
            "Tax": number(order.get("total_tax")),
            "CheckoutToken": checkout_token or None,
            "CartToken": cart_token or None,
            "SourceName": text(order.get("source_name")) or None,
            "AcceptsMarketing": order.get("buyer_accepts_marketing")
            if isinstance(order.get("buyer_accepts_marketing"), bool)
            else None,
        }
    )


def line_item(item: dict[str, Any]) -> dict[str, Any]:
    quantity = item.get("quantity")
    return _compact(
        {
            "ProductName": text(item.get("title")) or text(item.get("name")) or None,
            "ProductID": text(item.get("product_id")) or None,
            "VariantID": text(item.get("variant_id")) or None,
            "SKU": text(item.get("sku")) or None,
            "Price": number(item.get("price")),
            "Quantity": quantity if isinstance(quantity, int) and not isinstance(quantity, bool) else None,
            "VariantName": text(item.get("variant_title")) or None,
            "Brand": text(item.get("vendor")) or None,
            "LineItemID": text(item.get("id")) or None,
        }
    )


def _refund_item(refund_line: dict[str, Any]) -> dict[str, Any]:
    item = line_item(_dict(refund_line.get("line_item")))
    quantity = refund_line.get("quantity")
    if isinstance(quantity, int) and not isinstance(quantity, bool):
        item["Quantity"] = quantity
    subtotal = number(refund_line.get("subtotal"))
    if subtotal is not None:
        item["RefundSubtotal"] = subtotal
    return item


def marketing_consent(order: dict[str, Any]) -> dict[str, bool]:
    """The buyer's own marketing opt-ins on the order: ``buyer_accepts_marketing`` and the
    customer's ``email_marketing_consent`` / ``sms_marketing_consent`` states. Only a
    "subscribed" or a true counts as a yes; anything else is "not said" (never a no that
    could unsubscribe someone who opted in elsewhere)."""
    customer = _dict(order.get("customer"))
    email_state = _dict(customer.get("email_marketing_consent")).get("state")
    sms_state = _dict(customer.get("sms_marketing_consent")).get("state")
    out: dict[str, bool] = {}
    if order.get("buyer_accepts_marketing") is True or email_state == "subscribed":
        out["email_marketing"] = True
    if sms_state == "subscribed":
        out["sms_marketing"] = True
    return out


def _context(order: dict[str, Any], landing: str) -> dict[str, Any]:
    query = _query(landing)
    utm = {key: value for key in UTM_PARAMS if (value := query.get(f"utm_{key}"))}
    return _compact(
        {
            "landing_site": landing or None,
            "referrer": text(order.get("referring_site")) or None,
            "user_agent": text(_dict(order.get("client_details")).get("user_agent")) or None,
            "utm": utm or None,
            "consent": marketing_consent(order) or None,
        }
    )


def _query(url: str) -> dict[str, str]:
    if not url:
        return {}
    try:
        pairs = parse_qs(urlsplit(url).query)
    except ValueError:
        return {}
    return {key: values[0] for key, values in pairs.items() if values}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _compact(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None and value != []}
