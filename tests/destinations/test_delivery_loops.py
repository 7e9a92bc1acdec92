"""Loops delivery: exact requests, Idempotency-Key, 409 as delivered, held until an email is known."""

from __future__ import annotations

import json

import pytest
from responses import matchers

from destinations.models import Delivery, DeliveryAttempt, DeliveryStatus, ErrorKind
from destinations.services import deliver_pending, schedule_deliveries
from tests.destinations.conftest import LOOPS, LOOPS_KEY, ProfileFactory, make_event
from tests.destinations.contract import LOOPS as LOOPS_SPEC
from tests.destinations.contract import validate_loops_contact_update, validate_request

AUTH = {"Authorization": f"Bearer {LOOPS_KEY}"}
SEND_URL = f"{LOOPS}/api/v1/events/send"


def added_body(email="ann@example.com", event_id="evt-1"):
    return {
        "email": email,
        "eventName": "Added to Cart",
        # CartValue added by issue 13: Added to Cart carries the cart total (here: the one line)
        "eventProperties": {"ProductName": "Mug", "Price": 12.5, "eventId": event_id, "CartValue": 12.5},
    }


def schedule_one(merchant, destination, *, profile=None, **kwargs):
    event = make_event(
        merchant, profile=profile, type="AddToCart", properties={"ProductName": "Mug", "Price": 12.5}, **kwargs
    )
    schedule_deliveries(events=[event])
    return Delivery.objects.get(event=event, destination=destination)


def test_deliver_loops_event_exact_request_with_idempotency_key(mocked, merchant, loops):
    loops.profile_sync = "off"
    loops.save()
    delivery = schedule_one(merchant, loops, profile=ProfileFactory(merchant=merchant, email="ann@example.com"))
    headers = {**AUTH, "Content-Type": "application/json", "Idempotency-Key": delivery.idempotency_key}
    mocked.post(
        SEND_URL,
        json={"success": True},
        match=[matchers.header_matcher(headers), matchers.json_params_matcher(added_body())],
    )
    assert deliver_pending(event_ids=[delivery.event_id]) == {"succeeded": 1}
    validate_request(LOOPS_SPEC, "/v1/events/send", "post", json.loads(mocked.calls[0].request.body))
    assert len(delivery.idempotency_key) <= 100


def test_deliver_loops_contact_sync_then_event_with_contact_properties(mocked, merchant, loops):
    """With marketing consent the contact is subscribed, to the mailing list too (issue 15)."""
    loops.list_id = "cm_list_1"
    loops.save()
    profile = ProfileFactory(
        merchant=merchant, email="ann@example.com", traits={"first_name": "Ann", "last_name": "Lee"}
    )
    delivery = schedule_one(merchant, loops, profile=profile, context={"consent": {"marketing": True}})
    contact = {
        "email": "ann@example.com",
        "firstName": "Ann",
        "lastName": "Lee",
        "subscribed": True,
        "mailingLists": {"cm_list_1": True},
    }
    mocked.put(
        f"{LOOPS}/api/v1/contacts/update",
        json={"success": True, "id": "c_123"},
        match=[
            matchers.header_matcher({**AUTH, "Content-Type": "application/json"}),
            matchers.json_params_matcher(contact),
        ],
    )
    event = {**added_body(), "firstName": "Ann", "lastName": "Lee"}
    mocked.post(SEND_URL, json={"success": True}, match=[matchers.json_params_matcher(event)])
    assert deliver_pending(event_ids=[delivery.event_id]) == {"succeeded": 1}
    validate_loops_contact_update(json.loads(mocked.calls[0].request.body))
    validate_request(LOOPS_SPEC, "/v1/events/send", "post", json.loads(mocked.calls[1].request.body))


