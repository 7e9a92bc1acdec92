"""Reads of merchants and events."""

from __future__ import annotations

from django.conf import settings

from events.models import Merchant


def get_returns_webhook_url(merchant: Merchant) -> str:
    return f"{settings.PUBLIC_BASE_URL}/api/v1/returns/loop/{merchant.returns_webhook_token}"


def merchant_credentials(merchant: Merchant) -> dict[str, object]:
    """What operators and scripts need to wire a store up (printed by the commands)."""
    return {
        "id": merchant.id,
        "name": merchant.name,
        "shop_domain": merchant.shop_domain,
        "write_key": merchant.write_key,
        "returns_webhook_url": get_returns_webhook_url(merchant),
        "returns_webhook_secret": merchant.returns_webhook_secret,
    }
