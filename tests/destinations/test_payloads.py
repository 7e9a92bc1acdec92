"""Payload builders: exact shapes, and every body kind validated against the platform spec."""

from __future__ import annotations

import dataclasses

import jsonschema
import pytest

from destinations.clients.base import ClientConfig, OutboundEvent, Person
from destinations.clients.klaviyo import (
    bulk_job_body,
    event_bodies,
    list_add_body,
    profile_import_body,
    subscription_job_body,
)
from destinations.clients.loops import contact_update_body, event_body, flat_properties
from tests.destinations.conftest import PURCHASE_PROPERTIES, T0
from tests.destinations.contract import KLAVIYO, LOOPS, validate_loops_contact_update, validate_request

ANN = Person(
    email="ann@example.com",
    phone="+33612345678",
    anonymous_id="anon-1",
    kx="kx-abc",
    first_name="Ann",
    last_name="Lee",
    city="Lyon",
    region="ARA",
    country="FR",
    zip="69001",
    properties={"vip": True},
    profile_id=1,
)
CONFIG = ClientConfig(api_key="k", base_url="https://a.klaviyo.com", metric_suffix=" - R", revision="2026-07-15")


def outbound(event_type="Purchase", properties=None, person=ANN, **kw) -> OutboundEvent:
    return OutboundEvent(
        event_id="evt-1",
        type=event_type,
        source=kw.pop("source", "pixel"),
        timestamp=T0,
        person=person,
        properties=PURCHASE_PROPERTIES if properties is None else properties,
        context=kw.pop("context", {"url": "https://shop/x", "utm": {"source": "ig", "campaign": "bf"}}),
    )


def test_klaviyo_placed_order_body_exact():
    body = event_bodies(outbound(), CONFIG)[0]
    props = {k: v for k, v in PURCHASE_PROPERTIES.items()}
    assert body == {
        "data": {
            "type": "event",
            "attributes": {
                "properties": {
                    **props,
                    "ItemNames": ["Mug", "Tee"],
                    "utm_source": "ig",
                    "utm_campaign": "bf",
                    "$url": "https://shop/x",
                    "$event_id": "evt-1",
                },
                "time": "2026-11-20T12:00:00.000Z",
                "unique_id": "1001",  # changed by issue 13: the order id (was the event id)
                "value": 59.5,
                "value_currency": "EUR",
                "metric": {"data": {"type": "metric", "attributes": {"name": "Placed Order - R"}}},
                "profile": {
                    "data": {
                        "type": "profile",
                        "attributes": {
                            "email": "ann@example.com",
                            "phone_number": "+33612345678",
                            "anonymous_id": "anon-1",
                            "_kx": "kx-abc",
                            "first_name": "Ann",
                            "last_name": "Lee",
                            "location": {"city": "Lyon", "region": "ARA", "country": "FR", "zip": "69001"},
                            "properties": {"vip": True},
                        },
                    }
                },
            },
        }
    }


def test_klaviyo_ordered_product_per_line_item_with_stable_unique_id():
    bodies = event_bodies(outbound(), CONFIG)
    assert len(bodies) == 3
    items = [b["data"]["attributes"] for b in bodies[1:]]
    assert [a["unique_id"] for a in items] == ["1001:li-1", "1001:li-2"]
    assert [a["metric"]["data"]["attributes"]["name"] for a in items] == ["Ordered Product - R"] * 2
    assert [a["value"] for a in items] == [25.0, 34.5]
    assert items[0]["properties"]["OrderID"] == "1001" and items[0]["properties"]["SKU"] == "MUG-1"
    assert event_bodies(outbound(), CONFIG) == bodies  # deterministic: a re-send carries the same ids


def test_klaviyo_update_only_sends_identifiers_only_in_event_profile():
    config = ClientConfig(api_key="k", base_url="x", profile_sync="update_only")
    attrs = event_bodies(outbound("ViewContent", {"ProductName": "Mug"}), config)[0]["data"]["attributes"]
    assert attrs["profile"]["data"]["attributes"] == {
        "email": "ann@example.com",
        "phone_number": "+33612345678",
        "anonymous_id": "anon-1",
        "_kx": "kx-abc",
    }
    assert "value" not in attrs


def test_klaviyo_return_event_uses_dollar_value():
    props = {"$value": 42.5, "Currency": "USD", "ReturnID": "r-1"}
    attrs = event_bodies(outbound("Return Created", props, source="returns"), CONFIG)[0]["data"]["attributes"]
    assert attrs["value"] == 42.5 and attrs["value_currency"] == "USD"
    assert "$value" not in attrs["properties"]
    assert attrs["metric"]["data"]["attributes"]["name"] == "Return Created - R"


def test_klaviyo_profile_import_and_list_bodies():
    assert profile_import_body(ANN) == {
        "data": {
            "type": "profile",
            "attributes": {
                "email": "ann@example.com",
                "phone_number": "+33612345678",
                "_kx": "kx-abc",
                "first_name": "Ann",
                "last_name": "Lee",
                "location": {"city": "Lyon", "region": "ARA", "country": "FR", "zip": "69001"},
                "properties": {"vip": True},
            },
        }
    }
    assert profile_import_body(ANN, profile_id="01H")["data"]["id"] == "01H"
    assert list_add_body("01H") == {"data": [{"type": "profile", "id": "01H"}]}


