"""Fixtures for the shopify tests: a store with a signing key and a signed-webhook poster."""

from __future__ import annotations

import itertools
import json

import pytest
from django.utils import timezone

from shopify.models import ShopifyStore
from shopify.webhooks import sign_body

SECRET = "shpss_0123456789abcdef0123456789abcdef"
_ids = itertools.count(1)


@pytest.fixture
def store(merchant):
    return ShopifyStore.objects.create(merchant=merchant, webhook_secret=SECRET)


@pytest.fixture
def post_shopify(client, store, django_capture_on_commit_callbacks):
    """POST a body to the store's webhook URL with Shopify's headers, signed unless told otherwise.

    On-commit callbacks run (django-q2 is synchronous in tests), so processing happens inline.
    """

    def post(
        topic,
        payload,
        *,
        secret=SECRET,
        signature="sign",
        webhook_id=None,
        event_id=None,
        triggered_at=None,
        token=None,
        raw=None,
    ):
        body = raw if raw is not None else json.dumps(payload).encode()
        headers = {
            "HTTP_X_SHOPIFY_TOPIC": topic,
            "HTTP_X_SHOPIFY_SHOP_DOMAIN": "acme.myshopify.com",
            "HTTP_X_SHOPIFY_API_VERSION": "2025-10",
            "HTTP_X_SHOPIFY_WEBHOOK_ID": webhook_id or f"b54557e4-bdd9-4b37-8a5f-bf7d70bc{next(_ids):04d}",
            "HTTP_X_SHOPIFY_EVENT_ID": event_id or f"98880550-7158-44d4-b7cd-2c97c8a0{next(_ids):04d}",
            "HTTP_X_SHOPIFY_TRIGGERED_AT": (triggered_at or timezone.now()).isoformat(),
        }
        if topic is None:
            del headers["HTTP_X_SHOPIFY_TOPIC"]
        if signature == "sign":
            headers["HTTP_X_SHOPIFY_HMAC_SHA256"] = sign_body(secret, body)
        elif signature is not None:
            headers["HTTP_X_SHOPIFY_HMAC_SHA256"] = signature
        url = f"/api/v1/shopify/webhooks/{token or store.webhook_token}"
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, data=body, content_type="application/json", **headers)

    return post
