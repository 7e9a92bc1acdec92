"""Finding 2: a pixel event must not take an id the server makes (a return, an order webhook)."""

from __future__ import annotations

import json

import pytest

from events.models import Event
from tests.events.shopify_payloads import event as shopify_event
from tests.returns.conftest import fixture_bytes
from tests.security.conftest import INGEST, post_event

pytestmark = pytest.mark.django_db
ATTACK = pytest.mark.xfail(strict=True, reason="issue 14: the attack still works before its fix")


@pytest.mark.parametrize("event_id", ["loop:1673:return.created", "LOOP:1673:return.created", " loop:1673:x"])
def test_event_ids_in_a_server_namespace_are_refused_from_the_pixel(client, merchant, no_rate_limits, event_id):
    response = post_event(client, merchant.write_key, event_id=event_id)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "reserved_event_id"
    assert not Event.objects.exists()


def test_event_ids_a_pixel_squatting_a_return_id_does_not_hide_the_signed_return(
    client, merchant, no_rate_limits, post_loop
):
    post_event(client, merchant.write_key, event_id="loop:1673:return.created", type="Return Created")
    assert post_loop(fixture_bytes("return_created.json")).status_code == 200
    event = Event.objects.get(merchant=merchant, event_id="loop:1673:return.created")
    assert event.source == "returns" and event.identifiers == {"email": "jane.doe@example.com"}


def test_event_ids_shopify_web_pixel_ids_are_checked_too(client, merchant, no_rate_limits):
    raw = shopify_event("page_viewed", event_id="loop:1673:return.created")
    response = client.post(
        INGEST, data=json.dumps(raw), content_type="application/json", HTTP_X_WRITE_KEY=merchant.write_key
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "reserved_event_id"
