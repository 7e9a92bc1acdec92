"""The Shopify webhook endpoint: signature, de-duplication, staleness, ordering (Must show)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from events.models import Event
from shopify.models import ShopifyOrder, ShopifyWebhook
from shopify.services import reprocess_shopify_webhook
from shopify.webhooks import sign_body
from tests.shopify import payloads as p
from tests.shopify.conftest import SECRET

pytestmark = pytest.mark.django_db

PLACED_ID = f"shopify:order:{p.ORDER_ID}:{p.CHECKOUT_TOKEN}"


def _events(merchant, **filters):
    return list(Event.objects.filter(merchant=merchant, **filters).order_by("timestamp", "id"))


def test_shopify_webhook_orders_create_becomes_one_placed_order(post_shopify, merchant):
    response = post_shopify("orders/create", p.order())
    assert response.status_code == 200
    webhook = ShopifyWebhook.objects.get()
    assert response.json() == {"received": True, "duplicate": False, "state": "received", "id": webhook.id}
    webhook.refresh_from_db()
    assert (webhook.topic, webhook.resource_id, webhook.state) == ("orders/create", str(p.ORDER_ID), "processed")
    [event] = _events(merchant)
    assert (event.type, event.event_id, event.source) == ("Purchase", PLACED_ID, "shopify_webhook")
    assert event.identifiers == {
        "email": "ada@lovelace-engines.com",
        "phone": "+15035550100",  # the billing address's, as the pixel's checkout events do
        "shopify_customer_id": "7001",
        "kx": "kx_token.ABC123",
    }
    assert event.properties["OrderID"] == str(p.ORDER_ID)
    assert event.properties["Revenue"] == 143.2
    assert event.properties["OrderName"] == "#1001"
    assert event.properties["DiscountCodes"] == ["SPRING10"]
    assert [i["VariantID"] for i in event.properties["Items"]] == ["44610569208040", "555"]
    assert event.properties["ItemCount"] == 3
    assert event.context["utm"] == {"source": "klaviyo", "medium": "email"}
    assert event.traits["first_name"] == "Ada"
    assert event.timestamp.isoformat() == "2026-11-23T10:20:01+00:00"


def test_shopify_webhook_missing_signature_is_401_and_nothing_stored(post_shopify):
    response = post_shopify("orders/create", p.order(), signature=None)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_signature"
    assert ShopifyWebhook.objects.count() == 0
    assert Event.objects.count() == 0


def test_shopify_webhook_wrong_key_is_401(post_shopify):
    assert post_shopify("orders/create", p.order(), secret="shpss_someone_else").status_code == 401
    assert ShopifyWebhook.objects.count() == 0


def test_shopify_webhook_tampered_body_is_401(post_shopify):
    body = json.dumps(p.order()).encode()
    signature = sign_body(SECRET, body)
    tampered = body.replace(b'"total_price": "143.20"', b'"total_price": "1.00"')
    assert tampered != body
    response = post_shopify("orders/create", None, raw=tampered, signature=signature)
    assert response.status_code == 401
    assert Event.objects.count() == 0


def test_shopify_webhook_hex_digest_instead_of_base64_is_401(post_shopify):
    import hashlib
    import hmac

    body = json.dumps(p.order()).encode()
    hex_digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert post_shopify("orders/create", None, raw=body, signature=hex_digest).status_code == 401


def test_shopify_webhook_store_without_signing_key_refuses_everything(post_shopify, store):
    store.webhook_secret = ""
    store.save()
    assert post_shopify("orders/create", p.order(), secret="").status_code == 401


def test_shopify_webhook_unknown_token_is_404(post_shopify):
    response = post_shopify("orders/create", p.order(), token="nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_shopify_webhook_missing_topic_is_400(post_shopify):
    response = post_shopify(None, p.order())
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"X-Shopify-Topic": ["missing"]}
    assert ShopifyWebhook.objects.count() == 0


def test_shopify_webhook_signed_body_that_is_not_an_object_is_400(post_shopify):
    response = post_shopify("orders/create", None, raw=b"[1, 2]")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"
    assert post_shopify("orders/create", None, raw=b"{not json").status_code == 400
    assert ShopifyWebhook.objects.count() == 0


def test_shopify_webhook_topic_we_do_not_use_is_acknowledged_not_stored(post_shopify):
    response = post_shopify("products/update", {"id": 1, "title": "T-Shirt"})
    assert response.status_code == 200
    assert response.json() == {"received": True, "duplicate": False, "state": "ignored", "id": None}
    assert ShopifyWebhook.objects.count() == 0


def test_shopify_webhook_redelivery_same_webhook_id_is_a_duplicate(post_shopify, merchant):
    first = post_shopify("orders/create", p.order(), webhook_id="wh-1")
    again = post_shopify("orders/create", p.order(), webhook_id="wh-1")
    assert again.status_code == 200
    assert again.json() == {"received": True, "duplicate": True, "state": "processed", "id": first.json()["id"]}
    assert ShopifyWebhook.objects.count() == 1
    assert len(_events(merchant)) == 1


def test_shopify_webhook_same_event_id_on_another_delivery_is_a_duplicate(post_shopify, merchant):
    """Shopify: "the same value [of X-Shopify-Event-Id] across more than one webhook indicates a duplicate"."""
    post_shopify("orders/create", p.order(), event_id="ev-1")
    again = post_shopify("orders/create", p.order(), event_id="ev-1")
    assert again.json()["duplicate"] is True
    assert ShopifyWebhook.objects.count() == 1


def test_shopify_webhook_one_merchant_action_on_two_topics_is_two_deliveries(post_shopify, merchant):
    """The event id is "shared across all deliveries produced by the same merchant action": per topic."""
    post_shopify("orders/create", p.order(), event_id="ev-1")
    paid = post_shopify("orders/paid", p.order(), event_id="ev-1")
    assert paid.json()["duplicate"] is False
    assert ShopifyWebhook.objects.count() == 2
    assert [e.event_id for e in _events(merchant)] == [PLACED_ID]  # still one Placed Order


def test_shopify_webhook_orders_paid_and_create_make_one_placed_order_whichever_first(post_shopify, merchant):
    post_shopify("orders/paid", p.order(financial_status="paid"))
    post_shopify("orders/create", p.order())
    assert [e.type for e in _events(merchant)] == ["Purchase"]
    assert ShopifyWebhook.objects.get(topic="orders/create").result["duplicate_of"] == "shopify_webhook"


def test_shopify_webhook_stale_delivery_is_stored_not_forwarded_until_reprocessed(
    post_shopify, merchant, django_capture_on_commit_callbacks
):
    old = timezone.now() - timedelta(hours=73)
    response = post_shopify("orders/create", p.order(), triggered_at=old)
    assert response.status_code == 200
    assert response.json()["state"] == "stale"
    webhook = ShopifyWebhook.objects.get()
    assert webhook.state == "stale"
    assert Event.objects.count() == 0

    with django_capture_on_commit_callbacks(execute=True):
        reprocess_shopify_webhook(webhook)
    webhook.refresh_from_db()
    assert webhook.state == "processed"
    assert [e.type for e in _events(merchant)] == ["Purchase"]


def test_shopify_webhook_recent_delivery_retried_by_shopify_is_not_stale(post_shopify, merchant):
    post_shopify("orders/create", p.order(), triggered_at=timezone.now() - timedelta(hours=47))
    assert ShopifyWebhook.objects.get().state == "processed"


def test_shopify_webhook_refund_before_its_order_waits_then_is_forwarded(post_shopify, merchant):
    post_shopify("refunds/create", p.refund())
    refund = ShopifyWebhook.objects.get(topic="refunds/create")
    assert refund.state == "waiting"
    assert Event.objects.count() == 0
    post_shopify("orders/create", p.order())
    refund.refresh_from_db()
    assert refund.state == "processed"
    placed, refunded = _events(merchant)
    assert placed.type == "Purchase"
    assert refunded.type == "RefundedOrder"
    assert refunded.event_id == "shopify:refund:890088186047892319"
    assert refunded.identifiers["email"] == "ada@lovelace-engines.com"
    assert refunded.properties["RefundAmount"] == 55.1  # the failed transaction is not money returned
    assert refunded.properties["OrderID"] == str(p.ORDER_ID)
    assert refunded.properties["Items"][0]["Quantity"] == 1


def test_shopify_webhook_cancel_arriving_before_create_keeps_the_newer_snapshot(post_shopify, merchant):
    now = timezone.now()
    post_shopify("orders/cancelled", p.cancelled_order(), triggered_at=now)
    post_shopify("orders/create", p.order(), triggered_at=now - timedelta(minutes=10))
    assert sorted(e.type for e in _events(merchant)) == ["CancelledOrder", "Purchase"]
    stored = ShopifyOrder.objects.get()
    assert stored.payload["cancelled_at"] is not None  # the older orders/create did not overwrite it
    cancelled = Event.objects.get(type="CancelledOrder")
    assert cancelled.properties["CancelReason"] == "customer"
    assert cancelled.timestamp.isoformat() == "2026-11-23T14:00:00+00:00"


def test_shopify_webhook_order_without_id_fails_visibly(post_shopify):
    post_shopify("orders/create", p.order(id=None))
    webhook = ShopifyWebhook.objects.get()
    assert webhook.state == "failed"
    assert "no usable id" in webhook.error
    assert Event.objects.count() == 0
