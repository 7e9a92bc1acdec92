from datetime import UTC, datetime
from decimal import Decimal

import pytest

from returns import mapping
from returns.mapping import Metric
from tests.returns.conftest import fixture_json

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("trigger", "state", "expected"),
    [
        ("return.created", "open", [Metric("Return Created", "loop:1673:return.created")]),
        ("return.updated", "open", [Metric("Return Updated", "loop:1673:return.updated:open")]),
        ("return.updated", "review", [Metric("Return Updated", "loop:1673:return.updated:review")]),
        ("return.updated", "cancelled", [Metric("Return Cancelled", "loop:1673:return.updated:cancelled")]),
        ("return.updated", "expired", [Metric("Return Expired", "loop:1673:return.updated:expired")]),
        ("return.updated", "canceled", [Metric("Return Cancelled", "loop:1673:return.updated:canceled")]),
        ("return.updated", "", [Metric("Return Updated", "loop:1673:return.updated:unknown")]),
        ("return.closed", "closed", [Metric("Return Closed", "loop:1673:return.closed")]),
        ("giftcard.requested", "", [Metric("Return Gift Card Requested", "loop:1673:giftcard.requested")]),
        ("restock.requested", "", []),
        ("shipment.processed", "", []),
        ("", "", []),
    ],
)
def test_metrics_for_return_triggers(trigger, state, expected):
    assert mapping.metrics_for(trigger, return_id="1673", state=state) == expected


def test_metrics_for_label_created_and_updated():
    label = {"tracking_number": "9400", "label_status": "in_transit"}
    assert mapping.metrics_for("label.created", return_id="7", label=label) == [
        Metric("Return Label Created", "loop:7:label.created:9400")
    ]
    assert mapping.metrics_for("label.updated", return_id="7", label=label) == [
        Metric("Return Label Updated", "loop:7:label.updated:9400:in_transit")
    ]


def test_metrics_for_label_delivered_adds_return_delivered():
    label = {"tracking_number": "9400", "label_status": "Delivered"}
    assert mapping.metrics_for("label.updated", return_id="7", label=label) == [
        Metric("Return Label Updated", "loop:7:label.updated:9400:delivered"),
        Metric("Return Delivered", "loop:7:delivered:9400"),
    ]


def test_stable_event_id_fits_the_column_and_stays_stable():
    long = "x" * 200
    first = mapping.stable_event_id("1", "label.updated", long)
    assert len(first) <= 128
    assert first == mapping.stable_event_id("1", "label.updated", long)
    assert first != mapping.stable_event_id("1", "label.updated", long + "y")


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"topic": "return", "trigger": "return.created"}, "return.created"),
        ({"topic": "return", "trigger": "created"}, "return.created"),
        ({"topic": "Label", "trigger": "Label.Updated"}, "label.updated"),
        ({"topic": "return"}, ""),
        ({}, ""),
    ],
)
def test_trigger_of_accepts_short_and_full_forms(payload, expected):
    assert mapping.trigger_of(payload) == expected


@pytest.mark.parametrize(
    ("refund", "exchange", "gift", "expected"),
    [
        ("64.50", "54.00", "0", "refund + exchange"),
        ("10", None, None, "refund"),
        ("0.00", "40", None, "exchange"),
        (None, None, "25", "store credit"),
        ("5", "5", "5", "refund + exchange + store credit"),
        ("0", "0", "0", "none"),
    ],
)
def test_outcome_of_derives_from_totals(refund, exchange, gift, expected):
    money = [None if v is None else Decimal(v) for v in (refund, exchange, gift)]
    assert mapping.outcome_of(refund=money[0], exchange=money[1], gift_card=money[2]) == expected


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("open", ["return.created"]),
        ("review", ["return.created"]),
        ("closed", ["return.created", "return.closed"]),
        ("cancelled", ["return.created", "return.updated"]),
        ("expired", ["return.created", "return.updated"]),
    ],
)
def test_backfill_triggers_follow_the_state(state, expected):
    assert mapping.backfill_triggers(state) == expected


def test_customer_of_reads_detail_and_address():
    identifiers, traits = mapping.customer_of(fixture_json("return_created.json"))
    assert identifiers == {"email": "jane.doe@example.com"}
    assert traits == {
        "first_name": "Jane",
        "last_name": "Doe",
        "city": "Portland",
        "region": "OR",
        "country": "US",
        "zip": "97205",
    }


def test_customer_of_gift_return_ignores_the_recipient_address():
    ret = fixture_json("return_created.json") | {"is_gift_return": True}
    _, traits = mapping.customer_of(ret)
    assert traits == {"first_name": "Jane", "last_name": "Doe"}


