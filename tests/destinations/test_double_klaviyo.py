"""The Klaviyo double against the documented behaviours it cites (tests/fakes/klaviyo.py)."""

from __future__ import annotations

import pytest
import requests
import responses

from tests.fakes.core import mount
from tests.fakes.klaviyo import KlaviyoDouble

BASE = "https://a.klaviyo.com"
HEADERS = {"Authorization": "Klaviyo-API-Key pk_test", "revision": "2026-10-15"}


@pytest.fixture
def klaviyo():
    double = KlaviyoDouble()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mount(rsps, double, BASE)
        yield double


def event(metric: str, profile: dict, *, unique_id: str = "u1", value=None, backfill=None) -> dict:
    attrs = {
        "properties": {"k": "v"},
        "unique_id": unique_id,
        "metric": {"data": {"type": "metric", "attributes": {"name": metric}}},
        "profile": {"data": {"type": "profile", "attributes": profile}},
    }
    if value is not None:
        attrs["value"] = value
    if backfill is not None:
        attrs["backfill"] = backfill
    return {"data": {"type": "event", "attributes": attrs}}


def post(path: str, body: dict) -> requests.Response:
    return requests.post(f"{BASE}{path}", json=body, headers=HEADERS, timeout=5)


def test_klaviyo_double_event_creates_profile_keyed_by_email(klaviyo):
    # "A profile must have at least 1 profile identifier" (Profiles API overview)
    assert post("/api/events", event("Viewed Product", {"email": "a@example.com"})).status_code == 202
    profile = klaviyo.profile_by("email", "a@example.com")
    assert profile is not None and profile.created_by == "event"
    post("/api/events", event("Viewed Product", {"email": "a@example.com", "external_id": "42"}, unique_id="u2"))
    assert klaviyo.profile_by("external_id", "42") is profile  # the same person, one profile
    assert len(klaviyo.profiles) == 1


def test_klaviyo_double_event_without_identifier_is_400(klaviyo):
    # "One or more identifiers is required" (Klaviyo's 400, community thread 11955)
    response = post("/api/events", event("Viewed Product", {"first_name": "Ann"}))
    assert response.status_code == 400
    assert response.json()["errors"][0]["detail"] == "One or more identifiers is required"
    assert not klaviyo.profiles


def test_klaviyo_double_unique_id_dedupes_per_profile_and_metric(klaviyo):
    # "If the unique_id is repeated for the same profile and metric, only the first processed
    # event will be recorded" (spec)
    for _ in range(2):
        post("/api/events", event("Placed Order", {"email": "a@example.com"}, unique_id="1001", value=50))
    post("/api/events", event("Ordered Product", {"email": "a@example.com"}, unique_id="1001", value=50))
    post("/api/events", event("Placed Order", {"email": "b@example.com"}, unique_id="1001", value=50))
    assert klaviyo.revenue("Placed Order") == 100.0  # once per profile
    assert len(klaviyo.recorded("Ordered Product")) == 1  # another metric is another event


def test_klaviyo_double_backfill_is_recorded_without_triggering_flows(klaviyo):
    # "When true, the event is recorded but does NOT trigger flows" (spec, backfill)
    klaviyo.add_flow("Abandoned Cart", metric="Added to Cart")
    post("/api/events", event("Added to Cart", {"email": "old@example.com"}, unique_id="a", backfill=True))
    post("/api/events", event("Added to Cart", {"email": "new@example.com"}, unique_id="b"))
    assert len(klaviyo.recorded("Added to Cart")) == 2
    assert klaviyo.flows_fired() == [("Abandoned Cart", "new@example.com")]


def test_klaviyo_double_invalid_phone_fails_the_whole_request(klaviyo):
    # "the current API verifies that phone numbers are sent in E.164 format" (klaviyo-api-python#48)
    response = post("/api/events", event("Placed Order", {"email": "a@example.com", "phone_number": "+15550142"}))
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["source"]["pointer"] == "/data/attributes/profile/data/attributes/phone_number"
    assert not klaviyo.recorded() and not klaviyo.profiles  # nothing of the request was kept
    ok = post("/api/events", event("Placed Order", {"email": "a@example.com", "phone_number": "+14155552671"}))
    assert ok.status_code == 202


