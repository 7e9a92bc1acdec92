"""Staff operations: test the key, replay, backfill, prune, and the management commands."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import responses
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone
from responses import matchers

from destinations.models import Delivery, DeliveryAttempt, DeliveryStatus, Destination, DestinationStatus
from destinations.services import (
    backfill_destination,
    create_destination,
    prune_delivery_attempts,
    replay_dead_deliveries,
    replay_delivery,
    schedule_deliveries,
)
from destinations.services import test_destination as check_destination
from destinations.services.operations import DestinationConfigError
from tests.destinations.conftest import KLAVIYO, KLAVIYO_KEY, LOOPS, LOOPS_KEY, make_event
from tests.fakes.core import mount
from tests.fakes.klaviyo import KlaviyoDouble


def test_test_destination_loops_valid_key(mocked, loops):
    mocked.get(
        f"{LOOPS}/api/v1/api-key",
        json={"success": True, "teamName": "Acme"},
        match=[matchers.header_matcher({"Authorization": f"Bearer {LOOPS_KEY}"})],
    )
    result = check_destination(loops)
    assert (result.ok, result.status_code, result.message) == (True, 200, "API key is valid (team Acme).")


def test_test_destination_loops_invalid_key_pauses_with_platform_message(mocked, loops):
    mocked.get(f"{LOOPS}/api/v1/api-key", status=401, json={"success": False, "message": "Invalid API key"})
    result = check_destination(loops)
    assert (result.ok, result.status_code, result.message) == (False, 401, "Invalid API key")
    loops.refresh_from_db()
    assert (loops.status, loops.last_error) == (DestinationStatus.ERROR, "Invalid API key")


KLAVIYO_READ_HEADERS = {
    "Authorization": f"Klaviyo-API-Key {KLAVIYO_KEY}",
    "revision": "2026-07-15",
    "accept": "application/vnd.api+json",
}
ACCOUNT = {
    "data": [{"type": "account", "id": "AbC123", "attributes": {"contact_information": {"organization_name": "Acme"}}}]
}
PROBES = {  # path -> query: one item per resource, the scope the Get endpoint names in the spec
    "/api/events": {"page[size]": "1"},
    "/api/profiles": {"page[size]": "1"},
    "/api/lists": {"page[size]": "1"},
    "/api/flows": {"page[size]": "1"},
    "/api/metrics": {},
}
DENIED = {"errors": [{"status": 403, "code": "permission_denied", "detail": "You do not have permission."}]}


def expect_key_check(mocked, *, denied=(), html=(), account_status=200):
    match = [matchers.header_matcher(KLAVIYO_READ_HEADERS)]
    account = ACCOUNT if account_status == 200 else DENIED
    mocked.get(f"{KLAVIYO}/api/accounts", status=account_status, json=account, match=match)
    for path, query in PROBES.items():
        rule = [*match, matchers.query_param_matcher(query)]
        if path in denied:
            mocked.get(f"{KLAVIYO}{path}", status=403, json=DENIED, match=rule)
        elif path in html:
            mocked.get(f"{KLAVIYO}{path}", status=403, body="<html>Cloudflare</html>", match=rule)
        else:
            mocked.get(f"{KLAVIYO}{path}", json={"data": []}, match=rule)


def test_test_destination_klaviyo_checks_the_key_without_writing_and_resumes(mocked, klaviyo):
    """The Test creates nothing in the merchant's Klaviyo: every request it makes is a GET."""
    klaviyo.status = DestinationStatus.ERROR
    klaviyo.save()
    expect_key_check(mocked)
    result = check_destination(klaviyo)
    assert {call.request.method for call in mocked.calls} == {"GET"}
    assert (result.ok, result.status_code, result.missing_scopes) == (True, 200, {})
    assert result.message == (
        "API key is valid (account Acme). Not checkable without writing: "
        "data-privacy:write, events:write, flows:write, lists:write, profiles:write."
    )
    assert {f.name: f.status for f in result.features} == {
        "events": "ok",
        "profiles": "ok",
        "lists": "ok",
        "flows": "ok",
        "metrics": "ok",
        "reports": "ok",
        "erasure": "ok",
    }
    klaviyo.refresh_from_db()
    assert klaviyo.status == DestinationStatus.ACTIVE and klaviyo.last_success_at


