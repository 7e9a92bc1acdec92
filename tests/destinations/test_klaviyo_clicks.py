"""Klaviyo email clicks (_kx): kept on the profile, sent on later events, resolved to the email.

Klaviyo's Get Profiles takes ``filter=equals(_kx,"…")`` (the filter parameter of GET
/api/profiles in the OpenAPI spec: "`_kx`: `equals`") and needs ``profiles:read``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from responses import matchers

from destinations.clients.klaviyo import KX_LOOKUP_LIMITS
from destinations.platform_limits import bucket_key, take
from destinations.services.exchange import resolve_klaviyo_clicks
from destinations.services.outbound import person_of
from events.models import Event, Identification
from identity.models import Profile
from identity.services import resolve_events
from tests.destinations.conftest import KLAVIYO, KLAVIYO_KEY, DestinationFactory
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db
PROFILES_URL = f"{KLAVIYO}/api/profiles"
HEADERS = {"Authorization": f"Klaviyo-API-Key {KLAVIYO_KEY}", "revision": "2026-07-15"}


@pytest.fixture
def klaviyo(merchant):
    return DestinationFactory(merchant=merchant)


def landing(merchant, *, anon="phone", kx="KXabc123", ago_minutes=0):
    event = EventFactory(
        merchant=merchant,
        anonymous_id=anon,
        type="ViewContent",
        identifiers={"kx": kx} if kx else {},
        timestamp=timezone.now() - timedelta(minutes=ago_minutes),
    )
    resolve_events(events=[event])
    return Event.objects.select_related("profile").get(pk=event.pk)


def expect_lookup(mocked, kx, *, status=200, email="kim@acme.io"):
    body = {"data": [{"type": "profile", "id": "01KIM", "attributes": {"email": email, "phone_number": None}}]}
    mocked.get(
        PROFILES_URL,
        status=status,
        json=body if status == 200 else {"errors": [{"detail": "boom"}]},
        match=[
            matchers.query_param_matcher({"filter": f'equals(_kx,"{kx}")', "fields[profile]": "email,phone_number"}),
            matchers.header_matcher(HEADERS),
        ],
    )


def test_kx_is_kept_on_the_profile_and_sent_on_later_events(merchant):
    landing(merchant, ago_minutes=10)
    cart = landing(merchant, kx="")
    assert cart.profile.klaviyo_kx == "KXabc123"
    assert person_of(cart).kx == "KXabc123"  # Klaviyo attaches the cart to the clicker


def test_resolve_klaviyo_clicks_attaches_the_email_and_reidentifies(mocked, merchant, klaviyo):
    view = landing(merchant, ago_minutes=10)
    cart = landing(merchant, kx="")
    expect_lookup(mocked, "KXabc123")
    assert resolve_klaviyo_clicks(profile_ids=[cart.profile_id]) == 1
    profile = Profile.objects.get(pk=cart.profile_id)
    assert profile.email == "kim@acme.io"
    for event in (view, cart):
        event.refresh_from_db()
        assert event.identification == Identification.RESOLVED and event.identity_decision["rule"] == "reidentified"
    again = landing(merchant, kx="")
    assert again.profile.email == "kim@acme.io" and again.identification == Identification.RESOLVED


def test_resolve_klaviyo_clicks_caches_per_destination(mocked, merchant, klaviyo):
    first = landing(merchant, anon="phone", ago_minutes=10)
    expect_lookup(mocked, "KXabc123", email="")  # Klaviyo knows no email for it: nothing to learn
    assert resolve_klaviyo_clicks(profile_ids=[first.profile_id]) == 0
    assert resolve_klaviyo_clicks(profile_ids=[first.profile_id]) == 0  # answered from the cache
    assert len(mocked.calls) == 1


def test_resolve_klaviyo_clicks_failure_changes_nothing_and_is_not_cached(mocked, merchant, klaviyo):
    view = landing(merchant)
    expect_lookup(mocked, "KXabc123", status=503)
    assert resolve_klaviyo_clicks(profile_ids=[view.profile_id]) == 0
    view.refresh_from_db()
    assert view.profile.email == "" and view.identification == Identification.ANONYMOUS
    expect_lookup(mocked, "KXabc123")
    assert resolve_klaviyo_clicks(profile_ids=[view.profile_id]) == 1  # tried again later


def test_resolve_klaviyo_clicks_skips_when_the_lookup_budget_is_spent(mocked, merchant, klaviyo):
    view = landing(merchant)
    with time_machine.travel(timezone.now(), tick=False):  # no refill while we look
        take(bucket_key(KLAVIYO_KEY, "profiles-kx"), KX_LOOKUP_LIMITS, 75)  # the 75/s burst used up
        assert resolve_klaviyo_clicks(profile_ids=[view.profile_id]) == 0
    assert len(mocked.calls) == 0


def test_resolve_klaviyo_clicks_junk_email_from_klaviyo_links_nothing(mocked, merchant, klaviyo):
    view = landing(merchant)
    expect_lookup(mocked, "KXabc123", email="test@test.com")
    resolve_klaviyo_clicks(profile_ids=[view.profile_id])
    assert Profile.objects.get(pk=view.profile_id).email == ""


def test_kx_that_could_break_out_of_the_filter_string_is_not_an_identifier(merchant):
    view = landing(merchant, kx='x"),or(equals(email,"a@b.io')
    assert view.profile.klaviyo_kx == ""
