"""Shopify webhook deliveries: signature, headers, topics (pure: no ORM, no I/O).

Shopify's "Webhooks delivery structure" page lists the headers every delivery carries:
``X-Shopify-Topic``; ``X-Shopify-Hmac-Sha256`` ("Base64-encoded HMAC signature for verifying
the delivery came from Shopify"); ``X-Shopify-Shop-Domain``; ``X-Shopify-API-Version``;
``X-Shopify-Webhook-Id`` ("A unique composite key per delivery. Use to identify and
deduplicate individual deliveries"); ``X-Shopify-Triggered-At`` ("Timestamp of when Shopify
triggered the delivery"); ``X-Shopify-Event-Id`` ("A unique ID shared across all deliveries
produced by the same merchant action").
"""

from __future__ import annotations

import hashlib
import hmac
from base64 import b64encode
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

ORDER_TOPICS = frozenset({"orders/create", "orders/paid", "orders/cancelled"})
REFUND_TOPICS = frozenset({"refunds/create"})
CHECKOUT_TOPICS = frozenset({"checkouts/create", "checkouts/update"})
COMPLIANCE_TOPICS = frozenset({"customers/redact", "customers/data_request", "shop/redact"})
FORWARDED_TOPICS = ORDER_TOPICS | REFUND_TOPICS
# What register_shopify_webhooks subscribes to (compliance topics come from the app's configuration).
REGISTERED_TOPICS = FORWARDED_TOPICS | CHECKOUT_TOPICS
SUPPORTED_TOPICS = REGISTERED_TOPICS | COMPLIANCE_TOPICS
MAX_HEADER_LENGTH = 128


@dataclass(frozen=True, slots=True)
class DeliveryHeaders:
    topic: str
    signature: str
    shop_domain: str
    api_version: str
    webhook_id: str
    event_id: str
    triggered_at: datetime | None


def sign_body(secret: str, body: bytes) -> str:
    """X-Shopify-Hmac-Sha256: base64(HMAC-SHA256(key, raw body))."""
    return b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def signature_matches(secret: str, body: bytes, signature: str | None) -> bool:
    """Constant-time comparison over the raw bytes as received (never the re-serialised JSON)."""
    if not signature or not secret:
        return False
    return hmac.compare_digest(sign_body(secret, body).encode(), signature.strip().encode())


def read_headers(headers: Mapping[str, str], body: bytes) -> DeliveryHeaders:
    """The delivery's headers (names case-insensitive, as Django hands them over).

    A delivery without X-Shopify-Webhook-Id (a hand-made test) is keyed by its body's digest,
    so its redelivery is still recognised.
    """

    def get(name: str) -> str:
        return (headers.get(name) or "").strip()[:MAX_HEADER_LENGTH]

    webhook_id = get("X-Shopify-Webhook-Id") or "sha256:" + hashlib.sha256(body).hexdigest()[:64]
    return DeliveryHeaders(
        topic=get("X-Shopify-Topic").lower(),
        signature=get("X-Shopify-Hmac-Sha256"),
        shop_domain=get("X-Shopify-Shop-Domain").lower(),
        api_version=get("X-Shopify-API-Version")[:16],
        webhook_id=webhook_id,
        event_id=get("X-Shopify-Event-Id"),
        triggered_at=parse_time(get("X-Shopify-Triggered-At")),
    )


def parse_time(value: object) -> datetime | None:
    """An aware datetime from Shopify's ISO 8601 ("2026-11-23T10:15:30-05:00", "...Z"); None if unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def is_stale(triggered_at: datetime | None, *, now: datetime, max_age: timedelta) -> bool:
    """Triggered longer ago than Shopify keeps retrying: a replayed or backfilled delivery, not news."""
    return triggered_at is not None and now - triggered_at > max_age


def is_newer(incoming: datetime | None, stored: datetime | None) -> bool:
    """Whether a delivery's snapshot of an order may replace the stored one (older ones never win)."""
    return stored is None or incoming is None or incoming >= stored
