"""A Loop return, end to end: webhook -> event -> identity -> delivery, exact Klaviyo / Loops bodies.

The HTTP boundary is mocked with exact URL, header and JSON matchers, and every body is
validated against the platforms' OpenAPI specs (/work/shared/specs).
"""

from __future__ import annotations

import json

import pytest
from responses import matchers

from destinations.models import Delivery, DeliveryStatus, Destination
from tests.destinations.contract import KLAVIYO as KLAVIYO_SPEC
from tests.destinations.contract import LOOPS as LOOPS_SPEC
from tests.destinations.contract import validate_request
from tests.returns.conftest import fixture_bytes, fixture_json

pytestmark = pytest.mark.django_db

KLAVIYO = "https://a.klaviyo.com"
LOOPS = "https://app.loops.so"
KLAVIYO_KEY = "pk_returns_0123456789"
LOOPS_KEY = "loops_returns_0123456789"

# What mapping.return_properties makes of fixtures/return_created.json (less "$value").
RETURN_PROPERTIES = fixture_json("return_created.properties.json")


@pytest.fixture(autouse=True)
def _platform_urls(settings):
    settings.KLAVIYO_API_URL = KLAVIYO
    settings.LOOPS_API_URL = LOOPS


def _destination(merchant, kind: str, key: str, **kwargs) -> Destination:
    return Destination.objects.create(
        merchant=merchant, kind=kind, name=kind, api_key=key, api_key_last4=key[-4:], **kwargs
    )


def klaviyo_return_body(name: str = "Return Created") -> dict:
    return {
        "data": {
            "type": "event",
            "attributes": {
                "properties": {**RETURN_PROPERTIES, "$event_id": "loop:1673:return.created"},
                "time": "2026-11-02T14:03:11.000Z",
                "unique_id": "loop:1673:return.created",
                "value": 64.5,
                "value_currency": "USD",
                "metric": {"data": {"type": "metric", "attributes": {"name": name}}},
                "profile": {
                    "data": {
                        "type": "profile",
                        "attributes": {
                            "email": "jane.doe@example.com",
                            "first_name": "Jane",
                            "last_name": "Doe",
                            "location": {"city": "Portland", "region": "OR", "country": "US", "zip": "97205"},
                        },
                    }
                },
            },
        }
    }


def test_return_created_klaviyo_event_body_exact_and_contract_valid(post_loop, merchant, responses_mock):
    klaviyo = _destination(merchant, "klaviyo", KLAVIYO_KEY, profile_sync="off", metric_suffix=" - Recapture")
    headers = {
        "Authorization": f"Klaviyo-API-Key {KLAVIYO_KEY}",
        "revision": "2026-07-15",
        "accept": "application/vnd.api+json",
        "content-type": "application/vnd.api+json",
    }
    body = klaviyo_return_body("Return Created - Recapture")
    attrs = body["data"]["attributes"]["profile"]["data"]["attributes"]
    for key in ("first_name", "last_name", "location"):
        attrs.pop(key)  # profile sync off: identifiers only
    responses_mock.post(
        f"{KLAVIYO}/api/events",
        status=202,
        match=[matchers.header_matcher(headers), matchers.json_params_matcher(body)],
    )
    assert post_loop(fixture_bytes("return_created.json")).status_code == 200
    _deliver_all()
    delivery = Delivery.objects.get(destination=klaviyo)
    assert delivery.status == DeliveryStatus.SUCCEEDED
    sent = json.loads(responses_mock.calls[-1].request.body)
    validate_request(KLAVIYO_SPEC, "/api/events", "post", sent)


def test_return_created_klaviyo_profile_created_with_names(post_loop, merchant, responses_mock):
    """Profile sync on, no list: the event carries first/last name and location, so Klaviyo creates
    or updates the profile from it (Create Event does); no separate profile-import call."""
    _destination(merchant, "klaviyo", KLAVIYO_KEY)
    responses_mock.post(
        f"{KLAVIYO}/api/events", status=202, match=[matchers.json_params_matcher(klaviyo_return_body())]
    )
    post_loop(fixture_bytes("return_created.json"))
    _deliver_all()
    assert [c.request.url for c in responses_mock.calls] == [f"{KLAVIYO}/api/events"]
    sent = json.loads(responses_mock.calls[0].request.body)["data"]["attributes"]["profile"]["data"]["attributes"]
    assert (sent["first_name"], sent["last_name"], sent["location"]["city"]) == ("Jane", "Doe", "Portland")
    assert Delivery.objects.get().status == DeliveryStatus.SUCCEEDED
    for call in responses_mock.calls:
        path = "/api/" + call.request.url.split("/api/", 1)[1]
        validate_request(KLAVIYO_SPEC, path, "post", json.loads(call.request.body))


def test_return_created_loops_event_body_flat_and_contract_valid(post_loop, merchant, responses_mock):
    loops = _destination(merchant, "loops", LOOPS_KEY, profile_sync="off")
    expected = {
        "email": "jane.doe@example.com",
        "eventName": "Return Created",
        "eventProperties": {
            "ReturnID": "1673",
            "OrderName": "#1042",
            "ShopifyOrderID": "5840219373812",
            "ReturnState": "open",
            "Outcome": "refund + exchange",
            "RefundTotal": 64.5,
            "ExchangeTotal": 54,
            "GiftCardTotal": 0,
            "Currency": "USD",
            "ReturnReasons": "Too small, Arrived damaged",
            "ParentReturnReasons": "Size, Quality",
            "Carrier": "",
            "TrackingNumber": "",
            "TrackingURL": "",
            "LabelStatus": "",
            "LabelURL": "",
            "StatusPageURL": "https://acme.loopreturns.com/#/return/b3e4764e-7adf-4b8c-802a-553305b6db49",
            "ReturnBy": "2026-11-30",
            "IsGiftReturn": False,
            "ItemNames": "Classic Tee, Logo Cap",
            "VariantTitles": "Black / M",
            "ImageURLs": "https://cdn.shopify.com/s/files/1/tee-black.jpg",
            "ItemSKUs": "TEE-BLK-M, CAP-NVY",
            "ItemCount": 2,
            "SKUs": "TEE-BLK-M, CAP-NVY",
            "ExchangeItems": "",
            "ExchangeItemNames": "Classic Tee",
            "value": 64.5,
            "eventId": "loop:1673:return.created",
        },
    }
    delivery_key = None

    def capture(request):
        nonlocal delivery_key
        delivery_key = request.headers["Idempotency-Key"]
        return (200, {}, json.dumps({"success": True}))

    responses_mock.add_callback(
        "POST",
        f"{LOOPS}/api/v1/events/send",
        callback=capture,
        match=[
            matchers.header_matcher({"Authorization": f"Bearer {LOOPS_KEY}", "Content-Type": "application/json"}),
            matchers.json_params_matcher(expected),
        ],
    )
    post_loop(fixture_bytes("return_created.json"))
    _deliver_all()
    delivery = Delivery.objects.get(destination=loops)
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery_key == delivery.idempotency_key
    validate_request(LOOPS_SPEC, "/v1/events/send", "post", expected)


def test_return_not_forwarded_when_forward_returns_off(post_loop, merchant, responses_mock):
    _destination(merchant, "klaviyo", KLAVIYO_KEY, forward_returns=False)
    post_loop(fixture_bytes("return_created.json"))
    _deliver_all()
    assert Delivery.objects.count() == 0
    assert len(responses_mock.calls) == 0


def _deliver_all() -> None:
    from destinations.services import deliver_pending
    from events.models import Event

    deliver_pending(event_ids=list(Event.objects.values_list("id", flat=True)))