def test_klaviyo_double_profile_import_conflicting_identifiers_is_409_duplicate_profile(klaviyo):
    # "[409] A profile already exists with one of these identifiers" (community thread 15864)
    first = klaviyo.seed_profile(email="a@example.com")
    klaviyo.seed_profile(phone_number="+14155552671")
    body = {"data": {"type": "profile", "attributes": {"email": "a@example.com", "phone_number": "+14155552671"}}}
    response = post("/api/profile-import", body)
    assert response.status_code == 409
    error = response.json()["errors"][0]
    assert error["code"] == "duplicate_profile"
    assert error["meta"]["duplicate_profile_id"] == first.id
    created = post("/api/profile-import", {"data": {"type": "profile", "attributes": {"email": "c@example.com"}}})
    assert created.status_code == 201 and created.json()["data"]["id"] in klaviyo.profiles


def test_klaviyo_double_get_profiles_filters_by_any_email(klaviyo):
    # Get Profiles: "`email`: `any`, `equals`" (spec, filter parameter)
    a = klaviyo.seed_profile(email="a@example.com")
    response = requests.get(
        f"{BASE}/api/profiles",
        params={"filter": 'any(email,["a@example.com","nobody@example.com"])', "page[size]": "100"},
        headers=HEADERS,
        timeout=5,
    )
    assert [p["id"] for p in response.json()["data"]] == [a.id]


def test_klaviyo_double_list_membership_is_not_consent(klaviyo):
    # "To add someone to a list without changing their subscription status, use Add Profile
    # to List" (Bulk Subscribe Profiles reference)
    profile = klaviyo.seed_profile(email="a@example.com")
    response = post("/api/lists/L1/relationships/profiles", {"data": [{"type": "profile", "id": profile.id}]})
    assert response.status_code == 204
    assert profile.lists == {"L1"} and klaviyo.subscribed_emails() == set()
    no_consent = {"type": "profile", "attributes": {"email": "a@example.com"}}
    body = {
        "data": {"type": "profile-subscription-bulk-create-job", "attributes": {"profiles": {"data": [no_consent]}}}
    }
    assert post("/api/profile-subscription-bulk-create-jobs", body).status_code == 400
    consent = {"email": {"marketing": {"consent": "SUBSCRIBED"}}}
    no_consent["attributes"]["subscriptions"] = consent
    assert post("/api/profile-subscription-bulk-create-jobs", body).status_code == 202
    assert klaviyo.subscribed_emails() == {"a@example.com"}


def test_klaviyo_double_bulk_job_with_one_bad_entry_fails_whole_job(klaviyo):
    def entry(profile: dict, uid: str) -> dict:
        inner = event("Viewed Product", profile, unique_id=uid)["data"]["attributes"]
        profile_doc = inner.pop("profile")
        return {
            "type": "event-bulk-create",
            "attributes": {"profile": profile_doc, "events": {"data": [{"type": "event", "attributes": inner}]}},
        }

    good, bad = entry({"email": "a@example.com"}, "1"), entry({"email": "b@example.com", "phone_number": "12"}, "2")
    body = {"data": {"type": "event-bulk-create-job", "attributes": {"events-bulk-create": {"data": [good, bad]}}}}
    response = post("/api/event-bulk-create-jobs", body)
    assert response.status_code == 400
    pointer = response.json()["errors"][0]["source"]["pointer"]
    assert pointer == "/data/attributes/events-bulk-create/data/1/attributes/profile/data/attributes/phone_number"
    assert not klaviyo.recorded()  # the good entry was not kept either


def test_klaviyo_double_rate_limit_429_carries_retry_after(klaviyo):
    # "will receive HTTP 429 errors in the event either a burst or steady rate limit is reached"
    klaviyo.faults.rate_limit_next, klaviyo.faults.retry_after = 1, "7"
    response = post("/api/events", event("Viewed Product", {"email": "a@example.com"}))
    assert response.status_code == 429 and response.headers["Retry-After"] == "7"
    assert post("/api/events", event("Viewed Product", {"email": "a@example.com"})).status_code == 202


def test_klaviyo_double_cloudflare_burst_is_html_403_then_json_permission_403(klaviyo):
    # klaviyo-api-python#84: 403 with 'Content-Type': 'text/html' and 'cf-mitigated': 'challenge'
    klaviyo.faults.html_403_next = 2
    for _ in range(2):
        response = post("/api/events", event("Viewed Product", {"email": "a@example.com"}))
        assert response.status_code == 403 and response.headers["Content-Type"].startswith("text/html")
    klaviyo.scopes.discard("events:write")
    response = post("/api/events", event("Viewed Product", {"email": "a@example.com"}))
    assert response.status_code == 403 and response.json()["errors"][0]["code"] == "permission_denied"
