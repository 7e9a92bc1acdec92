"""Reads of the shopify app: the store behind a webhook URL, and the pixel session behind an order."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q

from events.models import Event, EventSource
from shopify.models import ShopifyCheckout, ShopifyOrder, ShopifyStore, ShopifyWebhook, WebhookState

PIXEL_SOURCES = (EventSource.SHOPIFY, EventSource.PIXEL)


def get_store_by_webhook_token(token: str) -> ShopifyStore | None:
    if not token or len(token) > 64:
        return None
    return ShopifyStore.objects.select_related("merchant").filter(webhook_token=token, merchant__is_active=True).first()


def get_webhook_url(store: ShopifyStore) -> str:
    return f"{settings.PUBLIC_BASE_URL}/api/v1/shopify/webhooks/{store.webhook_token}"


def find_session_anonymous_id(merchant_id: int, *, checkout_token: str, cart_token: str, now: datetime) -> str:
    """The one pixel session (clientId) that carried this order's checkout or cart token, or "".

    A checkout token is strong evidence for one session only: the order joins the session whose
    pixel events carried it, and no other. When the token shows up under two different
    clientIds (a shared link, a copied cart) nothing is joined: precision before reach.
    The search covers SHOPIFY_SESSION_JOIN_DAYS of the merchant's recent events.
    """
    match = Q()
    if checkout_token:
        match |= Q(properties__CheckoutToken=checkout_token)
    if cart_token:
        match |= Q(properties__CartToken=cart_token)
    if not match:
        return ""
    since = now - timedelta(days=settings.SHOPIFY_SESSION_JOIN_DAYS)
    ids = set(
        Event.objects.filter(merchant_id=merchant_id, received_at__gte=since, source__in=PIXEL_SOURCES)
        .filter(match)
        .exclude(anonymous_id="")
        .values_list("anonymous_id", flat=True)
        .distinct()[:2]
    )
    return ids.pop() if len(ids) == 1 else ""


def get_order(merchant_id: int, *, order_id: str) -> ShopifyOrder | None:
    return ShopifyOrder.objects.filter(merchant_id=merchant_id, order_id=order_id).first()


def list_waiting_webhook_ids(merchant_id: int, *, order_id: str) -> list[int]:
    rows = ShopifyWebhook.objects.filter(merchant_id=merchant_id, resource_id=order_id, state=WebhookState.WAITING)
    return list(rows.order_by("received_at", "id").values_list("id", flat=True))


def get_checkout_urls(keys: Iterable[tuple[int, str]]) -> dict[tuple[int, str], str]:
    """(merchant id, checkout token) -> the recovery URL a checkout webhook gave, for those known."""
    keys = set(keys)
    match = Q(pk__in=[])
    for merchant_id in {m for m, _ in keys}:
        match |= Q(merchant_id=merchant_id, token__in=[t for m, t in keys if m == merchant_id])
    rows = ShopifyCheckout.objects.filter(match).exclude(abandoned_checkout_url="")
    return {(m, t): url for m, t, url in rows.values_list("merchant_id", "token", "abandoned_checkout_url")}


def list_merchants_with_checkouts(merchant_ids: set[int]) -> set[int]:
    """The merchants among these whose stores send checkout webhooks (a row not pruned yet)."""
    rows = ShopifyCheckout.objects.filter(merchant_id__in=merchant_ids).values_list("merchant_id", flat=True)
    return set(rows.distinct())