def test_test_destination_klaviyo_lists_missing_scopes_per_feature(mocked, klaviyo):
    """A key made for delivery only: flows, metrics and reports are missing, delivery still works."""
    expect_key_check(mocked, denied={"/api/flows", "/api/metrics"})
    result = check_destination(klaviyo)
    assert result.ok
    assert result.missing_scopes == {
        "flows": ("flows:read", "flows:write"),
        "metrics": ("metrics:read",),
        "reports": ("flows:read", "metrics:read"),
    }
    assert "Missing scopes: flows (flows:read, flows:write); metrics (metrics:read); reports" in result.message


def test_test_destination_klaviyo_without_events_scope_is_not_ok_and_does_not_resume(mocked, klaviyo):
    klaviyo.status = DestinationStatus.ERROR
    klaviyo.save()
    expect_key_check(mocked, denied={"/api/events"})
    result = check_destination(klaviyo)
    assert not result.ok and result.missing_scopes == {"events": ("events:write",)}
    klaviyo.refresh_from_db()
    assert klaviyo.status == DestinationStatus.ERROR and "events (events:write)" in klaviyo.last_error


def test_test_destination_klaviyo_html_403_is_not_a_missing_scope(mocked, klaviyo):
    expect_key_check(mocked, html={"/api/flows"})
    result = check_destination(klaviyo)
    flows = next(f for f in result.features if f.name == "flows")
    assert result.ok and flows.status == "unknown" and not flows.missing
    assert "Could not check: flows (HTTP 403" in result.message


def test_test_destination_klaviyo_key_without_accounts_scope_is_still_valid(mocked, klaviyo):
    expect_key_check(mocked, account_status=403)
    result = check_destination(klaviyo)
    assert result.ok and result.missing_scopes == {"account": ("accounts:read",)}


def test_test_destination_klaviyo_refused_key_pauses(mocked, klaviyo):
    body = {"errors": [{"status": 401, "code": "not_authenticated", "detail": "Incorrect authentication credentials."}]}
    mocked.get(f"{KLAVIYO}/api/accounts", status=401, json=body)
    result = check_destination(klaviyo)
    assert (result.ok, result.status_code, result.message) == (False, 401, "Incorrect authentication credentials.")
    klaviyo.refresh_from_db()
    assert klaviyo.status == DestinationStatus.ERROR


def test_test_destination_klaviyo_reports_platform_error(mocked, klaviyo):
    detail = "Your request could not be processed."
    mocked.get(f"{KLAVIYO}/api/accounts", status=400, json={"errors": [{"detail": detail}]})
    assert check_destination(klaviyo).message == detail
    klaviyo.refresh_from_db()
    assert klaviyo.status == DestinationStatus.ACTIVE  # only a refused key pauses


def test_create_destination_validates_and_keeps_last4(merchant):
    destination = create_destination(merchant, kind="loops", api_key=" abcdefgh1234 ")
    assert destination.api_key == "abcdefgh1234" and destination.api_key_last4 == "1234"
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM destinations_destination WHERE id = %s", [destination.pk])
        raw = cursor.fetchone()[0]
    assert raw.startswith("fernet:") and "abcdefgh1234" not in raw  # encrypted at rest
    with pytest.raises(DestinationConfigError):
        create_destination(merchant, kind="mailchimp", api_key="x")
    with pytest.raises(DestinationConfigError):
        create_destination(merchant, kind="loops", api_key="  ")


def _dead(merchant, destination, n):
    events = [
        make_event(
            merchant, event_id=f"d{i}", identifiers={"email": "a@b.co"}, timestamp=timezone.now() - timedelta(days=i)
        )
        for i in range(n)
    ]
    schedule_deliveries(events=events)
    rows = Delivery.objects.filter(destination=destination)
    rows.update(status=DeliveryStatus.DEAD, attempts=3, last_error="HTTP 400: x")
    return rows


