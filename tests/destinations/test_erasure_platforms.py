"""Erasure reaches the platforms: forget_profile deletes the person on Klaviyo and Loops,
each request recorded and retried, shown on the erasure record (on the semantic doubles)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import responses
import time_machine
from django.urls import reverse

from destinations.clients.base import HttpResult, StepOutcome
from destinations.models import PlatformErasure, PlatformErasureStatus, SyncedProfile
from destinations.retry import RetryPolicy, classify
from destinations.services import send_platform_erasures, sweep_due_now
from destinations.services.erasure import next_step, platform_identifiers
from identity.models import ErasureRecord, Identifier
from identity.services import forget_profile
from tests.destinations.conftest import KLAVIYO, LOOPS, ProfileFactory
from tests.fakes.core import mount
from tests.fakes.klaviyo import KlaviyoDouble
from tests.fakes.loops import LoopsDouble

pytestmark = pytest.mark.django_db
START = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def platforms():
    klaviyo, loops = KlaviyoDouble(), LoopsDouble()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mount(rsps, klaviyo, KLAVIYO)
        mount(rsps, loops, LOOPS)
        yield klaviyo, loops


def _ann(merchant):
    profile = ProfileFactory(merchant=merchant, email="ann@example.com", phone="+14155550100")
    now = datetime.now(UTC)
    for kind, value in (("email", "ann@example.com"), ("shopify_customer_id", "7001"), ("anonymous_id", "anon-1")):
        Identifier.objects.create(
            merchant=merchant, profile=profile, type=kind, value=value, first_seen=now, last_seen=now
        )
    return profile


def _forget(profile, django_capture_on_commit_callbacks) -> ErasureRecord:
    with django_capture_on_commit_callbacks(execute=True):
        return forget_profile(profile, actor="dpo@shop")


def test_platform_identifiers_maps_identity_types_to_what_platforms_delete_by():
    pairs = [("email", "Ann@Example.com"), ("phone", "+1415"), ("shopify_customer_id", "7"), ("anonymous_id", "a")]
    assert platform_identifiers([*pairs, ("email", "ann@example.com")]) == [
        ("email", "ann@example.com"),
        ("phone", "+1415"),
        ("external_id", "7"),
    ]


def test_forget_profile_deletes_the_person_on_klaviyo_and_loops(
    merchant, klaviyo, loops, platforms, django_capture_on_commit_callbacks
):
    klaviyo_double, loops_double = platforms
    other = klaviyo_double.seed_profile(email="bob@example.com")
    klaviyo_double.seed_profile(email="ann@example.com", phone_number="+14155550100")
    loops_double.seed_contact("ann@example.com")
    profile = _ann(merchant)
    SyncedProfile.objects.create(destination=klaviyo, profile=profile, digest="d", remote_id="01KLAVIYOANN")

    record = _forget(profile, django_capture_on_commit_callbacks)

    # what the merchant checks: Ann is gone from both platforms, Bob is untouched
    assert set(klaviyo_double.profiles) == {other.id}
    assert loops_double.contact(email="ann@example.com") is None
    assert sorted(klaviyo_double.deletions) == [
        ("email", "ann@example.com"),
        ("id", "01KLAVIYOANN"),
        ("phone_number", "+14155550100"),
    ]
    rows = PlatformErasure.objects.filter(erasure=record).order_by("destination_id", "id")
    assert [(r.destination.kind, r.identifier_type, r.status) for r in rows] == [
        ("klaviyo", "email", "succeeded"),
        ("klaviyo", "phone", "succeeded"),
        ("klaviyo", "remote_id", "succeeded"),
        ("loops", "email", "succeeded"),
        ("loops", "external_id", "succeeded"),  # Loops: 404 "Contact not found" = nothing left
    ]
    assert {r.identifier for r in rows} == {""}  # confirmed: the last personal data is gone


def test_platform_erasure_is_retried_after_retry_after_by_the_sweeper(
    merchant, klaviyo, platforms, django_capture_on_commit_callbacks
):
    klaviyo_double, _ = platforms
    klaviyo_double.seed_profile(email="ann@example.com")
    profile = ProfileFactory(merchant=merchant, email="ann@example.com")
    klaviyo_double.faults.rate_limit_next, klaviyo_double.faults.retry_after = 1, "2"
    with time_machine.travel(START, tick=False) as traveller:
        _forget(profile, django_capture_on_commit_callbacks)
        row = PlatformErasure.objects.get()
        assert (row.status, row.attempts, row.last_status_code) == ("pending", 1, 429)
        assert row.next_attempt_at == START + timedelta(seconds=2) and row.identifier == "ann@example.com"
        traveller.shift(2)
        with django_capture_on_commit_callbacks(execute=True):
            assert sweep_due_now()["sweep_platform_erasures"] == 1
    row.refresh_from_db()
    assert (row.status, row.attempts, row.identifier) == ("succeeded", 2, "")
    assert klaviyo_double.profile_by("email", "ann@example.com") is None


def test_platform_erasure_refused_by_the_platform_is_dead_with_the_reason(merchant, loops, mocked):
    mocked.post(f"{LOOPS}/api/v1/contacts/delete", status=400, json={"success": False, "message": "Bad email"})
    profile = ProfileFactory(merchant=merchant, email="ann@example.com")
    forget_profile(profile)
    send_platform_erasures()
    row = PlatformErasure.objects.get()
    assert (row.status, row.last_status_code, row.last_error) == ("dead", 400, "Bad email")


def test_platform_erasure_with_a_refused_key_keeps_trying(merchant, loops, mocked):
    mocked.post(f"{LOOPS}/api/v1/contacts/delete", status=401, json={"success": False, "message": "Invalid API key"})
    profile = ProfileFactory(merchant=merchant, email="ann@example.com")
    forget_profile(profile)
    send_platform_erasures()
    row = PlatformErasure.objects.get()
    assert (row.status, row.attempts) == ("pending", 1) and row.next_attempt_at > row.created_at
    loops.refresh_from_db()
    assert loops.status == "active"  # erasure never pauses delivery


@pytest.mark.parametrize(
    ("status", "attempts", "expected"),
    [(202, 1, ("succeeded", None)), (500, 1, ("pending", 60.0)), (500, 3, ("dead", None)), (400, 1, ("dead", None))],
)
def test_next_step_follows_the_delivery_backoff(status, attempts, expected):
    policy = RetryPolicy(base_seconds=60, factor=3, max_attempts=3, jitter=0)
    outcome = StepOutcome(classify(status), HttpResult(status))
    assert next_step(outcome, attempts=attempts, policy=policy, now=START) == expected


def test_erasure_record_page_shows_platform_requests_never_the_identifier(
    admin_client, merchant, klaviyo, loops, django_assert_max_num_queries
):
    profile = ProfileFactory(merchant=merchant, email="ann@example.com")
    record = forget_profile(profile)
    PlatformErasure.objects.filter(destination=loops).update(status=PlatformErasureStatus.SUCCEEDED, identifier="")
    page = admin_client.get(reverse("admin:identity_erasurerecord_change", args=[record.pk]))
    assert page.status_code == 200
    assert (
        b"Platform deletion requests" in page.content
        and b"Klaviyo" in page.content
        and b"ann@example.com" not in page.content
    )
    with django_assert_max_num_queries(12):
        listing = admin_client.get(reverse("admin:identity_erasurerecord_changelist"))
    assert b"1/2 done" in listing.content
