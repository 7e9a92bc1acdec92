"""resolve_events against the database: profiles, identifiers, merges, identification."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from events.models import Event, Identification
from identity.models import Identifier, Profile, ProfileMerge
from identity.services import resolve_events
from tests.factories import EventFactory, MerchantFactory
from tests.identity.factories import IdentifierFactory, ProfileFactory

pytestmark = pytest.mark.django_db


def make(merchant, *, anon="", ago_hours=0.0, **kwargs):
    return EventFactory(
        merchant=merchant,
        anonymous_id=anon,
        timestamp=timezone.now() - timedelta(hours=ago_hours),
        **kwargs,
    )


def resolve(*events):
    return resolve_events(events=list(events))


def ids_of(profile):
    return sorted((i.type, i.value) for i in Identifier.objects.filter(profile=profile))


def test_resolve_events_new_visitor_creates_one_profile_with_identifiers(merchant):
    event = make(merchant, anon="a1", identifiers={"client_id": "c1", "gclid": "G"})
    outcome = resolve(event)
    event.refresh_from_db()
    assert outcome.events == [event] and outcome.reidentified == []
    assert event.identification == Identification.ANONYMOUS and event.resolved_by == ""
    assert ids_of(event.profile) == [("anonymous_id", "a1"), ("client_id", "c1"), ("gclid", "G")]
    assert Profile.objects.count() == 1


def test_resolve_events_native_when_event_carries_email(merchant):
    event = make(merchant, anon="a1", identifiers={"email": " Ann@X.io "}, traits={"first_name": "Ann"})
    resolve(event)
    event.refresh_from_db()
    assert event.identification == Identification.NATIVE
    assert event.profile.email == "ann@x.io" and event.profile.traits == {"first_name": "Ann"}


def test_resolve_events_resolved_through_device_records_identifier_type(merchant):
    resolve(make(merchant, anon="a1", identifiers={"email": "ann@x.io"}, ago_hours=1))
    later = make(merchant, anon="a1")
    resolve(later)
    later.refresh_from_db()
    assert later.identification == Identification.RESOLVED and later.resolved_by == "anonymous_id"
    assert later.profile.email == "ann@x.io"


def test_resolve_events_event_without_identifiers_stays_anonymous_without_profile(merchant):
    event = make(merchant, anon="undefined", identifiers={"email": "null"})
    resolve(event)
    event.refresh_from_db()
    assert event.profile is None and event.identification == Identification.ANONYMOUS
    assert Profile.objects.count() == 0


def test_resolve_events_case_variant_email_reaches_same_profile(merchant):
    first = make(merchant, anon="a1", identifiers={"email": "Bob@Acme.io"}, ago_hours=1)
    second = make(merchant, anon="a2", identifiers={"email": "bob@acme.IO"})
    resolve(first)
    resolve(second)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.profile_id == second.profile_id
    assert Identifier.objects.filter(type="email").count() == 1


def test_resolve_events_junk_and_merchant_blocked_email_link_nothing():
    merchant = MerchantFactory(blocked_identifier_values=["test@shop.com"])
    a = make(merchant, anon="a1", identifiers={"email": "TEST@shop.com"}, ago_hours=1)
    b = make(merchant, anon="a2", identifiers={"email": "test@shop.com"})
    resolve(a)
    resolve(b)
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.profile_id != b.profile_id
    assert a.identification == Identification.ANONYMOUS and a.profile.email == ""
    assert not Identifier.objects.filter(type="email").exists()


def test_resolve_events_merge_into_oldest_is_recorded_and_events_follow(merchant):
    old = make(merchant, anon="laptop", identifiers={"email": "ann@x.io"}, ago_hours=3)
    resolve(old)
    phone = make(merchant, anon="phone", ago_hours=2)
    resolve(phone)
    loser_id = Event.objects.get(pk=phone.pk).profile_id
    click = make(merchant, anon="phone", identifiers={"email": "ANN@x.io"})
    resolve(click)
    survivor = Event.objects.get(pk=old.pk).profile
    assert Event.objects.get(pk=phone.pk).profile_id == survivor.pk
    assert Event.objects.get(pk=click.pk).profile_id == survivor.pk
    assert not Profile.objects.filter(pk=loser_id).exists()
    merge = ProfileMerge.objects.get()
    assert (merge.from_profile_id, merge.into_profile_id) == (loser_id, survivor.pk)
    assert (merge.identifier_type, merge.identifier_value) == ("anonymous_id", "phone")  # linked the loser
    assert ids_of(survivor) == [("anonymous_id", "laptop"), ("anonymous_id", "phone"), ("email", "ann@x.io")]


def test_resolve_events_is_idempotent_for_a_second_run(merchant):
    event = make(merchant, anon="a1", identifiers={"email": "ann@x.io"})
    resolve(event)
    resolve(Event.objects.get(pk=event.pk))
    assert Profile.objects.count() == 1 and Identifier.objects.count() == 2
    assert ProfileMerge.objects.count() == 0


def test_resolve_events_shared_laptop_two_shoppers_never_merge(merchant):
    """Browsing after Bob's identification is his only within his session (it was his at any time
    before issue 12: "the last person to identify owns the device", trap 2)."""
    alice = make(merchant, anon="laptop", identifiers={"email": "alice@x.io"}, ago_hours=2)
    resolve(alice)
    bob = make(merchant, anon="laptop", identifiers={"email": "bob@x.io"}, ago_hours=1)
    resolve(bob)
    browse = make(merchant, anon="laptop", ago_hours=0.9)
    resolve(browse)
    later = make(merchant, anon="laptop")  # 54 minutes on: a new session, anyone's
    resolve(later)
    alice.refresh_from_db()
    bob.refresh_from_db()
    browse.refresh_from_db()
    later.refresh_from_db()
    assert alice.profile_id != bob.profile_id
    assert alice.profile.email == "alice@x.io" and bob.profile.email == "bob@x.io"
    assert ids_of(alice.profile) == [("email", "alice@x.io")]
    assert ids_of(bob.profile) == [("email", "bob@x.io")]
    assert browse.profile_id == bob.profile_id and browse.resolved_by == "anonymous_id"
    assert browse.identity_decision["rule"] == "shared_device_session"
    assert later.identification == Identification.ANONYMOUS and later.profile.email == ""
    assert later.identity_decision["rule"] == "new_session"
    assert Identifier.objects.get(type="anonymous_id").shared
    assert ProfileMerge.objects.count() == 0


def test_resolve_events_same_batch_shared_laptop_last_to_identify_owns_device(merchant):
    alice = make(merchant, anon="laptop", identifiers={"email": "alice@x.io"}, ago_hours=2)
    bob = make(merchant, anon="laptop", identifiers={"email": "bob@x.io"}, ago_hours=1)
    resolve(bob, alice)  # out of order on purpose: resolution sorts by time
    bob.refresh_from_db()
    alice.refresh_from_db()
    assert alice.profile_id != bob.profile_id
    assert Identifier.objects.get(type="anonymous_id").profile_id == bob.profile_id


def test_resolve_events_merchants_are_isolated():
    m1, m2 = MerchantFactory(), MerchantFactory()
    a = make(m1, anon="same-cookie", identifiers={"email": "ann@x.io"})
    b = make(m2, anon="same-cookie")
    resolve(a, b)
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.profile.merchant_id == m1.pk and b.profile.merchant_id == m2.pk
    assert b.identification == Identification.ANONYMOUS and b.profile.email == ""
    assert Identifier.objects.filter(value="same-cookie").count() == 2


def test_resolve_events_traits_newest_non_empty_wins(merchant):
    resolve(make(merchant, anon="a1", traits={"first_name": "New", "city": "Lyon"}, ago_hours=1))
    resolve(make(merchant, anon="a1", traits={"first_name": "Old", "city": ""}, ago_hours=5))
    profile = Profile.objects.get()
    assert profile.traits == {"first_name": "New", "city": "Lyon"}
    assert set(profile.trait_times) == {"first_name", "city"}


def test_resolve_events_profile_at_email_limit_keeps_limit(merchant, settings):
    settings.IDENTITY_IDENTIFIER_LIMITS = {"email": 2}
    profile = ProfileFactory(merchant=merchant)
    IdentifierFactory(profile=profile, type="shopify_customer_id", value="42")
    IdentifierFactory(profile=profile, type="email", value="one@x.io")
    IdentifierFactory(profile=profile, type="email", value="two@x.io")
    event = make(merchant, identifiers={"shopify_customer_id": 42, "email": "three@x.io"})
    resolve(event)
    event.refresh_from_db()
    assert event.profile_id == profile.pk
    assert Identifier.objects.filter(profile=profile, type="email").count() == 2
    assert not Identifier.objects.filter(value="three@x.io").exists()


def test_resolve_events_click_id_links_only_within_window(merchant):
    resolve(make(merchant, anon="cookie-a", identifiers={"email": "a@x.io", "gclid": "G1"}, ago_hours=24 * 40))
    outside = make(merchant, anon="cookie-b", identifiers={"gclid": "G1"})
    resolve(outside)
    outside.refresh_from_db()
    assert outside.identification == Identification.ANONYMOUS and outside.profile.email == ""
    assert Identifier.objects.get(type="gclid").profile_id == outside.profile_id
    inside = make(merchant, anon="cookie-c", identifiers={"gclid": "G1"})
    resolve(inside)
    inside.refresh_from_db()
    # Within the window but on another browser with nothing corroborating it: not linked, and the
    # click id is shared from now on (it linked cookie-b and cookie-c before issue 12, trap 3).
    assert inside.profile_id != outside.profile_id
    assert Identifier.objects.get(type="gclid").shared
    assert inside.identity_decision["refused"] == [["gclid", "uncorroborated_click"]]


def test_resolve_events_merge_breaking_a_limit_is_refused_and_logged(merchant, settings, caplog):
    settings.IDENTITY_IDENTIFIER_LIMITS = {"anonymous_id": 1}
    resolve(make(merchant, anon="a1", identifiers={"gclid": "G"}, ago_hours=0.05, client_hint="a:ios:net1"))
    resolve(make(merchant, anon="b1", ago_hours=1))
    event = make(merchant, anon="b1", identifiers={"gclid": "G"}, client_hint="b:ios:net1")  # a handoff
    with caplog.at_level("INFO", logger="identity.services.resolution"):
        resolve(event)
    event.refresh_from_db()
    assert Profile.objects.count() == 2 and ProfileMerge.objects.count() == 0
    assert Identifier.objects.get(type="gclid").profile_id == event.profile_id
    refused = [r for r in caplog.records if r.getMessage() == "identity merge refused"]
    assert [(r.reason, r.event) for r in refused] == [("limit", event.pk)]


def test_resolve_events_contested_strong_identifier_does_not_become_primary_contact(merchant):
    resolve(make(merchant, anon="a1", identifiers={"email": "ann@x.io", "phone": "+14155550001"}, ago_hours=2))
    resolve(make(merchant, anon="b1", identifiers={"email": "bob@x.io", "phone": "+14155550002"}, ago_hours=1))
    event = make(merchant, anon="a1", identifiers={"email": "ann@x.io", "phone": "+14155550002"})
    resolve(event)
    event.refresh_from_db()
    assert (event.profile.email, event.profile.phone) == ("ann@x.io", "+14155550001")
    assert Profile.objects.get(email="bob@x.io").phone == "+14155550002"
    assert ProfileMerge.objects.count() == 0
