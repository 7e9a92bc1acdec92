"""Reads for the returns app."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.db.models import Q

from events.models import Event, EventType, Merchant
from returns.models import LoopReturn, LoopWebhook, WebhookState

PRODUCT_EVENT_TYPES = (EventType.VIEW_CONTENT, EventType.ADD_TO_CART)
PRODUCT_LOOKUP_LIMIT = 500
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


def get_product_data(
    merchant: Merchant, *, skus: Iterable[str], variant_ids: Iterable[str]
) -> dict[tuple[str, str], dict[str, Any]]:
    """Image, name and variant title the pixel saw for these SKUs / variant ids, in one query.

    Keys are ("sku", SKU) and ("variant", VariantID); the most recent non-empty value wins.
    Variant ids are matched both as strings and as numbers (pixels send either).
    """
    skus, variant_ids = sorted(set(skus)), sorted(set(variant_ids))
    if not skus and not variant_ids:
        return {}
    variant_values: list[Any] = list(variant_ids) + [int(v) for v in variant_ids if v.isdigit()]
    rows = (
        Event.objects.filter(merchant=merchant, type__in=list(PRODUCT_EVENT_TYPES))
        .filter(Q(properties__SKU__in=skus) | Q(properties__VariantID__in=variant_values))
        .order_by("-timestamp")
        .values_list("properties", flat=True)[:PRODUCT_LOOKUP_LIMIT]
    )
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for props in rows:
        seen = {
            "ProductName": str(props.get("ProductName") or ""),
            "ImageURL": str(props.get("ImageURL") or ""),
            "VariantTitle": str(props.get("VariantTitle") or props.get("VariantName") or ""),
        }
        for key in (("sku", str(props.get("SKU") or "")), ("variant", str(props.get("VariantID") or ""))):
            if key[1]:  # newest first: an older sighting only fills what the newer one lacked
                known = found.setdefault(key, {})
                known.update({k: v for k, v in seen.items() if v and not known.get(k)})
    return found
