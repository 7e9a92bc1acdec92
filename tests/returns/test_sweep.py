from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from django_q.models import Schedule

from events.models import Event
from returns import services
from returns.models import LoopWebhook, WebhookState
from tests.returns.conftest import fixture_bytes

pytestmark = pytest.mark.django_db


def _webhook(merchant, state, name="return_created.json", digest="a"):
    return LoopWebhook.objects.create(
        merchant=merchant,
        trigger="return.created",
        return_id="1673",
        body=fixture_bytes(name).decode(),
        body_sha256=digest * 64,
        signature_valid=True,
        state=state,
    )


def test_sweep_loop_webhooks_requeues_only_stale_received(merchant, django_capture_on_commit_callbacks):
    stale = _webhook(merchant, WebhookState.RECEIVED, digest="a")
    waiting = _webhook(merchant, WebhookState.WAITING, name="label_created.json", digest="b")
    with time_machine.travel(timezone.now() + timedelta(minutes=6), tick=False):
        fresh = _webhook(merchant, WebhookState.RECEIVED, name="return_closed.json", digest="c")
        with django_capture_on_commit_callbacks(execute=True):
            assert services.sweep_loop_webhooks() == 1
    stale.refresh_from_db()
    fresh.refresh_from_db()
    waiting.refresh_from_db()
    assert (stale.state, fresh.state) == ("processed", "received")
    assert waiting.state == "processed"  # its return arrived with the swept webhook
    assert sorted(Event.objects.values_list("type", flat=True)) == ["Return Created", "Return Label Created"]


def test_prune_loop_webhooks_keeps_recent_waiting_and_failed(merchant, settings):
    settings.RETENTION_WEBHOOKS_DAYS = 30
    old_done = _webhook(merchant, WebhookState.PROCESSED, digest="a")
    old_ignored = _webhook(merchant, WebhookState.IGNORED, digest="b")
    old_waiting = _webhook(merchant, WebhookState.WAITING, digest="c")
    old_failed = _webhook(merchant, WebhookState.FAILED, digest="d")
    with time_machine.travel(timezone.now() + timedelta(days=31), tick=False):
        recent = _webhook(merchant, WebhookState.PROCESSED, digest="e")
        assert services.prune_loop_webhooks() == 2
    remaining = set(LoopWebhook.objects.values_list("id", flat=True))
    assert remaining == {old_waiting.id, old_failed.id, recent.id}
    assert old_done.id not in remaining and old_ignored.id not in remaining


def test_returns_schedules_are_installed():
    schedules = dict(Schedule.objects.filter(name__startswith="returns.").values_list("name", "func"))
    assert schedules == {"returns.sweep_loop_webhooks": "returns.tasks.sweep_loop_webhooks"}
    # Loop webhook bodies are pruned by the project-wide pipeline.prune_data schedule only
    assert Schedule.objects.filter(func="pipeline.tasks.prune_data").exists()
