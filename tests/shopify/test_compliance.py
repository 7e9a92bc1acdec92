"""Shopify's compliance webhooks map to erasure (customers/redact, shop/redact) and export (data_request)."""

from __future__ import annotations

import pytest

from events.models import Event
from identity.models import ErasureRecord, Identifier, Profile
from shopify.models import ShopifyOrder, ShopifyWebhook
from tests.factories import EventFactory
from tests.shopify import payloads as p

pytestmark = pytest.mark.django_db


@pytest.fixture
def ordered(post_shopify, merchant):
    """Ada has ordered (a profile with her email, phone and customer id, a stored order)."""
    post_shopify("orders/create", p.order())
    profile = Profile.objects.get(merchant=merchant)
    assert profile.email == "ada@lovelace-engines.com"
    return profile


def test_customers_redact_erases_the_profile_events_order_and_webhook_bodies(post_shopify, merchant, ordered):
    other = EventFactory(merchant=merchant, identifiers={"email": "bob@example.com"})
    response = post_shopify("customers/redact", p.customers_redact())
    assert response.status_code == 200
    request = ShopifyWebhook.objects.get(topic="customers/redact")
    assert request.state == "processed"
    assert request.result["profiles_erased"] == 1
    assert not Profile.objects.filter(pk=ordered.pk).exists()
    assert not Identifier.objects.filter(value__icontains="ada").exists()
    assert list(Event.objects.values_list("id", flat=True)) == [other.id]
    assert ShopifyOrder.objects.count() == 0
    for webhook in ShopifyWebhook.objects.all():
        assert "ada@lovelace-engines.com" not in webhook.body  # the order delivery and the request itself
    assert ErasureRecord.objects.get().actor == "shopify:customers/redact"


def test_customers_redact_for_someone_unknown_erases_nothing(post_shopify, merchant, ordered):
    body = p.customers_redact()
    body["customer"] = {"id": 1, "email": "nobody@example.com", "phone": None}
    body["orders_to_redact"] = []
    post_shopify("customers/redact", body)
    assert Profile.objects.filter(pk=ordered.pk).exists()
    assert ShopifyOrder.objects.count() == 1


def test_customers_data_request_exports_what_recapture_holds(post_shopify, merchant, ordered):
    post_shopify("customers/data_request", p.customers_data_request())
    request = ShopifyWebhook.objects.get(topic="customers/data_request")
    export = request.result
    assert export["data_request_id"] == "9999"
    [profile] = export["profiles"]
    assert profile["email"] == "ada@lovelace-engines.com"
    assert {"type": "shopify_customer_id", "value": "7001"} in profile["identifiers"]
    assert [e["type"] for e in profile["events"]] == ["Purchase"]
    assert export["orders"] == [{"order_id": str(p.ORDER_ID), "name": "#1001", "email": "ada@lovelace-engines.com"}]
    assert Profile.objects.filter(pk=ordered.pk).exists()  # an export erases nothing


def test_shop_redact_erases_every_customer_of_the_store_and_no_other_store(post_shopify, merchant, ordered):
    elsewhere = EventFactory()
    post_shopify("shop/redact", p.shop_redact())
    assert Event.objects.filter(merchant=merchant).count() == 0
    assert Profile.objects.filter(merchant=merchant).count() == 0
    assert ShopifyOrder.objects.count() == 0
    assert list(ShopifyWebhook.objects.values_list("topic", flat=True)) == ["shop/redact"]
    merchant.refresh_from_db()
    assert merchant.is_active is False
    assert Event.objects.filter(pk=elsewhere.pk).exists()


def test_compliance_webhook_with_bad_signature_is_401(post_shopify, merchant, ordered):
    """Shopify: "If a mandatory compliance webhook sends a request with an invalid Shopify HMAC header,
    then the app must return a 401 Unauthorized HTTP status"."""
    response = post_shopify("customers/redact", p.customers_redact(), signature="bm9wZQ==")
    assert response.status_code == 401
    assert Profile.objects.filter(pk=ordered.pk).exists()
