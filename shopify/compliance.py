"""Shopify's mandatory compliance webhooks, mapped to Recapture's erasure and export.

Shopify (Privacy law compliance): "customers/data_request: Requests to view stored customer
data"; "customers/redact: Requests to delete customer data"; "shop/redact: Requests to delete
shop data" (sent 48 hours after a store uninstalls). Each handler returns what it did (counts,
or the export), which is kept on the webhook row; the person's data is gone once it returns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Q

from events.models import Event
from identity.models import Identifier, Profile, ProfileMerge
from identity.selectors import get_profile_by_identifier, list_profile_events, list_profile_identifiers
from identity.services import forget_profile
from shopify import orders
from shopify.models import ShopifyCheckout, ShopifyOrder, ShopifyWebhook

EXPORT_EVENT_LIMIT = 1000


def profiles_of(webhook: ShopifyWebhook, customer: dict[str, Any]) -> list[Profile]:
    """The profiles the request's customer id, email or phone point to (normalised as resolution does)."""
    found: dict[int, Profile] = {}
    for kind, key in (("shopify_customer_id", "id"), ("email", "email"), ("phone", "phone")):
        value = orders.text(customer.get(key))
        profile = get_profile_by_identifier(webhook.merchant, type=kind, value=value) if value else None
        if profile is not None:
            found[profile.pk] = profile
    return list(found.values())


def redact_customer(webhook: ShopifyWebhook, payload: dict[str, Any]) -> dict[str, Any]:
    customer = _dict(payload.get("customer"))
    email = orders.text(customer.get("email")).lower()
    order_ids = [orders.text(o) for o in _list(payload.get("orders_to_redact")) if orders.text(o)]
    merchant_id = webhook.merchant_id
    profiles = profiles_of(webhook, customer)
    stray = Event.objects.filter(merchant_id=merchant_id, profile__isnull=True)
    stray = stray.filter(identifiers__email=email) if email else stray.none()
    order_rows = ShopifyOrder.objects.filter(merchant_id=merchant_id).filter(
        Q(order_id__in=order_ids) | (Q(email=email) if email else Q(pk__in=[]))
    )
    tokens = _checkout_tokens(profiles, stray, order_rows)  # read before the events are gone
    erased = [forget_profile(p, actor=f"shopify:{webhook.topic}") for p in profiles]
    stray_deleted, _ = stray.delete()
    checkout_rows = ShopifyCheckout.objects.filter(merchant_id=merchant_id).filter(
        Q(token__in=tokens) | (Q(email=email) if email else Q(pk__in=[]))
    )
    mentions = Q(resource_id__in=[*order_ids, *(t[:64] for t in tokens)]) | (
        Q(body__icontains=email) if email else Q(pk__in=[])
    )
    bodies = ShopifyWebhook.objects.filter(merchant_id=merchant_id).filter(mentions).exclude(id=webhook.id)
    return {
        "profiles_erased": len(erased),
        "events_erased": sum(r.events_deleted for r in erased) + stray_deleted,
        "orders_erased": order_rows.delete()[0],
        "checkouts_erased": checkout_rows.delete()[0],
        "webhook_bodies_redacted": bodies.update(body="{}"),
    }


def _checkout_tokens(profiles: list[Profile], stray: Any, order_rows: Any) -> list[str]:
    """The person's checkout tokens: from their events (a checkout may have no email, only a
    phone) and from their stored orders."""
    events = Event.objects.filter(Q(profile__in=profiles) | Q(pk__in=stray.values("pk")))
    tokens = {
        props.get("CheckoutToken")
        for props in events.filter(properties__has_key="CheckoutToken").values_list("properties", flat=True)
    }
    tokens |= set(order_rows.exclude(checkout_token="").values_list("checkout_token", flat=True))
    return sorted(t for t in tokens if isinstance(t, str) and t)


def export_customer(webhook: ShopifyWebhook, payload: dict[str, Any]) -> dict[str, Any]:
    """What Recapture holds on the person, for the merchant to hand over (kept on the webhook row)."""
    customer = _dict(payload.get("customer"))
    requested = [orders.text(o) for o in _list(payload.get("orders_requested")) if orders.text(o)]
    profiles = [
        {
            "email": p.email,
            "phone": p.phone,
            "traits": p.traits,
            "identifiers": [{"type": i.type, "value": i.value} for i in list_profile_identifiers(p)],
            "events": [
                {"type": e.type, "timestamp": e.timestamp.isoformat(), "properties": e.properties}
                for e in list_profile_events(p, limit=EXPORT_EVENT_LIMIT)
            ],
        }
        for p in profiles_of(webhook, customer)
    ]
    stored = ShopifyOrder.objects.filter(merchant_id=webhook.merchant_id, order_id__in=requested)
    email = orders.text(customer.get("email")).lower()
    checkouts = ShopifyCheckout.objects.filter(merchant_id=webhook.merchant_id, email=email) if email else []
    return {
        "data_request_id": orders.text(_dict(payload.get("data_request")).get("id")),
        "profiles": profiles,
        "orders": [{"order_id": o.order_id, "name": o.name, "email": o.email} for o in stored],
        "checkouts": [{"token": c.token, "abandoned_checkout_url": c.abandoned_checkout_url} for c in checkouts],
    }


def redact_shop(webhook: ShopifyWebhook, payload: dict[str, Any]) -> dict[str, Any]:
    """Every person's data of the store: events, profiles, the identity graph, orders, checkouts,
    webhook bodies."""
    merchant = webhook.merchant
    counts = {
        "events_erased": Event.objects.filter(merchant=merchant).delete()[0],
        "identifiers_erased": Identifier.objects.filter(merchant=merchant).delete()[0],
        "merges_erased": ProfileMerge.objects.filter(merchant=merchant).delete()[0],
        "profiles_erased": Profile.objects.filter(merchant=merchant).delete()[0],
        "orders_erased": ShopifyOrder.objects.filter(merchant=merchant).delete()[0],
        "checkouts_erased": ShopifyCheckout.objects.filter(merchant=merchant).delete()[0],
        "webhooks_erased": ShopifyWebhook.objects.filter(merchant=merchant).exclude(id=webhook.id).delete()[0],
    }
    merchant.is_active = False
    merchant.save(update_fields=["is_active"])
    return counts


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


HANDLERS: dict[str, Callable[[ShopifyWebhook, dict[str, Any]], dict[str, Any]]] = {
    "customers/redact": redact_customer,
    "customers/data_request": export_customer,
    "shop/redact": redact_shop,
}
