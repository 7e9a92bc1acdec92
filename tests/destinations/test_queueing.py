"""One queue function per delivery task: on commit, de-duplicated against a task queued and not started."""

from __future__ import annotations

import pytest

from destinations.models import Delivery, DeliveryStatus
from destinations.services import (
    delivery_started,
    replay_dead_deliveries,
    schedule_deliveries,
    set_api_key,
    sweep_deliveries,
)
from tests.destinations.conftest import KLAVIYO_KEY, DestinationFactory, ProfileFactory, make_event

pytestmark = pytest.mark.django_db

TASK = "destinations.tasks.deliver_destination"


@pytest.fixture
def queued(monkeypatch):
    sent: list[tuple] = []
    monkeypatch.setattr("config.queue.async_task", lambda func, *args, **kwargs: sent.append((func, *args)))
    return sent


@pytest.fixture
def backlog(settings, merchant, django_capture_on_commit_callbacks, queued):
    """Five due deliveries of one Klaviyo destination (the scheduling's own task already taken off)."""
    settings.DELIVERY_COALESCE, settings.DELIVERY_BATCH_SIZE = True, 2
    destination = DestinationFactory(merchant=merchant, kind="klaviyo", api_key=KLAVIYO_KEY, profile_sync="off")
    profile = ProfileFactory(merchant=merchant, email="bo@shopper.io")
    events = [make_event(merchant, profile=profile, event_id=f"q{i}", type="AddToCart") for i in range(5)]
    with django_capture_on_commit_callbacks(execute=True):
        schedule_deliveries(events=events)
    delivery_started(destination.pk)  # as if that task had started: nothing is pending now
    queued.clear()
    return destination


def test_queueing_sweep_fans_out_a_backlog_on_commit(backlog, queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert sweep_deliveries() == {backlog.pk: 5}
    assert queued == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert queued == [(TASK, backlog.pk)] * 3  # ceil(5 / DELIVERY_BATCH_SIZE 2) workers on the backlog


def test_queueing_sweep_counts_the_task_already_queued(backlog, queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        sweep_deliveries()
    queued.clear()
    with django_capture_on_commit_callbacks(execute=True):  # none of the three has started yet
        sweep_deliveries()
    assert queued == [(TASK, backlog.pk)] * 2  # the pending one counts: three in all


def test_queueing_staff_operations_queue_one_task_while_it_is_pending(
    backlog, queued, django_capture_on_commit_callbacks
):
    Delivery.objects.filter(destination=backlog).update(status=DeliveryStatus.DEAD)
    with django_capture_on_commit_callbacks(execute=True):
        set_api_key(backlog, api_key="pk_new_key_000000")
        assert replay_dead_deliveries(destination=backlog) == 5
    assert queued == [(TASK, backlog.pk)]  # the replay found the key change's task still pending
