"""Delivery tasks with DELIVERY_COALESCE: one queued task per destination drains what is due for it;
without it, the per-event task sends only its events' deliveries."""

from __future__ import annotations

import pytest
from responses import matchers

from destinations import tasks
from destinations.models import Delivery, DeliveryStatus
from destinations.services import schedule_deliveries
from tests.destinations.conftest import KLAVIYO, KLAVIYO_KEY, DestinationFactory, ProfileFactory, make_event


@pytest.fixture
def scheduled(merchant):
    DestinationFactory(merchant=merchant, kind="klaviyo", api_key=KLAVIYO_KEY, profile_sync="off")
    profile = ProfileFactory(merchant=merchant, email="ann@example.com")
    events = [make_event(merchant, profile=profile, event_id=f"e{i}", type="AddToCart") for i in range(3)]
    schedule_deliveries(events=events)
    return events


def _expect_events(mocked, count: int) -> None:
    for _ in range(count):
        mocked.post(
            f"{KLAVIYO}/api/events",
            status=202,
            match=[matchers.header_matcher({"Authorization": f"Klaviyo-API-Key {KLAVIYO_KEY}"})],
        )


def test_deliver_events_not_coalesced_sends_only_its_own(settings, mocked, scheduled):
    settings.DELIVERY_COALESCE = False
    _expect_events(mocked, 1)
    tasks.deliver_events([scheduled[0].pk])
    statuses = dict(Delivery.objects.values_list("event__event_id", "status"))
    assert statuses == {"e0": DeliveryStatus.SUCCEEDED, "e1": DeliveryStatus.PENDING, "e2": DeliveryStatus.PENDING}


# --- one queued delivery task per destination ----------------------------------------------------


@pytest.fixture
def queued(monkeypatch):
    sent: list[tuple] = []
    monkeypatch.setattr("config.queue.async_task", lambda func, *args, **kwargs: sent.append((func, *args)))
    return sent


def _schedule(merchant, names: list[str], capture):
    profile = ProfileFactory(merchant=merchant, email="bo@example.com")
    events = [make_event(merchant, profile=profile, event_id=n, type="AddToCart") for n in names]
    with capture(execute=True):
        schedule_deliveries(events=events)
    return events


def test_scheduling_queues_one_task_per_destination_while_it_is_pending(
    settings, merchant, queued, django_capture_on_commit_callbacks
):
    settings.DELIVERY_COALESCE = True
    klaviyo = DestinationFactory(merchant=merchant, kind="klaviyo", api_key=KLAVIYO_KEY, profile_sync="off")
    loops = DestinationFactory(merchant=merchant, kind="loops")
    _schedule(merchant, ["a1"], django_capture_on_commit_callbacks)
    _schedule(merchant, ["a2", "a3"], django_capture_on_commit_callbacks)  # both tasks still queued
    assert sorted(queued) == sorted(
        [("destinations.tasks.deliver_destination", klaviyo.pk), ("destinations.tasks.deliver_destination", loops.pk)]
    )


def test_delivery_task_start_lets_new_deliveries_queue_another(
    settings, merchant, mocked, queued, django_capture_on_commit_callbacks
):
    settings.DELIVERY_COALESCE = True
    klaviyo = DestinationFactory(merchant=merchant, kind="klaviyo", api_key=KLAVIYO_KEY, profile_sync="off")
    _schedule(merchant, ["b1"], django_capture_on_commit_callbacks)
    _expect_events(mocked, 1)
    tasks.deliver_destination(klaviyo.pk)  # the worker runs it: the marker goes first
    _schedule(merchant, ["b2"], django_capture_on_commit_callbacks)
    assert queued == [("destinations.tasks.deliver_destination", klaviyo.pk)] * 2
    statuses = dict(Delivery.objects.values_list("event__event_id", "status"))
    assert statuses == {"b1": DeliveryStatus.SUCCEEDED, "b2": DeliveryStatus.PENDING}


def test_scheduling_without_coalesce_queues_a_task_per_batch_of_events(
    settings, merchant, queued, django_capture_on_commit_callbacks
):
    settings.DELIVERY_COALESCE = False
    DestinationFactory(merchant=merchant, kind="klaviyo", api_key=KLAVIYO_KEY, profile_sync="off")
    first = _schedule(merchant, ["c1"], django_capture_on_commit_callbacks)
    second = _schedule(merchant, ["c2"], django_capture_on_commit_callbacks)
    assert queued == [
        ("destinations.tasks.deliver_events", [first[0].pk]),
        ("destinations.tasks.deliver_events", [second[0].pk]),
    ]


def test_delivery_task_sends_one_batch_and_queues_the_next_when_full(
    settings, mocked, scheduled, queued, django_capture_on_commit_callbacks
):
    settings.DELIVERY_COALESCE, settings.DELIVERY_BATCH_SIZE = True, 2
    destination_id = Delivery.objects.values_list("destination_id", flat=True).first()
    _expect_events(mocked, 2)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.deliver_destination(destination_id)
    assert queued == [("destinations.tasks.deliver_destination", destination_id)]  # the third is still due
    assert sorted(Delivery.objects.values_list("status", flat=True)) == sorted(
        [DeliveryStatus.SUCCEEDED, DeliveryStatus.SUCCEEDED, DeliveryStatus.PENDING]
    )
    _expect_events(mocked, 1)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.deliver_destination(destination_id)  # the queued task: a partial batch queues nothing
    assert len(queued) == 1
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SUCCEEDED}


def test_delivery_backlog_drains_through_follow_up_tasks(
    settings, mocked, scheduled, django_capture_on_commit_callbacks
):
    settings.DELIVERY_COALESCE, settings.DELIVERY_BATCH_SIZE = True, 1
    _expect_events(mocked, 3)
    with django_capture_on_commit_callbacks(execute=True):  # Q_SYNC: the follow-ups run inline
        tasks.deliver_destination(Delivery.objects.values_list("destination_id", flat=True).first())
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SUCCEEDED}
    assert len(mocked.calls) == 3
