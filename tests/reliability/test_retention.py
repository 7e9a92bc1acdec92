"""Data retention (prune_data + its schedule) and erasure that reaches the raw payloads."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule

from destinations.models import Delivery, DeliveryAttempt
from destinations.services import create_destination
from events.models import Event
from identity.models import Profile
from identity.services import forget_profile
from pipeline.retention import prune_data
from returns.models import LoopReturn, LoopWebhook
from returns.parsing import sign_body
from tests.factories import EventFactory
from tests.reliability.test_security import _dump_database

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[1] / "returns" / "fixtures"


def _aged(event: Event, days: float) -> Event:
    Event.objects.filter(pk=event.pk).update(received_at=timezone.now() - timedelta(days=days))
    return event


def _delivery(event: Event, destination, status: str) -> Delivery:
    return Delivery.objects.create(
        event=event,
        destination=destination,
        status=status,
        next_attempt_at=timezone.now(),
        idempotency_key=event.event_id,
    )


def test_prune_data_applies_every_retention_and_never_drops_an_undelivered_event(merchant, settings):
    settings.RETENTION_EVENTS_DAYS, settings.RETENTION_DELIVERY_ATTEMPTS_DAYS, settings.RETENTION_WEBHOOKS_DAYS = (
        90,
        14,
        30,
    )
    destination = create_destination(merchant, kind="klaviyo", api_key="pk_test_retention")
    old_done = _aged(EventFactory(merchant=merchant, raw={"email": "old@shopper.io"}), 91)
    old_pending = _aged(EventFactory(merchant=merchant), 91)
    old_sending = _aged(EventFactory(merchant=merchant), 91)
    recent = _aged(EventFactory(merchant=merchant), 89)
    done = _delivery(old_done, destination, "succeeded")
    _delivery(old_pending, destination, "pending")
    Delivery.objects.create(
        event=old_sending,
        destination=destination,
        status="sending",
        leased_until=timezone.now(),
        next_attempt_at=timezone.now(),
        idempotency_key="s",
    )
    recent_delivery = _delivery(recent, destination, "succeeded")
    old_attempt = DeliveryAttempt.objects.create(
        delivery=recent_delivery, attempt=1, step="event", method="POST", url="https://x"
    )
    DeliveryAttempt.objects.filter(pk=old_attempt.pk).update(created_at=timezone.now() - timedelta(days=15))
    new_attempt = DeliveryAttempt.objects.create(
        delivery=recent_delivery, attempt=2, step="event", method="POST", url="https://x"
    )
    DeliveryAttempt.objects.create(delivery=done, attempt=1, step="event", method="POST", url="https://x")
    hooks = {
        state: LoopWebhook.objects.create(merchant=merchant, body="{}", body_sha256=state, state=state)
        for state in ("processed", "ignored", "failed", "waiting")
    }
    LoopWebhook.objects.filter(pk__in=[h.pk for h in hooks.values()]).update(
        received_at=timezone.now() - timedelta(days=31)
    )

    counts = prune_data()

    assert counts == {"events": 1, "delivery_attempts": 1, "loop_webhooks": 2, "client_hints": 0}
    assert set(Event.objects.values_list("pk", flat=True)) == {old_pending.pk, old_sending.pk, recent.pk}
    assert not Delivery.objects.filter(pk=done.pk).exists()
    assert list(DeliveryAttempt.objects.values_list("pk", flat=True)) == [new_attempt.pk]
    assert set(LoopWebhook.objects.values_list("state", flat=True)) == {"failed", "waiting"}  # kept for a human


def test_prune_data_zero_keeps_everything(merchant):
    _aged(EventFactory(merchant=merchant), 10_000)
    assert prune_data(events_days=0, attempts_days=0, webhooks_days=0) == {
        "events": 0,
        "delivery_attempts": 0,
        "loop_webhooks": 0,
        "client_hints": 0,
    }
    assert Event.objects.count() == 1


def test_prune_data_command_prints_counts(merchant, capsys):
    _aged(EventFactory(merchant=merchant), 400)
    call_command("prune_data", "--events-days", "365")
    assert json.loads(capsys.readouterr().out) == {
        "events": 1,
        "delivery_attempts": 0,
        "loop_webhooks": 0,
        "client_hints": 0,
    }


def test_retention_and_safety_net_schedules_are_created_by_migrations():
    prune = Schedule.objects.get(name="pipeline.prune_data")
    assert (prune.func, prune.schedule_type, prune.repeats) == ("pipeline.tasks.prune_data", "D", -1)
    assert not Schedule.objects.filter(name="config.prune_data").exists()  # moved, not doubled
    requeue = Schedule.objects.get(name="events.requeue_unprocessed_events")
    assert (requeue.func, requeue.schedule_type, requeue.minutes) == ("events.tasks.requeue_unprocessed_events", "I", 1)


def test_erasure_removes_the_customers_pii_everywhere_including_raw_payloads(
    client, merchant, django_capture_on_commit_callbacks
):
    # Example.com is a reserved documentation domain, junk to identity resolution (issue 12).
    body = (FIXTURES / "return_created.json").read_bytes().replace(b"Jane.Doe@Example.com", b"Jane.Doe@shopper.io")
    other = body.replace(b"Jane.Doe@shopper.io", b"someone@else.com").replace(b'"id": 1673', b'"id": 1674')
    other = other.replace(b"12 Market St", b"99 Other Rd").replace(b"Jane", b"Otto")
    url = f"/api/v1/returns/loop/{merchant.returns_webhook_token}"
    for raw in (body, other):
        signature = sign_body(merchant.returns_webhook_secret, raw)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, data=raw, content_type="application/json", HTTP_X_LOOP_SIGNATURE=signature)
        assert response.status_code == 200
    pixel = EventFactory(
        merchant=merchant,
        identifiers={"email": "jane.doe@shopper.io"},
        raw={"identifiers": {"email": "JANE.DOE@shopper.io"}},
    )
    from identity.services import resolve_events

    resolve_events(events=[pixel])
    profile = Profile.objects.get(email="jane.doe@shopper.io")
    assert LoopWebhook.objects.count() == 2 and LoopReturn.objects.count() == 2
    assert "jane.doe@shopper.io" in _dump_database().lower()

    forget_profile(profile, actor="dpo@shop")

    dump = _dump_database().lower()
    for pii in ("jane.doe@shopper.io", "12 market st", "jane"):
        assert pii not in dump, pii
    assert "someone@else.com" in dump  # the other customer's data is untouched
    assert LoopWebhook.objects.count() == 1 and LoopReturn.objects.count() == 1


def test_prune_data_blanks_click_id_client_hints_after_their_retention(merchant, settings):
    from identity.models import Identifier
    from tests.identity.factories import IdentifierFactory

    settings.IDENTITY_CLIENT_HINT_RETENTION_HOURS = 24
    old = IdentifierFactory(profile__merchant=merchant, type="fbclid", value="F1", hint="a:ios:0123456789ab")
    Identifier.objects.filter(pk=old.pk).update(first_seen=timezone.now() - timedelta(hours=25))
    fresh = IdentifierFactory(profile__merchant=merchant, type="fbclid", value="F2", hint="a:ios:0123456789ab")
    assert prune_data(events_days=0, attempts_days=0, webhooks_days=0)["client_hints"] == 1
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert old.hint == "" and fresh.hint == "a:ios:0123456789ab"
