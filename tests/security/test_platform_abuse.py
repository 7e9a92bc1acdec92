"""Findings 8, 9 and 11: injection into platform URLs, credentials on redirects, old webhooks replayed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import responses
import time_machine
from django.core.exceptions import ValidationError
from responses import matchers

from destinations.clients import klaviyo
from destinations.clients.base import ClientConfig, Person
from destinations.clients.klaviyo import KlaviyoClient
from destinations.services import create_destination
from destinations.services.operations import DestinationConfigError
from destinations.services.transport import Recorder
from events.models import Event
from returns.client import LoopReturnsClient
from returns.exceptions import LoopApiError
from returns.models import LoopWebhook, LoopWebhookDigest
from returns.services import prune_loop_webhooks
from tests.returns.conftest import fixture_bytes, fixture_json

pytestmark = pytest.mark.django_db
ATTACK = pytest.mark.xfail(strict=True, reason="issue 14: the attack still works before its fix")

KLAVIYO = "https://a.klaviyo.com"


# --- 8. path and query injection -----------------------------------------------------------------


@pytest.mark.parametrize("list_id", ["../../api/profiles", "Y6nRLr/../../x", "Y6n?x=1", "Y6n#f", "a b"])
def test_platform_ids_outside_the_alphabet_are_refused_on_configuration(merchant, list_id):
    with pytest.raises((DestinationConfigError, ValidationError)):
        create_destination(merchant, kind="klaviyo", api_key="pk_live_abc", list_id=list_id)


def test_platform_a_list_id_cannot_rewrite_the_klaviyo_path_even_if_stored(merchant):
    client = KlaviyoClient(
        ClientConfig(api_key="pk", base_url=KLAVIYO, list_id="../../api/profiles", revision="2025-10-15")
    )
    with responses.RequestsMock() as mock:
        mock.post(f"{KLAVIYO}/api/profile-import", json={"data": {"id": "01P"}}, status=200)
        outcome = client.sync_profile(Person(email="a@example.com"), Recorder(client, dry_run=False))
        paths = [call.request.path_url for call in mock.calls]
    assert not outcome.ok
    assert paths == ["/api/profile-import"]  # no request to /api/profiles or any rewritten path


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("jane@example.com", 'equals(email,"jane@example.com")'),
        ('a"),equals(email,"victim@example.com', "equals(email,'a\"),equals(email,\"victim@example.com')"),
    ],
)
def test_platform_klaviyo_filter_values_are_quoted_so_they_stay_one_value(value, expected):
    assert klaviyo.filter_equals("email", value) == expected


def test_platform_klaviyo_filter_refuses_what_it_cannot_quote():
    for value in ["a\"b'c", "a\\b", "a\nb"]:
        with pytest.raises(ValueError):
            klaviyo.filter_equals("email", value)
    with pytest.raises(ValueError):
        klaviyo.filter_equals("email),any(id", "x")


def test_platform_profile_lookup_sends_the_escaped_filter(merchant):
    config = ClientConfig(api_key="pk", base_url=KLAVIYO, profile_sync="update_only", revision="2025-10-15")
    email = 'x"),equals(email,"victim@example.com'
    with responses.RequestsMock() as mock:
        mock.get(
            f"{KLAVIYO}/api/profiles",
            match=[matchers.query_param_matcher({"filter": klaviyo.filter_equals("email", email)})],
            json={"data": []},
        )
        client = KlaviyoClient(config)
        client.find_profile_id(Person(email=email), Recorder(client, dry_run=False))


# --- 9. the Loop API key never follows a redirect ----------------------------------------------------


def test_platform_loop_backfill_does_not_send_its_key_to_a_redirect_target():
    client = LoopReturnsClient(api_key="loop-key-secret", base_url="https://api.loopreturns.com")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(
            "https://api.loopreturns.com/api/v1/warehouse/return/list",
            status=302,
            headers={"Location": "https://evil.example/collect"},
        )
        evil = mock.get("https://evil.example/collect", json={"returns": []})
        with pytest.raises(LoopApiError, match="redirect"):
            list(client.iter_returns(since=datetime(2026, 1, 1, tzinfo=UTC), until=datetime(2026, 1, 2, tzinfo=UTC)))
    assert evil.call_count == 0


# --- 11. old webhooks replayed after retention ---------------------------------------------------------


def test_platform_a_webhook_replayed_after_its_body_is_pruned_is_still_a_duplicate(post_loop, merchant, settings):
    settings.RETENTION_WEBHOOKS_DAYS = 30
    body = fixture_bytes("return_created.json")
    assert post_loop(body).json()["duplicate"] is False
    with time_machine.travel(datetime.now(UTC) + timedelta(days=31)):
        prune_loop_webhooks(days=30)
        assert not LoopWebhook.objects.exists()  # the body (PII) is gone, its digest stays
        assert LoopWebhookDigest.objects.filter(merchant=merchant).count() == 1
        Event.objects.all().delete()  # as if event retention had run too
        replay = post_loop(body)
    assert replay.status_code == 200 and replay.json()["duplicate"] is True
    assert not Event.objects.exists()  # nothing sent to Klaviyo again


def test_platform_a_stale_webhook_is_refused(post_loop, merchant, settings):
    settings.LOOP_WEBHOOK_MAX_AGE_DAYS = 90
    payload = fixture_json("return_created.json")
    payload["created_at"] = (datetime.now(UTC) - timedelta(days=200)).isoformat()
    response = post_loop(json.dumps(payload))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "stale_webhook"
    assert not LoopWebhook.objects.exists() and not Event.objects.exists()


def test_platform_a_fresh_webhook_for_an_old_return_is_accepted(post_loop, merchant, settings):
    settings.LOOP_WEBHOOK_MAX_AGE_DAYS = 90
    payload = fixture_json("return_created.json")
    payload["created_at"] = (datetime.now(UTC) - timedelta(days=200)).isoformat()
    payload["updated_at"] = datetime.now(UTC).isoformat()
    assert post_loop(json.dumps(payload)).status_code == 200
