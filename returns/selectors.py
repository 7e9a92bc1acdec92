"""Reads for the returns app."""

from __future__ import annotations

import re
from typing import Any

from events.models import Event, EventType, Merchant
from returns.models import LoopReturn, LoopWebhook, WebhookState

TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]+")  # new_webhook_token(): token_urlsafe


def get_merchant_by_webhook_token(token: str) -> Merchant | None:
    if not token or len(token) > 64 or not TOKEN_PATTERN.fullmatch(token):
        return None  # junk from the URL (NUL via %00, ...) never reaches the database
    return Merchant.objects.filter(returns_webhook_token=token, is_active=True).first()


def get_loop_return(merchant: Merchant, *, return_id: str) -> LoopReturn | None:
    if not return_id:
        return None
    return LoopReturn.objects.filter(merchant=merchant, return_id=return_id).first()


def list_waiting_webhook_ids(merchant: Merchant, *, return_id: str) -> list[int]:
    return list(
        LoopWebhook.objects.filter(merchant=merchant, return_id=return_id, state=WebhookState.WAITING)
        .order_by("received_at", "id")
        .values_list("id", flat=True)
    )


def get_order_line_items(merchant: Merchant, *, order_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The line items of the order's own Purchase event (newest report of it), keyed by
    ("variant", VariantID) and ("sku", SKU); {} without an order id or a stored Purchase.

    One query; OrderID is matched as a string and as a number (reports send either)."""
    if not order_id:
        return {}
    values: list[Any] = [order_id, *([int(order_id)] if order_id.isdigit() else [])]
    props = (
        Event.objects.filter(merchant=merchant, type=EventType.PURCHASE, properties__OrderID__in=values)
        .order_by("-timestamp", "-id")
        .values_list("properties", flat=True)
        .first()
    )
    items = props.get("Items") if isinstance(props, dict) else None
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        for key in (("variant", str(item.get("VariantID") or "")), ("sku", str(item.get("SKU") or ""))):
            if key[1]:
                found.setdefault(key, item)
    return found
