"""process_events: locked rows, coalescing the oldest unprocessed events at peak
(EVENTS_PROCESS_COALESCE), one queued processing task at a time, and bad events isolated."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from events import services, tasks
from events.models import Event
from events.services import PROCESS_PENDING_KEY, process_events
from tests.factories import EventFactory


def _events(merchant, count: int) -> list[Event]:
    return [
        EventFactory(merchant=merchant, event_id=f"c{i}", identifiers={"email": f"p{i}@example.com"})
        for i in range(count)
    ]


def _processed(events: list[Event]) -> list[bool]:
    return [Event.objects.get(pk=e.pk).processed_at is not None for e in events]


def test_process_events_without_coalesce_processes_only_its_ids(merchant):
    events = _events(merchant, 3)
    process_events([events[1].pk])
    assert _processed(events) == [False, True, False]


def test_process_events_coalesce_takes_the_oldest_other_unprocessed_events(merchant):
    events = _events(merchant, 4)
    process_events([events[3].pk], coalesce=2)
    assert _processed(events) == [True, True, False, True]


def test_process_events_coalesce_leaves_events_older_than_the_requeue_window_to_the_sweep(merchant, settings):
    settings.EVENT_REQUEUE_AFTER_SECONDS = 120
    events = _events(merchant, 3)
    Event.objects.filter(pk=events[0].pk).update(received_at=timezone.now() - timedelta(seconds=121))
    process_events([events[2].pk], coalesce=10)
    assert _processed(events) == [False, True, True]


def test_process_events_skips_processed_events(merchant):
    events = _events(merchant, 2)
    Event.objects.filter(pk=events[0].pk).update(processed_at=timezone.now())
    process_events([events[0].pk])
    assert _processed(events) == [True, False]


def test_process_events_full_batch_queues_a_follow_up_for_the_rest(merchant, monkeypatch):
    events = _events(merchant, 5)
    queued: list[list[int]] = []
    monkeypatch.setattr(services, "queue_processing", lambda ids: queued.append(list(ids)))
    process_events([events[0].pk], coalesce=2)
    assert _processed(events) == [True, True, True, False, False]
    assert queued == [[]]  # a task without ids: it takes the oldest unprocessed along
    process_events([], coalesce=2)
    assert _processed(events) == [True] * 5
    assert queued == [[]]  # not full this time: nothing left behind


def test_process_events_one_bad_event_does_not_hold_the_batch_back(merchant, monkeypatch, caplog):
    from identity import services as identity_services

    events = _events(merchant, 3)
    bad = events[1].pk
    real = identity_services.resolve_events

    def resolve(*, events):
        if any(e.pk == bad for e in events):
            raise ValueError("poison")
        return real(events=events)

    monkeypatch.setattr(identity_services, "resolve_events", resolve)
    process_events([events[0].pk], coalesce=10)
    assert _processed(events) == [True, False, True]
    assert "one by one" in caplog.text and "the sweep will retry it" in caplog.text


def test_process_events_single_event_failure_is_raised(merchant, monkeypatch):
    from identity import services as identity_services

    events = _events(merchant, 1)
    monkeypatch.setattr(identity_services, "resolve_events", lambda *, events: (_ for _ in ()).throw(ValueError("x")))
    with pytest.raises(ValueError):
        process_events([events[0].pk])
    assert _processed(events) == [False]


def test_process_task_uses_the_coalesce_setting(merchant, settings):
    settings.EVENTS_PROCESS_COALESCE = 500
    events = _events(merchant, 3)
    tasks.process_events([events[0].pk])
    assert _processed(events) == [True, True, True]
    assert all(Event.objects.get(pk=e.pk).profile_id for e in events)


# --- one queued processing task at a time ----------------------------------------------------


def test_queue_processing_queues_no_second_task_while_one_is_pending(
    merchant, monkeypatch, django_capture_on_commit_callbacks
):
    sent: list[tuple] = []
    monkeypatch.setattr("config.queue.async_task", lambda func, *args, **kwargs: sent.append((func, *args)))
    with django_capture_on_commit_callbacks(execute=True):
        services.queue_processing([1])
        services.queue_processing([2])
    assert sent == [("events.tasks.process_events", [1])]
    assert cache.get(PROCESS_PENDING_KEY) == 1


def test_processing_task_start_lets_the_next_events_queue_a_task(
    merchant, monkeypatch, django_capture_on_commit_callbacks
):
    sent: list[tuple] = []
    monkeypatch.setattr("config.queue.async_task", lambda func, *args, **kwargs: sent.append((func, *args)))
    events = _events(merchant, 2)
    with django_capture_on_commit_callbacks(execute=True):
        services.queue_processing([events[0].pk])
    tasks.process_events([events[0].pk])  # the worker runs it: it clears the marker first
    assert cache.get(PROCESS_PENDING_KEY) is None
    with django_capture_on_commit_callbacks(execute=True):
        services.queue_processing([events[1].pk])
    assert [args for _, args in sent] == [[events[0].pk], [events[1].pk]]


def test_queue_processing_failed_enqueue_clears_the_marker(merchant, monkeypatch, django_capture_on_commit_callbacks):
    def broker_gone(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr("config.queue.async_task", broker_gone)
    with pytest.raises(ConnectionError), django_capture_on_commit_callbacks(execute=True):
        services.queue_processing([1])
    assert cache.get(PROCESS_PENDING_KEY) is None  # the next stored event queues processing again


def test_queue_processing_marker_expires_if_the_task_is_lost(merchant, monkeypatch, django_capture_on_commit_callbacks):
    import time_machine

    sent: list[tuple] = []
    monkeypatch.setattr("config.queue.async_task", lambda func, *args, **kwargs: sent.append(args))
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        with django_capture_on_commit_callbacks(execute=True):
            services.queue_processing([1])
        traveller.shift(timedelta(seconds=services.PROCESS_PENDING_SECONDS + 1))
        with django_capture_on_commit_callbacks(execute=True):
            services.queue_processing([2])
    assert sent == [([1],), ([2],)]


def test_process_events_database_outage_is_raised_not_retried_one_by_one(merchant, monkeypatch):
    from django.db import OperationalError

    from identity import services as identity_services

    events = _events(merchant, 3)
    calls = []

    def down(*, events):
        calls.append(len(events))
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(identity_services, "resolve_events", down)
    with pytest.raises(OperationalError):
        process_events([events[0].pk], coalesce=10)
    assert calls == [3] and _processed(events) == [False, False, False]