def test_klaviyo_bulk_job_groups_events_by_person():
    bob = Person(email="bob@example.com", profile_id=2)
    events = [outbound("ViewContent", {"ProductName": "Mug"}), outbound("AddToCart", {"Price": 3}, person=bob)]
    body = bulk_job_body([*events, outbound()], CONFIG)
    entries = body["data"]["attributes"]["events-bulk-create"]["data"]
    assert body["data"]["type"] == "event-bulk-create-job"
    assert [e["attributes"]["profile"]["data"]["attributes"]["email"] for e in entries] == [
        "ann@example.com",
        "bob@example.com",
    ]
    assert len(entries[0]["attributes"]["events"]["data"]) == 4  # view + order + 2 ordered products
    assert all("profile" not in e["attributes"] for e in entries[0]["attributes"]["events"]["data"])


def test_loops_event_body_flat_with_contact_properties():
    body = event_body(outbound(), name="Placed Order", with_contact=True)
    assert body == {
        "email": "ann@example.com",
        "eventName": "Placed Order",
        "eventProperties": {
            "OrderID": "1001",
            "Revenue": 59.5,
            "Currency": "EUR",
            "ItemNames": "Mug, Tee",
            "ItemSKUs": "MUG-1, TEE-1",
            "ItemCount": 2,
            "eventId": "evt-1",
        },
        "firstName": "Ann",
        "lastName": "Lee",
        "vip": True,
    }
    assert "firstName" not in event_body(outbound(), name="x", with_contact=False)


def test_loops_flat_properties_only_scalars():
    flat = flat_properties({"$value": 5, "Tags": ["a", 1, {"x": 1}], "Meta": {"a": 1, "b": [1]}, "None": None})
    assert flat == {"value": 5, "Tags": "a, 1", "Meta_a": 1}


def test_loops_contact_update_body():
    """Issue 15: the mailing list (and subscribed) only with a consent; before, every contact was listed."""
    assert contact_update_body(ANN, list_id="cl1") == {
        "email": "ann@example.com",
        "firstName": "Ann",
        "lastName": "Lee",
        "vip": True,
    }
    consented = dataclasses.replace(ANN, subscribe_email=True)
    assert contact_update_body(consented, list_id="cl1") == {
        "email": "ann@example.com",
        "firstName": "Ann",
        "lastName": "Lee",
        "vip": True,
        "subscribed": True,
        "mailingLists": {"cl1": True},
    }


def test_klaviyo_subscription_job_body_matches_the_spec_and_subscribes_only_what_was_consented():
    person = dataclasses.replace(ANN, phone="+15035550100", subscribe_email=True, subscribe_sms=False)
    body = subscription_job_body(person, list_id="LIST1")
    attributes = body["data"]["attributes"]["profiles"]["data"][0]["attributes"]
    assert attributes == {
        "email": "ann@example.com",
        "subscriptions": {"email": {"marketing": {"consent": "SUBSCRIBED"}}},
    }
    assert body["data"]["relationships"] == {"list": {"data": {"type": "list", "id": "LIST1"}}}
    validate_request(KLAVIYO, "/api/profile-subscription-bulk-create-jobs", "post", body)


# --- contract tests: every body kind against the spec -----------------------------------


@pytest.mark.parametrize("event_type", ["ViewContent", "AddToCart", "InitiateCheckout", "Purchase", "Return Created"])
def test_contract_klaviyo_create_event(event_type):
    for body in event_bodies(outbound(event_type), CONFIG):
        validate_request(KLAVIYO, "/api/events", "post", body)


def test_contract_klaviyo_profile_import_list_and_bulk():
    validate_request(KLAVIYO, "/api/profile-import", "post", profile_import_body(ANN, profile_id="01H"))
    validate_request(KLAVIYO, "/api/lists/{id}/relationships/profiles", "post", list_add_body("01H"))
    events = [outbound(), outbound("ViewContent", {"ProductName": "Mug"}, person=Person(kx="kx-1"))]
    validate_request(KLAVIYO, "/api/event-bulk-create-jobs", "post", bulk_job_body(events, CONFIG))


def test_contract_loops_send_event_and_contact_update():
    validate_request(LOOPS, "/v1/events/send", "post", event_body(outbound(), name="Placed Order", with_contact=True))
    validate_loops_contact_update(contact_update_body(ANN, list_id="cl1"))
    validate_request(LOOPS, "/v1/contacts/update", "put", contact_update_body(ANN))


def test_contract_catches_drift():
    body = event_bodies(outbound(), CONFIG)[0]
    del body["data"]["attributes"]["metric"]
    with pytest.raises(jsonschema.ValidationError):
        validate_request(KLAVIYO, "/api/events", "post", body)
    with pytest.raises(jsonschema.ValidationError):
        validate_request(LOOPS, "/v1/events/send", "post", {"eventName": "x", "eventProperties": {}})
    with pytest.raises(jsonschema.ValidationError):  # nested objects are not contact properties
        validate_loops_contact_update({"email": "a@b.c", "address": {"city": "x"}})
