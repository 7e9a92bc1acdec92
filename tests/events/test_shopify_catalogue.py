"""Every Web Pixels standard event, in its real payload shape, becomes a named event with its data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from events.ingest import parse_event
from events.models import Event
from tests.events import shopify_payloads as p

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

EXPECTED_TYPES = {
    "page_viewed": "PageView",
    "product_viewed": "ViewContent",
    "collection_viewed": "ViewCollection",
    "search_submitted": "Search",
    "cart_viewed": "ViewCart",
    "product_added_to_cart": "AddToCart",
    "product_removed_from_cart": "RemoveFromCart",
    "checkout_started": "InitiateCheckout",
    "checkout_contact_info_submitted": "Identify",
    "checkout_address_info_submitted": "AddShippingAddress",
    "checkout_shipping_info_submitted": "AddShippingMethod",
    "payment_info_submitted": "AddPaymentInfo",
    "checkout_completed": "Purchase",
}
CHECKOUT_STEPS = [
    "checkout_started",
    "checkout_contact_info_submitted",
    "checkout_address_info_submitted",
    "checkout_shipping_info_submitted",
    "payment_info_submitted",
    "checkout_completed",
]


def _parse(raw):
    return parse_event(raw, now=NOW, max_future=timedelta(minutes=5))


@pytest.mark.parametrize("name", list(p.STANDARD_EVENTS))
def test_every_standard_event_maps_to_its_named_type(name):
    event = _parse(p.STANDARD_EVENTS[name]())
    assert event.type == EXPECTED_TYPES[name]
    assert event.anonymous_id == p.CLIENT_ID
    assert event.source == "shopify"


@pytest.mark.parametrize("name", CHECKOUT_STEPS)
def test_checkout_steps_capture_email_phone_name_and_address_as_identity(name):
    event = _parse(p.STANDARD_EVENTS[name]())
    assert event.identifiers["email"] == "ada@example.com"
    assert event.identifiers["phone"] == "+15035550100"
    assert event.traits == {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "city": "Portland",
        "region": "Oregon",
        "zip": "97201",
        "country": "US",
        "phone": "+15035550100",
    }


def test_cart_viewed_carries_its_token_lines_and_value():
    props = _parse(p.cart_viewed()).properties
    assert props["CartToken"] == "Z2NwLXVzLWVhc3QxOjAxSjk3Q0FSVA"
    assert props["CartValue"] == 143.0
    assert props["ItemCount"] == 3
    assert [i["VariantID"] for i in props["Items"]] == ["44610569208040", "555"]


def test_collection_viewed_and_search_submitted_name_what_was_seen():
    collection = _parse(p.collection_viewed()).properties
    assert (collection["CollectionID"], collection["CollectionName"]) == ("291112345", "Summer Linen")
    assert len(collection["Items"]) == 2
    search = _parse(p.search_submitted()).properties
    assert search["SearchQuery"] == "linen shirt"
    assert search["Items"][0]["ProductName"] == "Linen Shirt"


def test_product_removed_from_cart_names_the_line():
    props = _parse(p.product_removed_from_cart()).properties
    assert (props["ProductName"], props["Quantity"], props["LineTotal"]) == ("Canvas Tote", 1, 25.0)


@pytest.mark.django_db
@pytest.mark.parametrize("noise", [p.alert_displayed, p.ui_extension_errored])
def test_errors_and_ui_noise_are_accepted_and_dropped(client, merchant, noise):
    body = orjson.dumps({"writeKey": merchant.write_key, **noise()})
    response = client.post("/api/v1/events", data=body, content_type="text/plain")
    assert response.status_code == 202
    assert not Event.objects.exists()


def test_added_to_cart_and_viewed_cart_carry_a_cart_permalink():
    """Shopify cart permalinks: /cart/{variant_id}:{quantity},... rebuild the cart on any device."""
    added = _parse(p.product_added_to_cart()).properties
    assert added["CartURL"] == "https://acme.com/cart/44610569208040:2"
    viewed = _parse(p.cart_viewed()).properties
    assert viewed["CartURL"] == "https://acme.com/cart/44610569208040:2,555:1"


def test_started_checkout_url_is_a_permalink_of_its_lines():
    props = _parse(p.checkout_started()).properties
    assert props["CheckoutURL"] == "https://acme.com/cart/44610569208040:2,555:1"
