"""The consent matrix (issue 15 Must show): every combination of analytics consent, marketing
consent and checkout's buyerAcceptsEmailMarketing, under both merchant policies, and what was
stored, forwarded to Klaviyo and subscribed.

A Shopify checkout_started (its checkout carries the shopper's email) goes through the real
ingest endpoint, identity resolution and the delivery engine; Klaviyo is faked with `responses`.
"""

from __future__ import annotations

import itertools
import json
from datetime import timedelta

import orjson
import pytest
import responses
import time_machine
from django.utils import timezone

from destinations.services import deliver_pending
from events.models import Event
from tests.destinations.conftest import KLAVIYO, DestinationFactory
from tests.events import shopify_payloads as p

pytestmark = pytest.mark.django_db

STATES = (True, False, None)
POLICIES = ("anonymise", "drop")
EMAIL = "ada@lovelace-engines.com"
SUBSCRIBE_URL = f"{KLAVIYO}/api/profile-subscription-bulk-create-jobs"


def _status(analytics, marketing) -> dict:
    status = {"preferencesProcessingAllowed": True, "saleOfDataAllowed": False}
    if analytics is not None:
        status["analyticsProcessingAllowed"] = analytics
    if marketing is not None:
        status["marketingAllowed"] = marketing
    return status


def expected(policy, analytics, marketing, accepts) -> tuple[str, bool, bool]:
    """(stored, forwarded, subscribed) as the issue states the rules."""
    if analytics is False:
        return ("nothing" if policy == "drop" else "anonymous"), False, False
    subscribed = accepts is True or (marketing is True and accepts is not False)
    return "identified", True, subscribed


CASES = list(itertools.product(POLICIES, STATES, STATES, STATES))


@pytest.mark.parametrize(("policy", "analytics", "marketing", "accepts"), CASES)
def test_consent_matrix_stored_forwarded_subscribed(
    client, merchant, policy, analytics, marketing, accepts, django_capture_on_commit_callbacks
):
    merchant.consent_policy = policy
    merchant.save()
    DestinationFactory(merchant=merchant, kind="klaviyo", list_id="LIST1")
    raw = p.checkout_started()
    raw["timestamp"] = None  # now
    raw["data"]["checkout"]["email"] = EMAIL  # a real-looking address (example.com is a placeholder identity ignores)
    if accepts is not None:
        raw["data"]["checkout"]["buyerAcceptsEmailMarketing"] = accepts
    body = {"writeKey": merchant.write_key, **raw, "consent": _status(analytics, marketing)}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/events", data=orjson.dumps(body), content_type="text/plain")
    assert response.status_code == 202

    with responses.RequestsMock(assert_all_requests_are_fired=False) as klaviyo:
        klaviyo.post(f"{KLAVIYO}/api/profile-import", status=201, json={"data": {"type": "profile", "id": "01P"}})
        klaviyo.post(SUBSCRIBE_URL, status=202)
        klaviyo.post(f"{KLAVIYO}/api/events", status=202)
        with time_machine.travel(timezone.now() + timedelta(minutes=10), tick=False):  # past any send delay
            deliver_pending(event_ids=list(Event.objects.values_list("id", flat=True)))
        urls = [c.request.url for c in klaviyo.calls]
        bodies = {c.request.url: c.request.body for c in klaviyo.calls}

    stored, forwarded, subscribed = expected(policy, analytics, marketing, accepts)
    event = Event.objects.filter(merchant=merchant).first()
    if stored == "nothing":
        assert event is None
    elif stored == "anonymous":
        assert (event.anonymous_id, event.identifiers, event.traits) == ("", {}, {})
        assert EMAIL not in json.dumps([event.raw, event.context, event.properties])
        assert event.profile_id is None
    else:
        assert event.identifiers["email"] == EMAIL
        assert event.context["consent"].get("analytics") is analytics
    assert (f"{KLAVIYO}/api/events" in urls) is forwarded
    assert (SUBSCRIBE_URL in urls) is subscribed
    if subscribed:
        job = json.loads(bodies[SUBSCRIBE_URL])
        assert job["data"]["relationships"]["list"]["data"]["id"] == "LIST1"
