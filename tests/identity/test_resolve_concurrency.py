"""Concurrent workers resolving the same new visitor end with one profile (PostgreSQL)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections

from events.models import Event, Identification
from identity.models import Identifier, Profile
from identity.services import resolve_events
from tests.factories import EventFactory, MerchantFactory

THREADS = 8
EVENTS_PER_THREAD = 3

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
]


def _worker(event_ids: list[int], barrier: threading.Barrier) -> None:
    try:
        events = list(Event.objects.filter(id__in=event_ids).select_related("merchant"))
        barrier.wait(timeout=30)
        resolve_events(events=events)
    finally:
        connections.close_all()


def _run_concurrently(batches: list[list[int]]) -> None:
    barrier = threading.Barrier(len(batches))
    with ThreadPoolExecutor(max_workers=len(batches)) as pool:
        futures = [pool.submit(_worker, batch, barrier) for batch in batches]
        for future in futures:
            future.result(timeout=60)


@pytest.mark.django_db(transaction=True)
def test_resolve_events_concurrent_workers_same_new_visitor_make_one_profile():
    merchant = MerchantFactory()
    batches = [
        [EventFactory(merchant=merchant, anonymous_id="same-new-visitor").pk for _ in range(EVENTS_PER_THREAD)]
        for _ in range(THREADS)
    ]
    _run_concurrently(batches)
    assert Profile.objects.count() == 1
    assert Identifier.objects.filter(type="anonymous_id", value="same-new-visitor").count() == 1
    profile = Profile.objects.get()
    assert set(Event.objects.values_list("profile_id", flat=True)) == {profile.pk}


@pytest.mark.django_db(transaction=True)
def test_resolve_events_concurrent_identify_and_browse_converge_and_reidentify_once():
    merchant = MerchantFactory()
    batches = []
    for index in range(THREADS):
        identifiers = {"email": "racer@x.io"} if index == THREADS - 1 else {"client_id": f"c{index}"}
        first = EventFactory(merchant=merchant, anonymous_id="cookie", identifiers=identifiers)
        batches.append([first.pk, EventFactory(merchant=merchant, anonymous_id="cookie").pk])
    _run_concurrently(batches)
    profile = Profile.objects.get()
    assert profile.email == "racer@x.io"
    assert Identifier.objects.filter(profile=profile).count() == THREADS + 1
    assert not Event.objects.filter(identification=Identification.ANONYMOUS).exists()
    assert not Event.objects.filter(identification=Identification.PENDING).exists()
