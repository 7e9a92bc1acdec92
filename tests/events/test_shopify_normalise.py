"""The Shopify Web Pixels normaliser, on realistic standard-event payloads (pure, no DB)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from events import shopify
from events.ingest import parse_event
from tests.events import shopify_payloads as p

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _parse(raw):
    return parse_event(raw, now=NOW, max_future=timedelta(hours=24))


def test_page_viewed_maps_envelope_context_click_ids_and_utms():
    event = _parse(p.page_viewed())
    assert event.source == "shopify"
    assert event.type == "PageView"
    assert event.event_id == "sh-page_viewed-88153c5a-8F2D-4CCA-3231-EF5C032A4C3B"
    assert event.anonymous_id == p.CLIENT_ID
    assert event.timestamp == datetime(2026, 11, 23, 10, 15, 30, 123000, tzinfo=UTC)
    assert event.identifiers == {"client_id": p.CLIENT_ID, "fbclid": "IwAR0abc", "kx": "kx_token.ABC123"}
    assert event.context == {
        "url": p.LANDING,
        "referrer": "https://www.facebook.com/",
        "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
        "utm": {"source": "facebook", "medium": "paid", "campaign": "spring"},
    }
    assert event.traits == {} and event.properties == {}
    assert event.raw == p.page_viewed()


def test_product_viewed_maps_variant_into_properties():
    event = _parse(p.product_viewed())
    assert event.type == "ViewContent"
    assert event.properties == {
        "ProductName": "Linen Shirt",
        "ProductID": "8266836345064",
        "VariantID": "44610569208040",
        "SKU": "LS-BLU-M",
        "Price": 59.0,
        "Currency": "USD",
        "ImageURL": "https://cdn.shopify.com/s/files/1/0604/4211/6328/files/linen-shirt.jpg?v=1689256168",
        "URL": "https://acme.com/products/linen-shirt",
        "Brand": "Acme",
        "VariantName": "Blue / M",
    }


def test_product_added_to_cart_maps_cart_line_quantity_and_line_total():
    event = _parse(p.product_added_to_cart())
    assert event.type == "AddToCart"
    assert event.properties["VariantID"] == "44610569208040"
    assert event.properties["Quantity"] == 2
    assert event.properties["Price"] == 59.0
    assert event.properties["LineTotal"] == 118.0
    assert event.properties["Currency"] == "USD"


def test_checkout_started_maps_email_traits_items_and_cart_value():
    event = _parse(p.checkout_started())
    assert event.type == "InitiateCheckout"
    assert event.identifiers == {"client_id": p.CLIENT_ID, "email": "ada@example.com", "phone": "+15035550100"}
    assert event.traits == {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "city": "Portland",
        "region": "Oregon",
        "zip": "97201",
        "country": "US",
        "phone": "+15035550100",
    }
    props = event.properties
    assert props["CartValue"] == 143.2
    assert props["Currency"] == "USD"
    assert props["ItemCount"] == 3
    assert props["DiscountCodes"] == ["SPRING10"]
    # Issue 15: CheckoutURL restores the checkout on another device (a cart permalink); it was the
    # page URL, which only works in the shopper's own browser session (kept as CheckoutPageURL).
    assert props["CheckoutURL"] == "https://acme.com/cart/44610569208040:2,555:1"
    assert props["CheckoutPageURL"] == p.CHECKOUT_URL
    assert props["CheckoutToken"] == "Z2NwLXVzLWVhc3QxOjAxSjk3"
    assert "OrderID" not in props and "Revenue" not in props
    assert props["Items"] == [
        {
            "ProductName": "Linen Shirt",
            "ProductID": "8266836345064",
            "VariantID": "44610569208040",
            "SKU": "LS-BLU-M",
            "Price": 59.0,
            "Quantity": 2,
            "ImageURL": "https://cdn.shopify.com/s/files/1/0604/4211/6328/files/linen-shirt.jpg?v=1689256168",
            "URL": "https://acme.com/products/linen-shirt",
            "VariantName": "Blue / M",
            "LineItemID": "b3c1d7e2",
            "FinalLinePrice": 106.2,  # issue 13: the line after its 10 % discount (Ordered Product's value)
        },
        {
            "ProductName": "Canvas Tote",
            "ProductID": "444",
            "VariantID": "555",
            "Price": 25.0,
            "Quantity": 1,
            "ImageURL": "https://cdn.shopify.com/tote.jpg",
            "URL": "https://acme.com/products/tote",
            "LineItemID": "77aa",
        },
    ]


def test_checkout_contact_info_submitted_is_an_identify_with_email():
    event = _parse(p.checkout_contact_info_submitted())
    assert event.type == "Identify"
    assert event.identifiers["email"] == "ada@example.com"
    assert event.traits["first_name"] == "Ada"
    assert "CheckoutURL" not in event.properties


def test_checkout_completed_is_a_purchase_with_order_id_revenue_and_customer_id():
    event = _parse(p.checkout_completed())
    assert event.type == "Purchase"
    assert event.properties["OrderID"] == "5678901234"
    assert event.properties["Revenue"] == 143.2
    assert "CartValue" not in event.properties
    assert event.identifiers["shopify_customer_id"] == "7001"
    assert event.identifiers["email"] == "ada@example.com"


def test_custom_event_keeps_its_name_and_custom_data():
    event = _parse(p.custom_event())
    assert event.type == "wishlist_added"
    assert event.source == "shopify"
    assert event.properties == {"ProductID": "8266836345064", "list": "favourites"}


def test_events_outside_the_catalogue_pass_through_under_their_own_name():
    """collection_viewed used to pass through as is; the whole catalogue is mapped now (issue 15)."""
    event = _parse(p.event("some_future_event", {"thing": {"id": "1"}}))
    assert event.type == "some_future_event"


def test_shipping_address_fills_traits_missing_from_billing():
    checkout = {"billingAddress": {"firstName": "Ada"}, "shippingAddress": {"lastName": "L", "city": "Salem"}}
    assert shopify.address_traits(checkout) == {"first_name": "Ada", "last_name": "L", "city": "Salem"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("gid://shopify/ProductVariant/123", "123"),
        ("gid://shopify/Order/9?key=abc", "9"),
        ("456", "456"),
        (789, "789"),
        ("", None),
        (None, None),
        (True, None),
    ],
)
def test_reduce_gid_keeps_the_trailing_id(value, expected):
    assert shopify.reduce_gid(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"amount": 12.5, "currencyCode": "EUR"}, 12.5),
        ({"amount": "9.99", "currencyCode": "USD"}, 9.99),
        ("3", 3.0),
        ({"amount": "abc"}, None),
        ({"amount": None}, None),
        (None, None),
        (True, None),
    ],
)
def test_money_reduces_amounts_to_numbers(value, expected):
    assert shopify.money(value) == expected


def test_shopify_event_without_client_id_is_not_recognised():
    raw = p.page_viewed()
    del raw["clientId"]
    assert not shopify.is_shopify_event(raw)


def test_shopify_event_missing_id_is_a_clear_error():
    from events.exceptions import EventInvalidError

    raw = p.page_viewed()
    del raw["id"]
    with pytest.raises(EventInvalidError, match="event_id is required"):
        _parse(raw)


def test_malformed_shopify_data_does_not_crash():
    raw = p.event("checkout_completed", {"checkout": {"lineItems": "nope", "totalPrice": "x", "order": []}})
    event = _parse(raw)
    assert event.type == "Purchase"
    assert event.properties == {}
