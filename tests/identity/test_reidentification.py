"""Re-identification: anonymous events become deliverable once, when the profile gains an email."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from events.models import Event, Identification
from identity.models import Profile
from identity.services import resolve_events
from tests.factories import EventFactory, MerchantFactory

pytestmark = pytest.mark.django_db


def make(merchant, *, anon="", ago_hours=0.0, **kwargs):
    return EventFactory(
        merchant=merchant, anonymous_id=anon, timestamp=timezone.now() - timedelta(hours=ago_hours), **kwargs
    )


def test_resolve_events_reidentifies_anonymous_events_within_lookback_once(merchant):
    stale = make(merchant, anon="a1", type="ViewContent", ago_hours=30)
    cart = make(merchant, anon="a1", type="AddToCart", ago_hours=2)
    resolve_events(events=[stale, cart])
    checkout = make(merchant, anon="a1", type="InitiateCheckout", identifiers={"email": "ann@x.io"})
    outcome = resolve_events(events=[checkout])
    assert [e.pk for e in outcome.reidentified] == [cart.pk]
    cart.refresh_from_db()
    stale.refresh_from_db()
    assert cart.identification == Identification.RESOLVED and cart.resolved_by == "email"
    assert stale.identification == Identification.ANONYMOUS
    assert Profile.objects.get().reidentified_at is not None
    again = make(merchant, anon="a1", identifiers={"email": "ann@x.io", "phone": "+14155552671"})
    assert resolve_events(events=[again]).reidentified == []


def test_resolve_events_merge_with_identified_profile_reidentifies_loser_events(merchant):
    resolve_events(events=[make(merchant, anon="laptop", identifiers={"email": "ann@x.io", "kx": "KX"}, ago_hours=5)])
    phone_cart = make(merchant, anon="phone", type="AddToCart", ago_hours=1)
    resolve_events(events=[phone_cart])
    click = make(merchant, anon="phone", identifiers={"kx": "KX"})
    outcome = resolve_events(events=[click])
    assert [e.pk for e in outcome.reidentified] == [phone_cart.pk]
    assert outcome.reidentified[0].profile.email == "ann@x.io"
    click.refresh_from_db()
    assert click.identification == Identification.RESOLVED and click.resolved_by == "kx"


def test_resolve_events_lookback_is_per_merchant():
    merchant = MerchantFactory(reidentify_lookback_hours=1)
    cart = make(merchant, anon="a1", ago_hours=2)
    resolve_events(events=[cart])
    outcome = resolve_events(events=[make(merchant, anon="a1", identifiers={"email": "ann@x.io"})])
    assert outcome.reidentified == []
    assert Event.objects.get(pk=cart.pk).identification == Identification.ANONYMOUS


def test_resolve_events_same_batch_anonymous_then_email_is_resolved_directly(merchant):
    cart = make(merchant, anon="a1", ago_hours=1)
    checkout = make(merchant, anon="a1", identifiers={"email": "ann@x.io"})
    outcome = resolve_events(events=[cart, checkout])
    assert outcome.reidentified == []
    cart.refresh_from_db()
    assert cart.identification == Identification.RESOLVED and cart.resolved_by == "anonymous_id"


def test_resolve_events_shared_laptop_does_not_reidentify_other_shoppers_events(merchant):
    resolve_events(events=[make(merchant, anon="laptop", identifiers={"email": "alice@x.io"}, ago_hours=3)])
    alice_cart = make(merchant, anon="laptop", ago_hours=2)
    resolve_events(events=[alice_cart])
    outcome = resolve_events(events=[make(merchant, anon="laptop", identifiers={"email": "bob@x.io"})])
    assert outcome.reidentified == []
    alice_cart.refresh_from_db()
    assert alice_cart.profile.email == "alice@x.io"