def test_replay_delivery_resets_and_queues(merchant, klaviyo, django_capture_on_commit_callbacks):
    delivery = _dead(merchant, klaviyo, 1).get()
    with django_capture_on_commit_callbacks() as callbacks:
        replay_delivery(delivery)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)
    assert len(callbacks) == 1


def test_replay_dead_deliveries_by_time_range(merchant, klaviyo):
    _dead(merchant, klaviyo, 5)
    now = timezone.now()
    count = replay_dead_deliveries(
        destination=klaviyo, since=now - timedelta(days=2, hours=12), until=now - timedelta(hours=12)
    )
    assert count == 2  # the events from 1 and 2 days ago
    assert Delivery.objects.filter(status=DeliveryStatus.PENDING).count() == 2
    assert replay_dead_deliveries(destination=klaviyo) == 3


def test_backfill_destination_is_idempotent(merchant, klaviyo):
    for i in range(4):
        make_event(
            merchant,
            event_id=f"b{i}",
            identifiers={"email": "a@b.co"},
            timestamp=timezone.now() - timedelta(days=i * 3),
        )
    assert backfill_destination(klaviyo, days=7) == 3
    assert backfill_destination(klaviyo, days=7) == 0
    assert Delivery.objects.filter(destination=klaviyo).count() == 3


def test_prune_delivery_attempts_keeps_recent(merchant, klaviyo):
    delivery = _dead(merchant, klaviyo, 1).get()
    old = DeliveryAttempt.objects.create(delivery=delivery, attempt=1, step="event", method="POST", url="http://x")
    DeliveryAttempt.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=15))
    DeliveryAttempt.objects.create(delivery=delivery, attempt=2, step="event", method="POST", url="http://x")
    assert prune_delivery_attempts() == 1
    assert DeliveryAttempt.objects.count() == 1


def test_add_destination_command_prints_json_without_key(merchant, capsys):
    call_command(
        "add_destination",
        str(merchant.pk),
        "klaviyo",
        "--api-key",
        "pk_secret_key_7777",
        "--list-id",
        "L1",
        "--suffix",
        " - Recapture",
        "--dry-run",
    )
    out = capsys.readouterr().out
    data = json.loads(out)
    assert "pk_secret_key_7777" not in out
    assert (data["kind"], data["api_key_last4"], data["list_id"], data["metric_suffix"], data["dry_run"]) == (
        "klaviyo",
        "7777",
        "L1",
        " - Recapture",
        True,
    )
    assert Destination.objects.get(pk=data["id"]).api_key == "pk_secret_key_7777"
    with pytest.raises(CommandError):
        call_command("add_destination", "999999", "loops", "--api-key", "x")


def test_replay_deliveries_command(merchant, klaviyo, capsys):
    rows = _dead(merchant, klaviyo, 2)
    call_command("replay_deliveries", "--delivery", str(rows.first().pk))
    assert json.loads(capsys.readouterr().out)["replayed"] == 1
    call_command("replay_deliveries", "--destination", str(klaviyo.pk))
    assert json.loads(capsys.readouterr().out) == {"replayed": 1, "destination": klaviyo.pk}
    with pytest.raises(CommandError):
        call_command("replay_deliveries", "--destination", str(klaviyo.pk), "--since", "yesterday")


def test_test_destination_on_the_klaviyo_double_reports_a_delivery_only_key_and_creates_nobody(klaviyo):
    """Merchant-level: a key made with events/profiles/lists only; Test says flows, metrics and
    reports lack scopes, and the merchant's Klaviyo holds no new profile or event afterwards."""
    double = KlaviyoDouble()
    double.scopes -= {"flows:read", "flows:write", "metrics:read"}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mount(rsps, double, KLAVIYO)
        result = check_destination(klaviyo)
    assert result.ok
    assert result.missing_scopes == {
        "flows": ("flows:read", "flows:write"),
        "metrics": ("metrics:read",),
        "reports": ("flows:read", "metrics:read"),
    }
    assert (double.profiles, double.events) == ({}, [])
    assert {entry.method for entry in double.log} == {"GET"}
