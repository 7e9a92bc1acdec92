"""A return identifies the shopper: its email becomes a strong identifier through identity resolution."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from events.models import Event, Identification
from events.services import process_events
from identity.models import Profile
from tests.factories import EventFactory
from tests.returns.conftest import fixture_json

pytestmark = pytest.mark.django_db


def with_shopper_email(payload: dict) -> dict:
    """The fixture's Jane.Doe@Example.com is a reserved documentation domain, junk to identity
    resolution (issue 12): the same shopper with an address that can identify her."""
    payload["customer"] = payload["customer_detail"]["email"] = "Jane.Doe@LoopShop.io"
    return payload


def test_return_email_identifies_anonymous_visitor_and_reidentifies_events(post_loop, merchant, monkeypatch):
    """A logged-in visitor's pixel events carry only the Shopify customer id; the return brings the email."""
    cart = EventFactory(
        merchant=merchant,
        type="AddToCart",
        anonymous_id="anon-7",
        identifiers={"shopify_customer_id": "7712"},
        properties={"SKU": "CAP-NVY", "ImageURL": "https://cdn/cap.jpg"},
        timestamp=timezone.now() - timedelta(hours=2),
    )
    process_events([cart.id])
    cart.refresh_from_db()
    assert cart.profile is not None and cart.profile.email == ""

    scheduled: list[tuple[list[int], bool]] = []
    from destinations import services as destination_services

    real = destination_services.schedule_deliveries

    def spy(*, events, reidentified=False):
        scheduled.append(([e.id for e in events], reidentified))
        return real(events=events, reidentified=reidentified)

    # process_events imports schedule_deliveries from the package at call time: observe, don't replace.
    monkeypatch.setattr(destination_services, "schedule_deliveries", spy)

    payload = with_shopper_email(fixture_json("return_created.json"))
    payload["customer_detail"]["provider_customer_id"] = 7712
    assert post_loop(json.dumps(payload)).status_code == 200

    returned = Event.objects.get(type="Return Created")
    assert returned.identification == Identification.NATIVE
    assert returned.profile.email == "jane.doe@loopshop.io"
    cart.refresh_from_db()
    assert cart.profile_id == returned.profile_id
    assert cart.identification == Identification.RESOLVED
    assert Profile.objects.get(pk=returned.profile_id).email == "jane.doe@loopshop.io"
    assert ([cart.id], True) in scheduled  # the earlier anonymous add-to-cart flows again, identified


def test_return_email_links_to_existing_identified_profile(post_loop, merchant):
    earlier = EventFactory(merchant=merchant, type="Purchase", identifiers={"email": "JANE.DOE@loopshop.io"})
    process_events([earlier.id])
    post_loop(json.dumps(with_shopper_email(fixture_json("return_created.json"))))
    returned = Event.objects.get(type="Return Created")
    earlier.refresh_from_db()
    assert returned.profile_id == earlier.profile_id
    assert Profile.objects.filter(merchant=merchant).count() == 1