@pytest.mark.parametrize("consent", [{}, {"marketing": False}, {"email_marketing": False, "marketing": True}])
def test_deliver_loops_without_marketing_consent_neither_subscribes_nor_unsubscribes(mocked, merchant, loops, consent):
    """Loops: "We recommend leaving this field [subscribed] out of your update requests unless you
    specifically want to unsubscribe (false) or re-subscribe (true) a contact"."""
    loops.list_id = "cm_list_1"
    loops.save()
    profile = ProfileFactory(merchant=merchant, email="ann@example.com", traits={"first_name": "Ann"})
    delivery = schedule_one(merchant, loops, profile=profile, context={"consent": consent})
    contact = {"email": "ann@example.com", "firstName": "Ann"}
    mocked.put(
        f"{LOOPS}/api/v1/contacts/update",
        json={"success": True, "id": "c_1"},
        match=[matchers.json_params_matcher(contact)],
    )
    mocked.post(SEND_URL, json={"success": True})
    assert deliver_pending(event_ids=[delivery.event_id]) == {"succeeded": 1}
    sent = json.loads(mocked.calls[0].request.body)
    assert "subscribed" not in sent and "mailingLists" not in sent


def test_deliver_loops_update_only_checks_find_first(mocked, merchant, loops):
    loops.profile_sync = "update_only"
    loops.save()
    delivery = schedule_one(merchant, loops, profile=ProfileFactory(merchant=merchant, email="ann@example.com"))
    mocked.get(
        f"{LOOPS}/api/v1/contacts/find",
        json=[],
        match=[matchers.query_param_matcher({"email": "ann@example.com"}), matchers.header_matcher(AUTH)],
    )
    # Changed by issue 13: the event used to be sent anyway, and events/send creates the contact
    # it names. Now a contact Loops does not have gets no event: the delivery is held.
    assert deliver_pending(event_ids=[delivery.event_id]) == {"held": 1}
    assert [c.request.method for c in mocked.calls] == ["GET"]  # no PUT, no events/send


def test_deliver_loops_409_reused_idempotency_key_counts_as_delivered(mocked, merchant, loops):
    loops.profile_sync = "off"
    loops.save()
    delivery = schedule_one(merchant, loops, profile=ProfileFactory(merchant=merchant, email="ann@example.com"))
    mocked.post(
        SEND_URL,
        status=409,
        json={"success": False, "message": "Idempotency key has been used."},
        match=[matchers.header_matcher({"Idempotency-Key": delivery.idempotency_key})],
    )
    assert deliver_pending(event_ids=[delivery.event_id]) == {"succeeded": 1}
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    attempt = DeliveryAttempt.objects.get(delivery=delivery)
    assert (attempt.status_code, attempt.error_kind) == (409, ErrorKind.NONE)  # delivered, not "rejected"


def test_deliver_loops_400_dead_with_platform_message(mocked, merchant, loops):
    loops.profile_sync = "off"
    loops.save()
    delivery = schedule_one(merchant, loops, profile=ProfileFactory(merchant=merchant, email="ann@example.com"))
    mocked.post(SEND_URL, status=400, json={"success": False, "message": "eventName is missing"})
    deliver_pending(event_ids=[delivery.event_id])
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_error) == (DeliveryStatus.DEAD, "HTTP 400: eventName is missing")


def test_deliver_loops_held_without_email_released_on_reidentification(mocked, merchant, loops, klaviyo):
    loops.profile_sync = klaviyo.profile_sync = "off"
    loops.save()
    klaviyo.save()
    profile = ProfileFactory(merchant=merchant, email="")
    event = make_event(
        merchant,
        profile=profile,
        type="AddToCart",
        identifiers={"kx": "kx-1"},
        properties={"ProductName": "Mug", "Price": 12.5},
    )
    schedule_deliveries(events=[event])
    statuses = dict(Delivery.objects.filter(event=event).values_list("destination__kind", "status"))
    assert statuses == {"klaviyo": DeliveryStatus.PENDING, "loops": DeliveryStatus.HELD}  # Klaviyo can use _kx
    mocked.post(f"{LOOPS.replace('app.loops.so', 'a.klaviyo.com')}/api/events", status=202)
    deliver_pending(event_ids=[event.pk])
    assert Delivery.objects.get(event=event, destination=loops).status == DeliveryStatus.HELD
    profile.email = "ann@example.com"
    profile.save()
    event.refresh_from_db()
    schedule_deliveries(events=[event], reidentified=True)
    delivery = Delivery.objects.get(event=event, destination=loops)
    assert delivery.status == DeliveryStatus.PENDING and delivery.reidentified
    mocked.post(
        SEND_URL, json={"success": True}, match=[matchers.json_params_matcher(added_body(event_id=event.event_id))]
    )
    assert deliver_pending(event_ids=[event.pk]) == {"succeeded": 1}
