"""Identity resolution end to end through POST /api/v1/events (tasks run inline, Q_SYNC)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from unittest import mock

import orjson
import pytest
import time_machine

import destinations.services
from events.models import Event, Identification
from identity.models import Identifier, Profile

URL = "/api/v1/events"
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def body(type_, at, *, anon="rc-anon-1", **extra):
    return {"event_id": str(uuid.uuid4()), "type": type_, "anonymous_id": anon, "timestamp": at, **extra}


@pytest.fixture
def ingest(client, merchant, django_capture_on_commit_callbacks):
    def post(event):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                URL, data=orjson.dumps(event), content_type="application/json", HTTP_X_WRITE_KEY=merchant.write_key
            )
        assert response.status_code == 202, response.content
        assert response.json()["accepted"] == 1
        return Event.objects.get(merchant=merchant, event_id=event["event_id"])

    return post


@pytest.fixture
def scheduled():
    with mock.patch.object(
        destinations.services, "schedule_deliveries", wraps=destinations.services.schedule_deliveries
    ) as spy:
        yield spy


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_ingest_browse_cart_then_checkout_email_reidentifies_cart_for_delivery(ingest, scheduled):
    browse = ingest(body("ViewContent", "2026-11-20T12:00:00Z", context={"url": "https://shop/p/1"}))
    cart = ingest(body("AddToCart", "2026-11-20T12:05:00Z", properties={"ProductID": "1", "Price": 20}))
    old = ingest(body("PageView", "2026-11-18T09:00:00Z"))  # outside the 24 h look-back
    assert cart.identification == Identification.ANONYMOUS and cart.profile.email == ""
    scheduled.reset_mock()

    checkout = ingest(
        body(
            "InitiateCheckout",
            "2026-11-20T14:00:00Z",
            identifiers={"email": " Shopper@Acme.io "},
            traits={"first_name": "Sam", "city": "Leeds", "region": "ENG"},
        )
    )

    profile = Profile.objects.get()
    assert profile.email == "shopper@acme.io"
    assert profile.traits == {"first_name": "Sam", "city": "Leeds", "region": "ENG"}
    assert checkout.identification == Identification.NATIVE and checkout.profile_id == profile.pk
    reidentified = [c.kwargs for c in scheduled.call_args_list if c.kwargs.get("reidentified")]
    assert len(reidentified) == 1
    assert [e.pk for e in reidentified[0]["events"]] == [browse.pk, cart.pk]
    assert {e.profile.email for e in reidentified[0]["events"]} == {"shopper@acme.io"}
    for event in (browse, cart):
        event.refresh_from_db()
        assert (event.identification, event.resolved_by) == (Identification.RESOLVED, "email")
    old.refresh_from_db()
    assert old.identification == Identification.ANONYMOUS

    scheduled.reset_mock()
    ingest(body("Purchase", "2026-11-20T14:30:00Z", identifiers={"email": "shopper@acme.io"}))
    assert not [c for c in scheduled.call_args_list if c.kwargs.get("reidentified")]  # exactly once


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_ingest_new_device_email_click_with_kx_resolves_to_known_customer(ingest):
    ingest(body("Identify", "2026-11-19T10:00:00Z", anon="laptop", identifiers={"email": "kim@x.io", "kx": "KX9"}))
    phone_view = ingest(body("ViewContent", "2026-11-20T14:00:00Z", anon="phone", identifiers={"kx": "KX9"}))
    assert phone_view.identification == Identification.RESOLVED and phone_view.resolved_by == "kx"
    assert phone_view.profile.email == "kim@x.io"
    assert Identifier.objects.get(type="anonymous_id", value="phone").profile_id == phone_view.profile_id