def test_customer_of_takes_customer_id_and_plain_email_field():
    identifiers, traits = mapping.customer_of(
        {"customer": "Ann@Example.com", "customer_detail": {"provider_customer_id": 7712, "first_name": "Ann"}}
    )
    assert identifiers == {"email": "ann@example.com", "shopify_customer_id": "7712"}
    assert traits == {"first_name": "Ann"}


def test_return_properties_from_string_money_payload():
    props = mapping.return_properties(fixture_json("return_created.json"))
    assert props == {**fixture_json("return_created.properties.json"), "$value": 64.5}


def test_return_properties_number_money_matches_string_money():
    as_strings = mapping.return_properties(fixture_json("return_created.json"))
    as_numbers = mapping.return_properties(fixture_json("return_updated_cancelled.json"))
    for key in ("RefundTotal", "ExchangeTotal", "ReturnID", "ShopifyOrderID", "ItemNames", "SKUs", "$value"):
        assert as_numbers[key] == as_strings[key], key
    assert as_numbers["GiftCardTotal"] == 0
    assert [i["Price"] for i in as_numbers["Items"]] == [54, 64.5]


def test_return_properties_thousands_separator_and_label_from_return():
    props = mapping.return_properties(fixture_json("return_closed.json"))
    assert props["GiftCardTotal"] == 1234
    assert props["Outcome"] == "store credit"
    assert props["$value"] == 0
    assert (props["Carrier"], props["TrackingNumber"], props["LabelStatus"]) == (
        "UPS",
        "1Z999AA10123456784",
        "delivered",
    )
    assert props["LabelURL"] == "https://easypost-files.s3.amazonaws.com/files/postage_label/2044.pdf"
    assert props["Items"][0]["ParentReason"] == ""


def test_return_properties_take_variant_and_image_from_the_orders_line_items():
    """The order's own Purchase line item wins over Loop's copy; Loop's image fills what it lacks."""
    order_items = {
        ("variant", "41000000002"): {
            "ProductName": "Logo Cap",
            "VariantName": "Navy / OS",
            "ImageURL": "https://cdn/cap.jpg",
        },
        ("sku", "TEE-BLK-M"): {"ProductName": "Classic Tee", "VariantName": "Black / M"},
    }
    props = mapping.return_properties(fixture_json("return_created.json"), order_items=order_items)
    tee, cap = props["Items"]
    assert (cap["ImageURL"], cap["VariantTitle"], cap["ProductName"]) == (
        "https://cdn/cap.jpg",
        "Navy / OS",
        "Logo Cap",
    )
    assert tee["ImageURL"] == "https://cdn.shopify.com/s/files/1/tee-black.jpg"  # the order had none: Loop's
    assert props["VariantTitles"] == ["Black / M", "Navy / OS"]
    assert props["ImageURLs"] == ["https://cdn.shopify.com/s/files/1/tee-black.jpg", "https://cdn/cap.jpg"]


@pytest.mark.parametrize(
    ("title", "variant", "expected"),
    [
        ("Classic Tee - Black / M", "Black / M", ("Classic Tee", "Black / M")),  # variant known: suffix dropped
        ("Classic Tee - Black / M", "", ("Classic Tee", "Black / M")),  # options joined by " / ": a variant
        ("Logo Cap - Navy", "Navy", ("Logo Cap", "Navy")),
        ("T-Shirt - Organic", "", ("T-Shirt - Organic", "")),  # no variant signal: not split
        ("Logo Cap", "Navy", ("Logo Cap", "Navy")),
        (" - Black / M", "", (" - Black / M", "")),
        ("Black / M", "Black / M", ("Black / M", "Black / M")),
    ],
)
def test_split_title_separates_loops_product_variant_titles(title, variant, expected):
    assert mapping.split_title(title, variant) == expected


def test_return_properties_split_a_combined_loop_title_with_the_orders_variant():
    ret = fixture_json("return_created.json")
    ret["line_items"][0] |= {"title": "Classic Tee - Black / M", "variant_title": None}
    order_items = {("variant", "41000000001"): {"VariantName": "Black / M"}}
    item = mapping.return_properties(ret, order_items=order_items)["Items"][0]
    assert (item["ProductName"], item["VariantTitle"]) == ("Classic Tee", "Black / M")


