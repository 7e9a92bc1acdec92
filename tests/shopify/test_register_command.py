"""register_shopify_webhooks: one webhookSubscriptionCreate per topic, exact request, idempotent."""

from __future__ import annotations

import json
from io import StringIO

import pytest
import responses
from django.core.management import CommandError, call_command
from responses import matchers

from shopify.client import CREATE_MUTATION
from shopify.models import ShopifyStore

pytestmark = pytest.mark.django_db

TOKEN = "shpat_0123456789abcdef"


def _created(topic: str) -> dict:
    return {
        "data": {
            "webhookSubscriptionCreate": {
                "webhookSubscription": {"id": "gid://shopify/WebhookSubscription/1", "topic": topic},
                "userErrors": [],
            }
        }
    }


@pytest.fixture
def shop(merchant):
    merchant.shop_domain = "acme.myshopify.com"
    merchant.save()
    return merchant


@responses.activate
def test_register_shopify_webhooks_subscribes_each_topic_to_the_store_url(shop, settings):
    store = ShopifyStore.objects.create(merchant=shop)
    url = f"https://acme.myshopify.com/admin/api/{settings.SHOPIFY_ADMIN_API_VERSION}/graphql.json"
    uri = f"{settings.PUBLIC_BASE_URL}/api/v1/shopify/webhooks/{store.webhook_token}"
    topics = [
        "checkouts/create",
        "checkouts/update",
        "orders/cancelled",
        "orders/create",
        "orders/paid",
        "refunds/create",
    ]
    for topic in topics:
        responses.post(
            url,
            json=_created(topic.replace("/", "_").upper()),
            match=[
                matchers.header_matcher({"X-Shopify-Access-Token": TOKEN}),
                matchers.json_params_matcher(
                    {
                        "query": CREATE_MUTATION,
                        "variables": {
                            "topic": topic.replace("/", "_").upper(),
                            "webhookSubscription": {"uri": uri, "format": "JSON"},
                        },
                    }
                ),
            ],
        )
    out = StringIO()
    call_command("register_shopify_webhooks", str(shop.id), "--token", TOKEN, "--secret", "shpss_app", stdout=out)
    result = json.loads(out.getvalue())
    assert result["topics"] == dict.fromkeys(topics, "created")
    assert result["signing_key_set"] is True
    store.refresh_from_db()
    assert (store.admin_api_token, store.webhook_secret) == (TOKEN, "shpss_app")


@responses.activate
def test_register_shopify_webhooks_existing_subscription_is_reported_not_failed(shop, settings):
    url = f"https://acme.myshopify.com/admin/api/{settings.SHOPIFY_ADMIN_API_VERSION}/graphql.json"
    taken = {
        "data": {
            "webhookSubscriptionCreate": {
                "webhookSubscription": None,
                "userErrors": [
                    {
                        "field": ["webhookSubscription", "callbackUrl"],
                        "message": "Address for this topic has already been taken",
                    }
                ],
            }
        }
    }
    responses.post(url, json=taken)
    out = StringIO()
    call_command("register_shopify_webhooks", str(shop.id), "--token", TOKEN, "--topic", "orders/create", stdout=out)
    assert json.loads(out.getvalue())["topics"] == {"orders/create": "exists"}


@responses.activate
def test_register_shopify_webhooks_bad_token_is_a_clear_error(shop, settings):
    url = f"https://acme.myshopify.com/admin/api/{settings.SHOPIFY_ADMIN_API_VERSION}/graphql.json"
    responses.post(url, status=401, json={"errors": "[API] Invalid API key or access token"})
    with pytest.raises(CommandError, match="answered 401"):
        call_command("register_shopify_webhooks", str(shop.id), "--token", "bad", "--topic", "orders/create")


def test_register_shopify_webhooks_without_token_or_myshopify_domain_refuses(merchant):
    with pytest.raises(CommandError, match="No Admin API access token"):
        call_command("register_shopify_webhooks", str(merchant.id))
    merchant.shop_domain = "acme.com"
    merchant.save()
    with pytest.raises(CommandError, match=r"myshopify\.com"):
        call_command("register_shopify_webhooks", str(merchant.id), "--token", TOKEN)
