"""django-q2 tasks of the events app: take ids, call a service."""

from __future__ import annotations

from django.conf import settings

from events import services


def process_events(event_ids: list[int]) -> None:
    services.processing_started()
    services.process_events(event_ids, coalesce=settings.EVENTS_PROCESS_COALESCE)


def requeue_unprocessed_events() -> None:
    services.requeue_unprocessed_events()
