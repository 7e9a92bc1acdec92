"""Findings 3, 4 and 13: what one event body may carry, what it may do to a profile, what is forwarded."""

from __future__ import annotations

import json
import re
import uuid

import pytest

from destinations.services.outbound import outbound_event
from events.models import Event, Identification
from identity.models import Profile
from tests.factories import EventFactory, MerchantFactory
from tests.returns.conftest import fixture_bytes
from tests.security.conftest import post_batch, post_event

pytestmark = pytest.mark.django_db
ATTACK = pytest.mark.xfail(strict=True, reason="issue 14: the attack still works before its fix")

JANE = "jane.doe@acme-outdoors.co"  # example.com is a placeholder domain identity ignores


@pytest.fixture
def ingest(client, merchant, no_rate_limits, django_capture_on_commit_callbacks):
    """POST one event, processing it inline (identity resolution, then delivery scheduling)."""

    def post(**fields):
        with django_capture_on_commit_callbacks(execute=True):
            return post_event(client, merchant.write_key, **fields)

    return post


# --- 3. unbounded traits and properties ----------------------------------------------------------


def test_traits_an_event_with_thousands_of_trait_keys_is_refused_with_a_clear_error(ingest):
    response = ingest(type="Identify", traits={f"t{i}": "x" for i in range(90_000 // 100)})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_many_traits"
    assert not Event.objects.exists()


def test_traits_and_properties_are_capped_in_bytes_per_event(ingest):
    big = "x" * 8000
    response = ingest(type="ViewContent", properties={f"p{i}": big for i in range(20)})
    assert response.status_code == 400 and response.json()["error"]["code"] == "properties_too_large"
    response = ingest(type="Identify", traits={f"t{i}": big for i in range(5)})
    assert response.status_code == 400 and response.json()["error"]["code"] == "traits_too_large"


def test_traits_a_profile_stops_growing_at_its_cap(ingest):
    for round_ in range(6):
        traits = {f"custom_{round_}_{i}": "value" for i in range(40)}
        assert ingest(type="Identify", anonymous_id="anon-flood", traits=traits).status_code == 202
    profile = Profile.objects.get()
    assert len(profile.traits) <= 100  # identity.policy.PROFILE_MAX_TRAIT_KEYS
    assert len(json.dumps(profile.traits)) <= 16 * 1024  # PROFILE_MAX_TRAIT_BYTES
    assert profile.traits["custom_0_0"] == "value"  # the first ones kept, the flood dropped


def test_traits_from_the_browser_never_overwrite_a_verified_return(ingest, post_loop, merchant):
    body = re.sub(rb"(?i)jane\.doe@example\.com", JANE.encode(), fixture_bytes("return_created.json"))
    assert post_loop(body).status_code == 200
    later = "2026-11-30T10:00:00Z"  # after the return: "newest wins" alone would take the browser's name
    response = ingest(type="Identify", timestamp=later, identifiers={"email": JANE}, traits={"first_name": "Mallory"})
    assert response.status_code == 202
    profile = Profile.objects.get(merchant=merchant, email=JANE)
    assert profile.traits["first_name"] == "Jane"


def test_traits_only_standard_and_merchant_enabled_custom_traits_are_forwarded(merchant):
    merchant.forwarded_traits = ["loyalty_tier"]
    merchant.save()
    event = EventFactory(
        merchant=merchant,
        identifiers={"email": JANE},
        traits={"first_name": "Jane", "loyalty_tier": "gold", "junk_1": "x" * 100, "junk_2": "y"},
    )
    person = outbound_event(event).person
    assert person.first_name == "Jane"
    assert person.properties == {"loyalty_tier": "gold"}


# --- 4. dangerous URLs and markup ----------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"properties": {"ImageURL": "javascript:alert(document.cookie)"}},
        {"properties": {"CheckoutURL": "data:text/html;base64,PHNjcmlwdD4="}},
        {"properties": {"Items": [{"ProductName": "Hat", "ImageURL": " JavaScript:alert(1)"}]}},
        {"context": {"url": "javascript:fetch('//evil.example')"}},
        {"properties": {"ProductURL": "vbscript:msgbox(1)"}},
    ],
)
def test_urls_that_are_not_http_are_refused_at_ingest(ingest, fields):
    response = ingest(type="ViewContent", **fields)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unsafe_url"
    assert not Event.objects.exists()


def test_urls_http_https_and_protocol_relative_are_accepted(ingest):
    props = {"ImageURL": "//cdn.shopify.com/s/files/hat.jpg", "CheckoutURL": "https://acme.com/checkouts/c/1"}
    assert ingest(type="ViewContent", properties=props, context={"url": "http://acme.com/p/1"}).status_code == 202
    event = Event.objects.get()
    assert event.properties["ImageURL"] == "https://cdn.shopify.com/s/files/hat.jpg"
    assert event.properties["CheckoutURL"] == "https://acme.com/checkouts/c/1"


@pytest.mark.parametrize(
    "fields",
    [
        {"traits": {"first_name": "<img src=x onerror=alert(1)>"}},
        {"traits": {"city": "</td><script>alert(1)</script>"}},
        {"identifiers": {"email": "<b>ceo</b>@example.com"}},
    ],
)
def test_markup_in_identity_fields_is_refused(ingest, fields):
    response = ingest(type="Identify", **fields)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "markup_in_identity"


def test_urls_unsafe_values_stored_by_any_source_never_reach_a_destination(merchant):
    event = EventFactory(
        merchant=merchant,
        identifiers={"email": JANE},
        properties={"ImageURL": "javascript:alert(1)", "Items": [{"ImageURL": "data:x"}], "Name": "Hat"},
        context={"url": "javascript:alert(2)"},
    )
    outbound = outbound_event(event)
    assert outbound.properties == {"Items": [{}], "Name": "Hat"}
    assert "url" not in outbound.context


# --- 13. profiles per merchant --------------------------------------------------------------------


def test_profiles_a_flood_of_new_anonymous_ids_is_capped_with_an_alert_and_no_event_lost(
    client, merchant, settings, no_rate_limits, django_capture_on_commit_callbacks
):
    from events.models import MerchantAlert

    settings.IDENTITY_MAX_NEW_PROFILES_PER_HOUR = 10
    events = [{"event_id": uuid.uuid4().hex, "type": "PageView", "anonymous_id": f"bot-{i}"} for i in range(50)]
    with django_capture_on_commit_callbacks(execute=True):
        assert post_batch(client, merchant.write_key, events).json()["accepted"] == 50
    assert Profile.objects.filter(merchant=merchant).count() == 10
    stored = Event.objects.filter(merchant=merchant)
    assert stored.count() == 50 and not stored.filter(processed_at__isnull=True).exists()
    assert stored.filter(profile__isnull=True, identification=Identification.ANONYMOUS).count() == 40
    [alert] = MerchantAlert.objects.filter(merchant=merchant, kind="profile_ceiling")
    assert alert.count == 40
    # a shopper who gives an email during the flood still gets a profile (the cap is for anonymous ones)
    with django_capture_on_commit_callbacks(execute=True):
        post_event(client, merchant.write_key, type="Identify", anonymous_id="real", identifiers={"email": JANE})
    assert Profile.objects.filter(merchant=merchant, email=JANE).exists()


def test_profiles_the_ceiling_is_per_merchant(client, settings, no_rate_limits, django_capture_on_commit_callbacks):
    settings.IDENTITY_MAX_NEW_PROFILES_PER_HOUR = 3
    flooded, other = MerchantFactory(), MerchantFactory()
    with django_capture_on_commit_callbacks(execute=True):
        post_batch(
            client,
            flooded.write_key,
            [{"event_id": f"e{i}", "type": "PageView", "anonymous_id": f"b{i}"} for i in range(5)],
        )
        post_batch(
            client,
            other.write_key,
            [{"event_id": f"e{i}", "type": "PageView", "anonymous_id": f"o{i}"} for i in range(3)],
        )
    assert Profile.objects.filter(merchant=flooded).count() == 3
    assert Profile.objects.filter(merchant=other).count() == 3


def test_traits_a_browser_cannot_set_the_primary_email_through_a_dollar_trait(ingest):
    response = ingest(type="Identify", anonymous_id="anon-1", traits={"$email": "victim@example.com"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "reserved_trait"
    assert not Profile.objects.filter(email="victim@example.com").exists()
