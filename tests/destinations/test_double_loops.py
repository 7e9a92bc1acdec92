"""The Loops double against the documented behaviours it cites (tests/fakes/loops.py)."""

from __future__ import annotations

import pytest
import requests
import responses

from tests.fakes.core import mount
from tests.fakes.loops import LoopsDouble

BASE = "https://app.loops.so"
HEADERS = {"Authorization": "Bearer loops_key"}


@pytest.fixture
def loops():
    double = LoopsDouble()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mount(rsps, double, BASE)
        yield double


def send(body: dict, *, key: str | None = None) -> requests.Response:
    headers = {**HEADERS, **({"Idempotency-Key": key} if key else {})}
    return requests.post(f"{BASE}/api/v1/events/send", json=body, headers=headers, timeout=5)


def test_loops_double_event_creates_subscribed_contact_and_starts_workflow(loops):
    # "If a contact is not found ... a new contact will be created" (loops.so/docs/events);
    # "All new contacts are subscribed by default" (spec)
    loops.add_workflow("Thank you", event="Placed Order")
    assert send({"email": "a@example.com", "eventName": "Placed Order"}).status_code == 200
    contact = loops.contact(email="a@example.com")
    assert contact.subscribed and contact.created_by == "events/send"
    assert loops.emailed() == [("Thank you", "a@example.com")]


def test_loops_double_contact_can_be_created_unsubscribed(loops):
    send({"email": "a@example.com", "eventName": "Placed Order", "subscribed": False})
    assert loops.contact(email="a@example.com").subscribed is False


def test_loops_double_user_id_updates_the_contact_found_by_email(loops):
    # "If a contact is found for one of the values (e.g. email), the other value (e.g. userId)
    # will be updated" (spec, sendEvent)
    loops.seed_contact("a@example.com")
    send({"email": "a@example.com", "userId": "cust-7", "eventName": "x"})
    assert loops.contact(user_id="cust-7").email == "a@example.com"
    assert send({"userId": "cust-7", "eventName": "y"}).status_code == 200
    unknown = send({"userId": "cust-unknown", "eventName": "y"})  # no email: cannot create
    assert unknown.status_code == 400 and unknown.json()["message"] == "Contact not found."
    assert send({"eventName": "y"}).status_code == 400  # "Provide either an email or userId"
    assert len(loops.contacts) == 1


def test_loops_double_custom_contact_property_must_exist_first(loops):
    # "Make sure to create the properties in Loops before using them in API calls" (spec)
    response = send({"email": "a@example.com", "eventName": "x", "shopifyTags": "vip"})
    assert response.status_code == 400 and not loops.contacts
    create = requests.post(
        f"{BASE}/api/v1/contacts/properties", json={"name": "shopifyTags", "type": "string"}, headers=HEADERS, timeout=5
    )
    assert create.status_code == 200
    again = requests.post(
        f"{BASE}/api/v1/contacts/properties", json={"name": "shopifyTags", "type": "string"}, headers=HEADERS, timeout=5
    )
    assert again.json() == {"success": False, "message": "Property already exists."}
    assert send({"email": "a@example.com", "eventName": "x", "shopifyTags": "vip"}).status_code == 200
    assert loops.contact(email="a@example.com").properties == {"shopifyTags": "vip"}


def test_loops_double_strings_longer_than_500_are_rejected(loops):
    # "Most text fields on a contact, event, or transactional email accept up to 500 characters"
    long = send({"email": "a@example.com", "eventName": "x", "eventProperties": {"note": "x" * 501}})
    assert long.status_code == 400
    ok = send({"email": "a@example.com", "eventName": "x", "eventProperties": {"note": "x" * 500}})
    assert ok.status_code == 200


def test_loops_double_reused_idempotency_key_is_409_within_24_hours(loops):
    # "This endpoint will return a 409 Conflict response if the idempotency key has been used in
    # the previous 24 hours" (spec)
    now = [1_000_000.0]
    loops.clock = lambda: now[0]
    assert send({"email": "a@example.com", "eventName": "x"}, key="k1").status_code == 200
    assert send({"email": "a@example.com", "eventName": "x"}, key="k1").status_code == 409
    now[0] += 24 * 3600 + 1
    assert send({"email": "a@example.com", "eventName": "x"}, key="k1").status_code == 200
    assert len(loops.workflow_runs) == 2


def test_loops_double_find_contact_by_email_or_user_id(loops):
    loops.seed_contact("a@example.com")
    found = requests.get(f"{BASE}/api/v1/contacts/find", params={"email": "a@example.com"}, headers=HEADERS, timeout=5)
    assert [c["email"] for c in found.json()] == ["a@example.com"]
    none = requests.get(f"{BASE}/api/v1/contacts/find", params={"userId": "nope"}, headers=HEADERS, timeout=5)
    assert none.json() == []


def test_loops_double_wrong_key_is_401(loops):
    loops.revoked = True
    assert send({"email": "a@example.com", "eventName": "x"}).status_code == 401
