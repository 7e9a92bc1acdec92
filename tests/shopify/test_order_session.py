"""An order joins its pixel session by checkout/cart token; one order is one Placed Order (pixel or webhook)."""

from __future__ import annotations

import copy

import orjson
import pytest
from django.utils import timezone

from events.models import Event, Identification
from shopify.models import ShopifyOrder, ShopifyWebhook
from tests.events import shopify_payloads as pixel
from tests.shopify import payloads as p

pytestmark = pytest.mark.django_db

PLACED_ID = f"shopify:order:{p.ORDER_ID}:{p.CHECKOUT_TOKEN}"


@pytest.fixture
def ingest(client, merchant, django_capture_on_commit_callbacks):
    def send(event: dict):
        body = orjson.dumps({"writeKey": merchant.write_key, **event})
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/api/v1/events", data=body, content_type="text/plain")
        assert response.status_code in (202, 400), response.content
        return response

    return send


def _anonymous_checkout_started(client_id: str = pixel.CLIENT_ID) -> dict:
    """checkout_started fires before the contact step: the checkout has a token, no email yet."""
    event = pixel.checkout_started()
    event["clientId"] = client_id
    event["id"] = f"sh-checkout-started-{client_id}"
    event["data"]["checkout"]["email"] = ""
    event["data"]["checkout"]["billingAddress"] = {}
    event["data"]["checkout"]["shippingAddress"] = {}
    return event


def _now(event: dict) -> dict:
    event["timestamp"] = timezone.now().isoformat()
    return event


def test_order_webhook_email_reidentifies_the_anonymous_browsing_of_its_session(ingest, post_shopify, merchant):
    ingest(_now(pixel.product_viewed()))
    ingest(_now(_anonymous_checkout_started()))
    browsing = Event.objects.get(type="ViewContent")
    assert browsing.profile is not None and browsing.identification == Identification.ANONYMOUS

    post_shopify("orders/create", p.order())

    placed = Event.objects.get(type="Purchase")
    assert placed.anonymous_id == pixel.CLIENT_ID  # joined through the checkout token
    assert ShopifyOrder.objects.get().anonymous_id == pixel.CLIENT_ID
    assert ShopifyWebhook.objects.get().result["joined_session"] is True
    browsing.refresh_from_db()
    assert browsing.profile_id == placed.profile_id
    assert browsing.profile.email == "ada@lovelace-engines.com"
    assert browsing.identification == Identification.RESOLVED


def test_order_webhook_joins_through_the_cart_token_when_no_checkout_event_came(ingest, post_shopify, merchant):
    cart_viewed = pixel.event("cart_viewed", {"cart": {"id": f"gid://shopify/Cart/{p.CART_TOKEN}?key=abc"}})
    event = {**cart_viewed, "id": "sh-cart-1"}
    ingest(event)
    assert Event.objects.get().properties.get("CartToken") == p.CART_TOKEN
    post_shopify("orders/create", p.order(checkout_token=None))
    assert Event.objects.get(type="Purchase").anonymous_id == pixel.CLIENT_ID


def test_order_webhook_token_seen_under_two_sessions_joins_neither(ingest, post_shopify, merchant):
    """Precision before reach: a checkout token shared by two clientIds is no evidence for either."""
    ingest(_anonymous_checkout_started("client-a"))
    ingest(_anonymous_checkout_started("client-b"))
    post_shopify("orders/create", p.order())
    placed = Event.objects.get(type="Purchase")
    assert placed.anonymous_id == f"shopify:order:{p.ORDER_ID}"
    for other in Event.objects.filter(type="InitiateCheckout"):
        assert other.profile_id != placed.profile_id


def test_order_webhook_without_a_pixel_session_still_records_the_order(post_shopify, merchant):
    post_shopify("orders/create", p.order())
    placed = Event.objects.get()
    assert placed.anonymous_id == f"shopify:order:{p.ORDER_ID}"
    assert placed.profile.email == "ada@lovelace-engines.com"


def test_pixel_purchase_first_then_webhook_is_one_placed_order(ingest, post_shopify, merchant):
    ingest(pixel.checkout_completed())
    post_shopify("orders/create", p.order())
    [purchase] = Event.objects.filter(type="Purchase")
    assert (purchase.event_id, purchase.source) == (PLACED_ID, "shopify")
    assert ShopifyWebhook.objects.get().result["duplicate_of"] == "shopify"


def test_webhook_first_then_pixel_purchase_is_one_placed_order(ingest, post_shopify, merchant):
    post_shopify("orders/create", p.order())
    response = ingest(pixel.checkout_completed())
    assert response.json() == {"accepted": 0, "duplicates": 1, "errors": []}
    [purchase] = Event.objects.filter(type="Purchase")
    assert (purchase.event_id, purchase.source) == (PLACED_ID, "shopify_webhook")
    assert purchase.properties["OrderID"] == str(p.ORDER_ID)


def test_forged_pixel_purchase_naming_the_order_cannot_shadow_the_real_one(ingest, post_shopify, merchant):
    """Someone who knows an order id but not its checkout token does not take the order's event id."""
    forged = copy.deepcopy(pixel.checkout_completed())
    forged["id"] = "sh-forged"
    forged["clientId"] = "attacker"
    forged["data"]["checkout"]["token"] = "guessed"
    forged["data"]["checkout"]["email"] = "attacker@example.com"
    ingest(forged)
    post_shopify("orders/create", p.order())
    real = Event.objects.get(event_id=PLACED_ID)
    assert (real.source, real.identifiers["email"]) == ("shopify_webhook", "ada@lovelace-engines.com")


def test_client_cannot_send_an_event_id_in_the_server_namespace(ingest, merchant):
    raw = pixel.page_viewed()
    raw["id"] = PLACED_ID
    response = ingest(raw)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "reserved_event_id"
    assert Event.objects.count() == 0
