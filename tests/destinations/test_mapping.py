from __future__ import annotations

import pytest

from destinations.mapping import event_value, line_items, metric_name


@pytest.mark.parametrize(
    ("event_type", "expected"),
    [
        ("ViewContent", "Viewed Product"),
        ("AddToCart", "Added to Cart"),
        ("InitiateCheckout", "Started Checkout"),
        ("Purchase", "Placed Order"),
        ("OrderedProduct", "Ordered Product"),
        ("Return Created", "Return Created"),
        ("Wishlist Add", "Wishlist Add"),
    ],
)
def test_metric_name_defaults_and_custom_names_kept(event_type, expected):
    assert metric_name(event_type) == expected


def test_metric_name_override_then_suffix():
    overrides = {"Purchase": "Order Placed", "AddToCart": "  "}
    assert metric_name("Purchase", overrides=overrides, suffix=" - Recapture") == "Order Placed - Recapture"
    assert metric_name("AddToCart", overrides=overrides, suffix=" - R") == "Added to Cart - R"
    assert metric_name("Return Created", suffix=" - R") == "Return Created - R"


@pytest.mark.parametrize(
    ("event_type", "properties", "expected"),
    [
        ("Purchase", {"Revenue": "59.50"}, 59.5),
        ("InitiateCheckout", {"CartValue": 20}, 20.0),
        ("AddToCart", {"CartValue": 7.25, "Price": 1}, 7.25),
        ("AddToCart", {"Price": "12.5", "Quantity": 3}, 37.5),
        ("AddToCart", {"Price": 9.99}, 9.99),
        ("Return Created", {"$value": 42.1}, 42.1),
        ("ViewContent", {"$value": "3"}, 3.0),
        ("ViewContent", {"Price": 10}, None),
        ("Purchase", {}, None),
        ("Purchase", {"Revenue": "n/a"}, None),
        ("Purchase", {"Revenue": True}, None),
        ("Purchase", {"Revenue": "NaN"}, None),
    ],
)
def test_event_value_sources(event_type, properties, expected):
    assert event_value(event_type, properties) == expected


def test_line_items_ignores_junk():
    assert line_items({"Items": [{"SKU": "a"}, "x", None]}) == [{"SKU": "a"}]
    assert line_items({"Items": "nope"}) == []
    assert line_items({}) == []
