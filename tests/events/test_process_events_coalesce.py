"""process_events: locked rows, and coalescing later unprocessed events at peak (EVENTS_PROCESS_COALESCE)."""

from __future__ import annotations

from django.utils import timezone

from events import tasks
from events.models import Event
from events.services import process_events
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


def test_process_events_coalesce_takes_later_unprocessed_events(merchant):
    events = _events(merchant, 4)
    process_events([events[1].pk], coalesce=2)
    assert _processed(events) == [False, True, True, True]


def test_process_events_coalesce_is_bounded(merchant):
    events = _events(merchant, 4)
    process_events([events[0].pk], coalesce=1)
    assert _processed(events) == [True, True, False, False]


def test_process_events_skips_processed_events_and_coalesces_nothing_then(merchant):
    events = _events(merchant, 2)
    Event.objects.filter(pk=events[0].pk).update(processed_at=timezone.now())
    process_events([events[0].pk], coalesce=10)
    assert _processed(events) == [True, False]


def test_process_task_uses_the_coalesce_setting(merchant, settings):
    settings.EVENTS_PROCESS_COALESCE = 500
    events = _events(merchant, 3)
    tasks.process_events([events[0].pk])
    assert _processed(events) == [True, True, True]
    assert all(Event.objects.get(pk=e.pk).profile_id for e in events)
