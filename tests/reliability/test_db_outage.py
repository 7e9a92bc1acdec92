"""The database going away under ingest: a 503 with Retry-After, never a 202 for an unstored event,
and no stored event left behind unprocessed."""

from __future__ import annotations

import json
import uuid
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.db.backends.utils import CursorWrapper

from events.models import Event
from events.services import requeue_unprocessed_events
from tests.reliability.conftest import INGEST, assert_envelope


def _body(n: int = 2) -> str:
    return json.dumps({"batch": [{"event_id": uuid.uuid4().hex, "type": "ViewContent", "anonymous_id": "a"}] * n})


@contextmanager
def database_down(monkeypatch, *, when=lambda sql: True):
    """Every statement matching ``when`` fails as if the server had gone away."""
    real = CursorWrapper.execute

    def execute(self, sql, params=None):
        if when(str(sql)):
            raise OperationalError("server closed the connection unexpectedly")
        return real(self, sql, params)

    with monkeypatch.context() as patch:
        patch.setattr(CursorWrapper, "execute", execute)
        yield


@pytest.mark.django_db
def test_ingest_answers_503_with_retry_after_while_the_database_is_down(client, merchant, monkeypatch):
    with database_down(monkeypatch):
        response = client.post(
            INGEST, data=_body(), content_type="application/json", HTTP_X_WRITE_KEY=merchant.write_key
        )
    assert_envelope(response, 503, "service_unavailable")
    assert int(response["Retry-After"]) >= 1
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_ingest_insert_failing_is_503_and_nothing_is_stored(client, merchant, monkeypatch):
    with database_down(monkeypatch, when=lambda sql: "events_event" in sql and "INSERT" in sql.upper()):
        response = client.post(
            INGEST, data=_body(), content_type="application/json", HTTP_X_WRITE_KEY=merchant.write_key
        )
    assert_envelope(response, 503, "service_unavailable")
    assert response["Retry-After"]
    assert not Event.objects.exists()
    again = client.post(INGEST, data=_body(), content_type="application/json", HTTP_X_WRITE_KEY=merchant.write_key)
    assert again.status_code == 202 and Event.objects.count() == 1  # the client's retry is stored


@pytest.mark.django_db(transaction=True)
def test_event_stored_but_not_queued_is_503_then_processed_by_the_sweep(client, merchant, monkeypatch):
    """The commit succeeded and the database dropped before the task was queued: the client is
    told to retry (its retry is a duplicate) and the scheduled sweep processes the stored event."""

    def broker_gone(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    with monkeypatch.context() as patch:
        patch.setattr("config.queue.async_task", broker_gone)
        response = client.post(
            INGEST, data=_body(1), content_type="application/json", HTTP_X_WRITE_KEY=merchant.write_key
        )
    assert_envelope(response, 503, "service_unavailable")
    event = Event.objects.get()
    assert event.processed_at is None
    assert requeue_unprocessed_events(older_than=timedelta(minutes=2)) == 0  # still within the grace period
    assert requeue_unprocessed_events(older_than=timedelta(0)) == 1  # Q_SYNC: processed inline
    event.refresh_from_db()
    assert event.processed_at is not None and event.identification != "pending"
    assert requeue_unprocessed_events(older_than=timedelta(0)) == 0