def test_return_properties_carry_what_loops_own_klaviyo_integration_sends():
    """help.loopreturns.com "Klaviyo Integration: Events & Payloads": return_reason_parents,
    tracking_url, return_destination, labels_enabled, keep_item, return_by."""
    ret = fixture_json("return_created.json") | {
        "labels": [{"carrier": "USPS", "tracking_number": "9400 111", "status": "new", "url": "https://l/1.pdf"}],
        "destination": {
            "name": "Acme Returns",
            "address1": "1 Dock Rd",
            "city": "Reno",
            "state": "NV",
            "zip": "89501",
            "country": "United States",
            "country_code": "US",
        },
        "keep_item": False,
        "return_by": "2026-12-01T00:00:00Z",
    }
    props = mapping.return_properties(ret)
    assert props["ParentReturnReasons"] == ["Size", "Quality"]
    assert props["TrackingURL"] == "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400%20111"
    assert props["ReturnDestination"] == {
        "name": "Acme Returns",
        "street_address": "1 Dock Rd",
        "city": "Reno",
        "state": "NV",
        "zip": "89501",
        "country": "United States",
        "country_code": "US",
    }
    assert (props["LabelsEnabled"], props["KeepItem"], props["ReturnBy"]) == (True, False, "2026-12-01")


def test_return_properties_flags_left_out_when_unknown_and_return_by_defaults_to_28_days():
    props = mapping.return_properties(fixture_json("return_created.json"))  # no labels yet, no flags
    assert "LabelsEnabled" not in props and "KeepItem" not in props and "ReturnDestination" not in props
    assert props["ReturnBy"] == "2026-11-30"  # created 2026-11-02 + 28 days
    kept = fixture_json("return_created.json")
    kept["line_items"][1]["keep_item"] = True
    assert mapping.return_properties(kept)["KeepItem"] is True
    label = {"carrier": "FedEx", "tracking_number": "77", "tracking_url": "https://track/77"}
    assert (
        mapping.return_properties(fixture_json("return_created.json"), label=label)["TrackingURL"] == "https://track/77"
    )
    assert mapping.return_properties(fixture_json("return_created.json"), label=label)["LabelsEnabled"] is True
    assert mapping.tracking_url("Pigeon Post", "1") == ""


def test_build_events_return_created():
    ret = fixture_json("return_created.json")
    [event] = mapping.build_events("return.created", payload=ret, ret=ret, fallback_time=NOW)
    assert event.event_id == "loop:1673:return.created"
    assert event.type == "Return Created"
    assert event.source == "returns"
    assert event.anonymous_id == ""
    assert event.timestamp == datetime(2026, 11, 2, 14, 3, 11, tzinfo=UTC)
    assert event.identifiers == {"email": "jane.doe@example.com"}
    assert event.traits["first_name"] == "Jane"
    assert event.properties["$value"] == 64.5
    assert event.properties["Currency"] == "USD"
    assert event.raw == {"loop_trigger": "return.created", "loop_return_id": "1673"}


def test_build_events_cancelled_uses_edit_time():
    ret = fixture_json("return_updated_cancelled.json")
    [event] = mapping.build_events("return.updated", payload=ret, ret=ret, fallback_time=NOW)
    assert (event.type, event.event_id) == ("Return Cancelled", "loop:1673:return.updated:cancelled")
    assert event.timestamp == datetime(2026, 11, 3, 9, 30, tzinfo=UTC)


def test_build_events_label_joins_the_stored_return():
    ret = fixture_json("return_created.json")
    label = fixture_json("label_updated_delivered.json")
    events = mapping.build_events("label.updated", payload=label, ret=ret, fallback_time=NOW)
    assert [e.type for e in events] == ["Return Label Updated", "Return Delivered"]
    assert {e.timestamp for e in events} == {datetime(2026, 11, 6, 18, 20, tzinfo=UTC)}
    assert events[0].identifiers == {"email": "jane.doe@example.com"}
    props = events[0].properties
    assert (props["Carrier"], props["TrackingNumber"], props["LabelStatus"]) == (
        "USPS",
        "9400111899223197428490",
        "delivered",
    )
    assert props["ReturnID"] == "1673"


def test_build_events_giftcard_without_stored_return_uses_its_own_customer():
    gift = fixture_json("giftcard_requested.json")
    [event] = mapping.build_events("giftcard.requested", payload=gift, ret={}, fallback_time=NOW)
    assert event.event_id == "loop:2044:giftcard.requested"
    assert event.identifiers == {"email": "sam@example.org"}
    assert event.traits == {"first_name": "Sam", "last_name": "Lee"}
    assert event.timestamp == NOW
    assert (event.properties["$value"], event.properties["GiftCardTotal"], event.properties["Currency"]) == (
        23.5,
        23.5,
        "USD",
    )
    assert event.properties["ReturnID"] == "2044"


def test_build_events_restock_and_unknown_produce_nothing():
    assert mapping.build_events("restock.requested", payload={}, ret={}, fallback_time=NOW) == []
    assert mapping.build_events("shipment.processed", payload={}, ret={}, fallback_time=NOW) == []
