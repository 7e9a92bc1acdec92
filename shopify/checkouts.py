"""Shopify REST checkout payloads (``checkouts/create``, ``checkouts/update``) -> what Recapture keeps
of them, and the Started Checkout recovery link (pure: no ORM, no I/O).

The body is the Admin REST checkout resource: ``token``, ``cart_token``, ``email``, ``phone``,
``abandoned_checkout_url``, ``line_items``, ``completed_at``, ``updated_at``... Shopify's
AbandonedCheckout documents ``abandonedCheckoutUrl`` as "The URL for the buyer to recover their
checkout" (Admin GraphQL AbandonedCheckout; REST ``abandoned_checkout_url``, e.g.
``https://shop.myshopify.com/548380009/checkouts/ac/<token>/recover?key=...``). Its ``token`` is
the checkout token the Web Pixels checkout payload carries as ``data.checkout.token``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from shopify.orders import text

MAX_URL_LENGTH = 2000
CHECKOUT_URL = "CheckoutURL"
CART_URL = "CartURL"


def token_of(checkout: Mapping[str, Any]) -> str:
    return text(checkout.get("token"))


def recovery_url(checkout: Mapping[str, Any]) -> str:
    """The checkout's ``abandoned_checkout_url`` when it is an absolute http(s) URL, else ""."""
    url = text(checkout.get("abandoned_checkout_url"))
    if not url or len(url) > MAX_URL_LENGTH or any(c.isspace() or ord(c) < 32 for c in url):
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return url if parts.scheme in ("https", "http") and parts.netloc else ""


def email_of(checkout: Mapping[str, Any]) -> str:
    customer = checkout.get("customer") if isinstance(checkout.get("customer"), dict) else {}
    for value in (checkout.get("email"), customer.get("email")):
        if "@" in text(value):
            return text(value).lower()[:254]
    return ""


def recovery_properties(properties: Mapping[str, Any], url: str) -> dict[str, Any]:
    """Started Checkout's properties as sent when the checkout webhook gave a recovery URL: it
    becomes ``CheckoutURL``; the cart permalink the pixel event carried stays as ``CartURL``."""
    overlay: dict[str, Any] = {CHECKOUT_URL: url}
    permalink = properties.get(CHECKOUT_URL)
    if CART_URL not in properties and isinstance(permalink, str) and "/cart/" in permalink:
        overlay[CART_URL] = permalink
    return overlay
