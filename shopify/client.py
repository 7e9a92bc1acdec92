"""Shopify GraphQL Admin API client: just enough to create the store's webhook subscriptions.

``webhookSubscriptionCreate(topic: WebhookSubscriptionTopic!, webhookSubscription:
WebhookSubscriptionInput!)`` "Creates a new webhook subscription"; topics use "GraphQL's
enum screaming case syntax" (ORDERS_CREATE). Auth is the ``X-Shopify-Access-Token`` header.
"""

from __future__ import annotations

import re
from typing import Any

import requests
from django.conf import settings

from shopify.exceptions import ShopifyApiError

TIMEOUT = (5, 30)
SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
CREATE_MUTATION = """
mutation RecaptureWebhook($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}
""".strip()
ALREADY_TAKEN = "already been taken"


def graphql_topic(topic: str) -> str:
    """orders/create -> ORDERS_CREATE."""
    return topic.replace("/", "_").upper()


def subscription_variables(topic: str, uri: str) -> dict[str, Any]:
    return {"topic": graphql_topic(topic), "webhookSubscription": {"uri": uri, "format": "JSON"}}


class ShopifyAdminClient:
    def __init__(self, *, shop_domain: str, access_token: str, session: requests.Session | None = None) -> None:
        if not SHOP_DOMAIN.match(shop_domain):
            raise ShopifyApiError(f"{shop_domain!r} is not a *.myshopify.com domain.", code="invalid_shop_domain")
        self.url = f"https://{shop_domain}/admin/api/{settings.SHOPIFY_ADMIN_API_VERSION}/graphql.json"
        self.access_token = access_token
        self.session = session or requests.Session()

    def create_webhook(self, *, topic: str, uri: str) -> str:
        """ "created", or "exists" when the store already sends this topic to this address."""
        data = self._post({"query": CREATE_MUTATION, "variables": subscription_variables(topic, uri)})
        result = (data.get("data") or {}).get("webhookSubscriptionCreate") or {}
        errors = [e.get("message", "") for e in result.get("userErrors") or [] if isinstance(e, dict)]
        if any(ALREADY_TAKEN in message for message in errors):
            return "exists"
        if errors or data.get("errors") or not result.get("webhookSubscription"):
            raise ShopifyApiError(f"Shopify refused {topic}: {'; '.join(errors) or data.get('errors')}"[:300])
        return "created"

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"X-Shopify-Access-Token": self.access_token, "Content-Type": "application/json"}
        try:
            response = self.session.post(self.url, json=body, headers=headers, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise ShopifyApiError(f"Shopify Admin API unreachable: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise ShopifyApiError(f"Shopify Admin API answered {response.status_code}: {response.text[:200]}")
        try:
            data = response.json()
        except ValueError as exc:
            raise ShopifyApiError("Shopify Admin API answered with a non-JSON body.") from exc
        return data if isinstance(data, dict) else {}
