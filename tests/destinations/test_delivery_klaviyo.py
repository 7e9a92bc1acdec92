"""Klaviyo delivery through the engine, HTTP mocked with exact URL / header / JSON matchers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests
import time_machine
from responses import matchers

from destinations.models import Delivery, DeliveryAttempt, DeliveryStatus, DestinationStatus, SyncedProfile
from destinations.services import deliver_pending, schedule_deliveries, set_api_key
from tests.destinations.conftest import KLAVIYO, KLAVIYO_KEY, PURCHASE_PROPERTIES, ProfileFactory, make_event
from tests.destinations.contract import KLAVIYO as KLAVIYO_SPEC
from tests.destinations.contract import validate_request

HEADERS = {
    "Authorization": f"Klaviyo-API-Key {KLAVIYO_KEY}",
    "revision": "2026-07-15",
    "accept": "application/vnd.api+json",
    "content-type": "application/vnd.api+json",
}
EVENTS_URL = f"{KLAVIYO}/api/events"
LATER = datetime(2030, 1, 1, tzinfo=UTC)  # after the rows were scheduled (real time)


def viewed_body(email="ann@example.com", unique_id="evt-1"):
    return {
        "data": {
            "type": "event",
            "attributes": {
                "properties": {"ProductName": "Mug", "$event_id": unique_id},
                "time": "2026-11-20T12:00:00.000Z",
                "unique_id": unique_id,
                "metric": {"data": {"type": "metric", "attributes": {"name": "Viewed Product"}}},
                "profile": {"data": {"type": "profile", "attributes": {"email": email, "anonymous_id": "anon-1"}}},
            },
        }
    }


@pytest.fixture
def scheduled(merchant, klaviyo):
    klaviyo.profile_sync = "off"
    klaviyo.save()
    profile = ProfileFactory(merchant=merchant, email="ann@example.com")
    event = make_event(merchant, profile=profile, anonymous_id="anon-1", properties={"ProductName": "Mug"})
    schedule_deliveries(events=[event])
    return Delivery.objects.get(event=event, destination=klaviyo)


def expect_event(mocked, status=202, body=None, **kwargs):
    return mocked.post(
        EVENTS_URL,
        status=status,
        match=[matchers.header_matcher(HEADERS), matchers.json_params_matcher(body or viewed_body())],
        **kwargs,
    )


def test_deliver_klaviyo_event_exact_request_and_attempt_log(mocked, scheduled):
    expect_event(mocked)
    assert deliver_pending(event_ids=[scheduled.event_id]) == {"succeeded": 1}
    scheduled.refresh_from_db()
    assert (scheduled.status, scheduled.attempts, scheduled.last_error) == (DeliveryStatus.SUCCEEDED, 1, "")
    attempt = DeliveryAttempt.objects.get(delivery=scheduled)
    assert (attempt.status_code, attempt.step, attempt.url) == (202, "event", EVENTS_URL)
    assert attempt.request_headers["Authorization"] == "[redacted]"
    assert KLAVIYO_KEY not in json.dumps(attempt.request_headers) and attempt.request_body is None
    validate_request(KLAVIYO_SPEC, "/api/events", "post", json.loads(mocked.calls[0].request.body))
    scheduled.destination.refresh_from_db()
    assert scheduled.destination.last_success_at is not None


def test_deliver_klaviyo_500_then_success_keeps_unique_id(mocked, scheduled):
    expect_event(mocked, status=500, json={"errors": [{"detail": "boom"}]})
    with time_machine.travel(LATER + timedelta(days=0), tick=False):
        deliver_pending(event_ids=[scheduled.event_id])
        scheduled.refresh_from_db()
        assert scheduled.status == DeliveryStatus.PENDING and scheduled.attempts == 1
        assert scheduled.next_attempt_at == LATER + timedelta(days=0, seconds=60)
        assert scheduled.last_error == "HTTP 500: boom"
        assert deliver_pending(event_ids=[scheduled.event_id]) == {}  # not due yet
    expect_event(mocked, status=202)
    with time_machine.travel(LATER + timedelta(days=0, seconds=61), tick=False):
        assert deliver_pending(event_ids=[scheduled.event_id]) == {"succeeded": 1}
    bodies = [json.loads(c.request.body) for c in mocked.calls]
    assert [b["data"]["attributes"]["unique_id"] for b in bodies] == ["evt-1", "evt-1"]
    assert list(
        DeliveryAttempt.objects.filter(delivery=scheduled).order_by("id").values_list("attempt", "status_code")
    ) == [
        (1, 500),
        (2, 202),
    ]


def test_deliver_klaviyo_429_honours_retry_after(mocked, scheduled):
    expect_event(mocked, status=429, headers={"Retry-After": "7"}, json={"errors": [{"detail": "slow down"}]})
    with time_machine.travel(LATER + timedelta(days=0), tick=False):
        deliver_pending(event_ids=[scheduled.event_id])
    scheduled.refresh_from_db()
    assert scheduled.status == DeliveryStatus.PENDING
    assert scheduled.next_attempt_at == LATER + timedelta(days=0, seconds=7)
    assert DeliveryAttempt.objects.get(delivery=scheduled).error_kind == "rate_limited"


def test_deliver_klaviyo_429_without_retry_after_uses_schedule(mocked, scheduled):
    expect_event(mocked, status=429)
    with time_machine.travel(LATER + timedelta(days=0), tick=False):
        deliver_pending(event_ids=[scheduled.event_id])
    scheduled.refresh_from_db()
    assert scheduled.next_attempt_at == LATER + timedelta(days=0, seconds=60)


def test_deliver_klaviyo_timeout_is_retried(mocked, scheduled):
    mocked.post(EVENTS_URL, body=requests.exceptions.ReadTimeout("read timed out"))
    deliver_pending(event_ids=[scheduled.event_id])
    scheduled.refresh_from_db()
    attempt = DeliveryAttempt.objects.get(delivery=scheduled)
    assert scheduled.status == DeliveryStatus.PENDING and scheduled.attempts == 1
    assert (attempt.status_code, attempt.error_kind) == (None, "timeout")
    assert scheduled.last_error.startswith("timeout: ReadTimeout")


def test_deliver_klaviyo_connection_refused_is_retried(settings, scheduled):
    import socket

    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.KLAVIYO_API_URL = f"http://127.0.0.1:{port}"
    deliver_pending(event_ids=[scheduled.event_id])
    scheduled.refresh_from_db()
    assert scheduled.status == DeliveryStatus.PENDING and scheduled.attempts == 1
    assert DeliveryAttempt.objects.get(delivery=scheduled).error_kind == "network"


def test_deliver_klaviyo_400_is_dead_with_reason(mocked, scheduled):
    error = {"errors": [{"status": 400, "code": "invalid", "detail": "The phone number provided is invalid."}]}
    expect_event(mocked, status=400, json=error)
    assert deliver_pending(event_ids=[scheduled.event_id]) == {"dead": 1}
    scheduled.refresh_from_db()
    assert scheduled.status == DeliveryStatus.DEAD
    assert scheduled.last_error == "HTTP 400: The phone number provided is invalid."
    assert DeliveryAttempt.objects.get(delivery=scheduled).error_kind == "rejected"


def test_deliver_klaviyo_gives_up_after_max_attempts(settings, mocked, scheduled):
    settings.DELIVERY_MAX_ATTEMPTS = 2
    expect_event(mocked, status=503)
    expect_event(mocked, status=503)
    with time_machine.travel(LATER + timedelta(days=0), tick=False):
        deliver_pending(event_ids=[scheduled.event_id])
    with time_machine.travel(LATER + timedelta(days=1), tick=False):
        deliver_pending(event_ids=[scheduled.event_id])
    scheduled.refresh_from_db()
    assert scheduled.status == DeliveryStatus.DEAD and scheduled.attempts == 2
    assert scheduled.last_error == "gave up after 2 attempts: HTTP 503: "


def test_deliver_klaviyo_401_pauses_destination_until_key_fixed(mocked, scheduled, django_capture_on_commit_callbacks):
    expect_event(mocked, status=401, json={"errors": [{"detail": "Incorrect authentication credentials."}]})
    deliver_pending(event_ids=[scheduled.event_id])
    scheduled.refresh_from_db()
    destination = scheduled.destination
    destination.refresh_from_db()
    assert (destination.status, destination.last_error) == (
        DestinationStatus.ERROR,
        "HTTP 401: Incorrect authentication credentials.",
    )
    assert (scheduled.status, scheduled.attempts) == (DeliveryStatus.PENDING, 0)  # waits, not lost
    assert deliver_pending(event_ids=[scheduled.event_id]) == {}  # paused: nothing is sent
    new_key = "pk_fixed_key_999999"
    fixed = {**HEADERS, "Authorization": f"Klaviyo-API-Key {new_key}"}
    mocked.post(
        EVENTS_URL, status=202, match=[matchers.header_matcher(fixed), matchers.json_params_matcher(viewed_body())]
    )
    with django_capture_on_commit_callbacks(execute=True):
        set_api_key(destination, api_key=new_key)
    scheduled.refresh_from_db()
    destination.refresh_from_db()
    assert scheduled.status == DeliveryStatus.SUCCEEDED and destination.status == DestinationStatus.ACTIVE
    assert destination.api_key_last4 == "9999"


def test_deliver_klaviyo_without_marketing_consent_never_lists_or_subscribes(mocked, merchant, klaviyo):
    """Issue 15: the list used to get every identified profile; now only a consent subscribes."""
    klaviyo.list_id = "LIST1"
    klaviyo.save()
    profile = ProfileFactory(merchant=merchant, email="ann@example.com", traits={"first_name": "Ann"})
    for n, consent in enumerate([{}, {"marketing": False}, {"analytics": True}]):
        event = make_event(
            merchant,
            profile=profile,
            event_id=f"e{n}",
            anonymous_id="anon-1",
            context={"consent": consent},
            properties={"ProductName": "Mug"},
        )
        schedule_deliveries(events=[event])
        body = viewed_body(unique_id=f"e{n}")
        body["data"]["attributes"]["profile"]["data"]["attributes"]["first_name"] = "Ann"
        expect_event(mocked, body=body)
        assert deliver_pending(event_ids=[event.pk]) == {"succeeded": 1}
    assert [c.request.url for c in mocked.calls] == [EVENTS_URL] * 3


def test_deliver_klaviyo_profile_sync_and_list_then_event(mocked, merchant, klaviyo):
    """With marketing consent: profile import, then Subscribe Profiles to the list, then the event."""
    klaviyo.list_id = "LIST1"
    klaviyo.save()
    profile = ProfileFactory(merchant=merchant, email="ann@example.com", traits={"first_name": "Ann"})
    event = make_event(
        merchant,
        profile=profile,
        anonymous_id="anon-1",
        properties={"ProductName": "Mug"},
        context={"consent": {"analytics": True, "marketing": True}},
    )
    schedule_deliveries(events=[event])
    person = {"email": "ann@example.com", "first_name": "Ann"}
    mocked.post(
        f"{KLAVIYO}/api/profile-import",
        status=201,
        json={"data": {"type": "profile", "id": "01PROFILE"}},
        match=[
            matchers.header_matcher(HEADERS),
            matchers.json_params_matcher({"data": {"type": "profile", "attributes": person}}),
        ],
    )
    subscription = {
        "data": {
            "type": "profile-subscription-bulk-create-job",
            "attributes": {
                "custom_source": "Recapture",
                "profiles": {
                    "data": [
                        {
                            "type": "profile",
                            "attributes": {
                                "email": "ann@example.com",
                                "subscriptions": {"email": {"marketing": {"consent": "SUBSCRIBED"}}},
                            },
                        }
                    ]
                },
            },
            "relationships": {"list": {"data": {"type": "list", "id": "LIST1"}}},
        }
    }
    mocked.post(
        f"{KLAVIYO}/api/profile-subscription-bulk-create-jobs",
        status=202,
        match=[matchers.header_matcher(HEADERS), matchers.json_params_matcher(subscription)],
    )
    body = viewed_body()
    body["data"]["attributes"]["profile"]["data"]["attributes"]["first_name"] = "Ann"
    expect_event(mocked, body=body)
    assert deliver_pending(event_ids=[event.pk]) == {"succeeded": 1}
    assert [c.request.url for c in mocked.calls] == [
        f"{KLAVIYO}/api/profile-import",
        f"{KLAVIYO}/api/profile-subscription-bulk-create-jobs",
        EVENTS_URL,
    ]
    assert SyncedProfile.objects.get(destination=klaviyo, profile=profile).remote_id == "01PROFILE"
    # an unchanged profile is not re-imported for the next event
    second = make_event(
        merchant,
        profile=profile,
        event_id="evt-2",
        anonymous_id="anon-1",
        properties={"ProductName": "Mug"},
        context={"consent": {"analytics": True, "marketing": True}},
    )
    schedule_deliveries(events=[second])
    body2 = viewed_body(unique_id="evt-2")
    body2["data"]["attributes"]["profile"]["data"]["attributes"]["first_name"] = "Ann"
    expect_event(mocked, body=body2)
    deliver_pending(event_ids=[second.pk])
    assert len(mocked.calls) == 4


def test_deliver_klaviyo_update_only_never_creates_profiles(mocked, merchant, klaviyo):
    klaviyo.profile_sync = "update_only"
    klaviyo.save()
    profile = ProfileFactory(merchant=merchant, email="ann@example.com")
    event = make_event(merchant, profile=profile, anonymous_id="anon-1", properties={"ProductName": "Mug"})
    schedule_deliveries(events=[event])
    mocked.get(
        f"{KLAVIYO}/api/profiles",
        json={"data": []},
        match=[matchers.query_param_matcher({"filter": 'any(email,["ann@example.com"])', "page[size]": "100"})],
    )
    # Changed by issue 13: the event used to be sent anyway, and a Klaviyo event creates the
    # profile it names. Now nobody Klaviyo does not have gets an event: it is held.
    assert deliver_pending(event_ids=[event.pk]) == {"held": 1}
    assert not any("profile-import" in c.request.url or "/api/events" in c.request.url for c in mocked.calls)


def test_deliver_klaviyo_placed_order_emits_ordered_products(mocked, merchant, klaviyo):
    klaviyo.profile_sync = "off"
    klaviyo.save()
    profile = ProfileFactory(merchant=merchant, email="ann@example.com")
    event = make_event(merchant, profile=profile, type="Purchase", properties=PURCHASE_PROPERTIES)
    schedule_deliveries(events=[event])
    mocked.post(EVENTS_URL, status=202, match=[matchers.header_matcher(HEADERS)])
    mocked.post(EVENTS_URL, status=202, match=[matchers.header_matcher(HEADERS)])
    mocked.post(EVENTS_URL, status=202, match=[matchers.header_matcher(HEADERS)])
    deliver_pending(event_ids=[event.pk])
    bodies = [json.loads(c.request.body) for c in mocked.calls]
    names = sorted(b["data"]["attributes"]["metric"]["data"]["attributes"]["name"] for b in bodies)
    assert names == ["Ordered Product", "Ordered Product", "Placed Order"]
    # Changed by issue 13: Placed Order's unique_id is the order id (was the pixel event id)
    assert sorted(b["data"]["attributes"]["unique_id"] for b in bodies) == ["1001", "1001:li-1", "1001:li-2"]
    for body in bodies:
        validate_request(KLAVIYO_SPEC, "/api/events", "post", body)


def test_deliver_klaviyo_backlog_goes_through_bulk_job(settings, mocked, merchant, klaviyo):
    settings.DELIVERY_BULK_THRESHOLD = 5
    klaviyo.profile_sync = "off"
    klaviyo.save()
    events = [
        make_event(
            merchant,
            event_id=f"e{i}",
            anonymous_id=f"a{i % 3}",
            identifiers={"email": f"p{i % 3}@example.com"},
            properties={"Price": i},
        )
        for i in range(12)
    ]
    schedule_deliveries(events=events)
    mocked.post(f"{KLAVIYO}/api/event-bulk-create-jobs", status=202, match=[matchers.header_matcher(HEADERS)])
    assert deliver_pending(destination_id=klaviyo.pk) == {"succeeded": 12}
    assert len(mocked.calls) == 1
    body = json.loads(mocked.calls[0].request.body)
    validate_request(KLAVIYO_SPEC, "/api/event-bulk-create-jobs", "post", body)
    entries = body["data"]["attributes"]["events-bulk-create"]["data"]
    assert len(entries) == 3 and sum(len(e["attributes"]["events"]["data"]) for e in entries) == 12
    assert DeliveryAttempt.objects.filter(step="bulk", status_code=202).count() == 12


def test_deliver_klaviyo_overflow_of_the_per_event_budget_goes_as_a_bulk_job(settings, mocked, merchant, klaviyo):
    """Below the bulk threshold, events go one by one while the events bucket (350/s, 3,500/min)
    has tokens; what it cannot cover now goes at once as a bulk job (its own 10/s, 150/min)."""
    from destinations import platform_limits
    from destinations.clients.klaviyo import KlaviyoClient

    settings.DELIVERY_BULK_THRESHOLD = 50
    events = [make_event(merchant, event_id=f"o{i}", identifiers={"email": f"o{i}@example.com"}) for i in range(5)]
    schedule_deliveries(events=events)
    mocked.post(EVENTS_URL, status=202, match=[matchers.header_matcher(HEADERS)])
    mocked.post(f"{KLAVIYO}/api/event-bulk-create-jobs", status=202, match=[matchers.header_matcher(HEADERS)])
    with time_machine.travel(LATER, tick=False):
        key = platform_limits.bucket_key(klaviyo.api_key, "default")
        assert platform_limits.take(key, KlaviyoClient.limits["default"], 348)[0] == 348  # 2 tokens left this second
        assert deliver_pending(destination_id=klaviyo.pk) == {"succeeded": 5}
    urls = [c.request.url for c in mocked.calls]
    assert urls.count(EVENTS_URL) == 2 and urls.count(f"{KLAVIYO}/api/event-bulk-create-jobs") == 1
    body = json.loads(mocked.calls[-1].request.body)
    validate_request(KLAVIYO_SPEC, "/api/event-bulk-create-jobs", "post", body)
    assert len(body["data"]["attributes"]["events-bulk-create"]["data"]) == 3


def test_deliver_klaviyo_overflow_off_waits_for_the_per_event_budget(settings, mocked, merchant, klaviyo, monkeypatch):
    from destinations import platform_limits

    settings.DELIVERY_BULK_OVERFLOW = False
    events = [make_event(merchant, event_id=f"w{i}", identifiers={"email": f"w{i}@example.com"}) for i in range(3)]
    schedule_deliveries(events=events)
    grants = iter([1])  # one token, then the budget runs out while waiting for more
    monkeypatch.setattr(platform_limits, "acquire", lambda *args, **kwargs: next(grants, 0))
    mocked.post(EVENTS_URL, status=202, match=[matchers.header_matcher(HEADERS)])
    deliver_pending(destination_id=klaviyo.pk)
    assert [c.request.url for c in mocked.calls] == [EVENTS_URL]  # never a bulk job
    statuses = sorted(Delivery.objects.filter(event__in=events).values_list("status", flat=True))
    assert statuses == [DeliveryStatus.PENDING, DeliveryStatus.PENDING, DeliveryStatus.SUCCEEDED]


def test_deliver_klaviyo_dry_run_records_but_sends_nothing(mocked, scheduled):
    destination = scheduled.destination
    destination.dry_run = True
    destination.save()
    assert deliver_pending(event_ids=[scheduled.event_id]) == {"succeeded": 1}
    assert len(mocked.calls) == 0
    scheduled.refresh_from_db()
    attempt = DeliveryAttempt.objects.get(delivery=scheduled)
    assert scheduled.status == DeliveryStatus.SUCCEEDED and scheduled.dry_run
    assert attempt.dry_run and attempt.status_code is None
    assert (attempt.method, attempt.url, attempt.request_body) == ("POST", EVENTS_URL, viewed_body())
    assert attempt.request_headers == {**HEADERS, "Authorization": "[redacted]"}


def test_deliver_klaviyo_profile_sync_kept_when_event_step_fails(mocked, merchant, klaviyo):
    klaviyo.list_id = "LIST1"
    klaviyo.save()
    mocked.post(f"{KLAVIYO}/api/profile-subscription-bulk-create-jobs", status=202)
    profile = ProfileFactory(merchant=merchant, email="ann@example.com")
    event = make_event(
        merchant,
        profile=profile,
        anonymous_id="anon-1",
        properties={"ProductName": "Mug"},
        context={"consent": {"email_marketing": True}},  # checkout's buyerAcceptsEmailMarketing
    )
    schedule_deliveries(events=[event])
    mocked.post(f"{KLAVIYO}/api/profile-import", status=201, json={"data": {"type": "profile", "id": "01P"}})
    expect_event(mocked, status=503)
    with time_machine.travel(LATER, tick=False):
        deliver_pending(event_ids=[event.pk])
    assert SyncedProfile.objects.get(destination=klaviyo, profile=profile).remote_id == "01P"
    expect_event(mocked, status=202)
    with time_machine.travel(LATER + timedelta(minutes=5), tick=False):
        assert deliver_pending(event_ids=[event.pk]) == {"succeeded": 1}
    assert [c.request.url for c in mocked.calls] == [
        f"{KLAVIYO}/api/profile-import",
        f"{KLAVIYO}/api/profile-subscription-bulk-create-jobs",
        EVENTS_URL,
        EVENTS_URL,
    ]


def test_deliver_klaviyo_create_update_without_list_lets_the_event_create_the_profile(mocked, merchant, klaviyo):
    """Create Event creates or updates the profile with the traits it carries: no profile-import
    (75/s, 750/min) per new person, so a peak of new shoppers is not held at that limit."""
    profile = ProfileFactory(merchant=merchant, email="ann@example.com", traits={"first_name": "Ann"})
    event = make_event(merchant, profile=profile, anonymous_id="anon-1")
    schedule_deliveries(events=[event])
    mocked.post(EVENTS_URL, status=202, match=[matchers.header_matcher(HEADERS)])  # the body is checked below
    with time_machine.travel(LATER, tick=False):
        assert deliver_pending(event_ids=[event.pk]) == {"succeeded": 1}
    assert [c.request.url for c in mocked.calls] == [EVENTS_URL]
    sent = json.loads(mocked.calls[0].request.body)["data"]["attributes"]["profile"]["data"]["attributes"]
    assert (sent["email"], sent["first_name"]) == ("ann@example.com", "Ann")


def test_sweep_delivers_due_rows_and_schedule_is_installed(mocked, scheduled, django_capture_on_commit_callbacks):
    from django_q.models import Schedule

    from destinations.services import sweep_deliveries

    expect_event(mocked)
    with django_capture_on_commit_callbacks(execute=True) as queued:  # the schedule runs it outside a transaction
        assert sweep_deliveries() == {scheduled.destination_id: 1}
    assert len(queued) == 1  # queued on commit; Q_SYNC: the queued batch ran inline
    scheduled.refresh_from_db()
    assert scheduled.status == DeliveryStatus.SUCCEEDED
    sweep = Schedule.objects.get(name="destinations.sweep_deliveries")
    assert (sweep.func, sweep.schedule_type, sweep.minutes, sweep.repeats) == (
        "destinations.tasks.sweep_deliveries",
        Schedule.MINUTES,
        1,
        -1,
    )
    assert not Schedule.objects.filter(
        func="destinations.tasks.prune_delivery_attempts"
    ).exists()  # pipeline.prune_data


@pytest.mark.parametrize(("max_events", "max_bytes", "jobs"), [(5, 5 * 1024 * 1024, 3), (1000, 3000, 2)])
def test_deliver_klaviyo_bulk_jobs_respect_count_and_size_limits(
    settings, monkeypatch, mocked, merchant, klaviyo, max_events, max_bytes, jobs
):
    from destinations.clients.klaviyo import KlaviyoClient

    monkeypatch.setattr(KlaviyoClient, "bulk_max_events", max_events)
    monkeypatch.setattr(KlaviyoClient, "bulk_max_bytes", max_bytes)
    settings.DELIVERY_BULK_THRESHOLD = 5
    klaviyo.profile_sync = "off"
    klaviyo.save()
    events = [make_event(merchant, event_id=f"s{i}", identifiers={"email": f"p{i}@x.co"}) for i in range(12)]
    schedule_deliveries(events=events)
    for _ in range(jobs):
        mocked.post(f"{KLAVIYO}/api/event-bulk-create-jobs", status=202, match=[matchers.header_matcher(HEADERS)])
    assert deliver_pending(destination_id=klaviyo.pk) == {"succeeded": 12}
    sizes = [len(c.request.body) for c in mocked.calls]
    counts = [len(json.loads(c.request.body)["data"]["attributes"]["events-bulk-create"]["data"]) for c in mocked.calls]
    assert len(mocked.calls) == jobs and sum(counts) == 12
    assert max(counts) <= max_events and max(sizes) <= max_bytes


def test_deliver_klaviyo_429_retry_after_pauses_shared_bucket(mocked, scheduled):
    from destinations import platform_limits
    from destinations.clients.klaviyo import KlaviyoClient

    expect_event(mocked, status=429, headers={"Retry-After": "30"})
    deliver_pending(event_ids=[scheduled.event_id])
    key = platform_limits.bucket_key(KLAVIYO_KEY, "default")
    granted, wait = platform_limits.take(key, KlaviyoClient.limits["default"], 1)
    assert granted == 0 and 25 < wait <= 30  # every worker waits, not just this delivery
