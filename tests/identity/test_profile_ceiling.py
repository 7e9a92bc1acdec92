"""The hourly ceiling on new anonymous profiles: exact at the limit, off the per-batch path below it."""

from __future__ import annotations

import uuid
from unittest import mock

import pytest
from django.core.cache import cache

from identity.models import Profile
from identity.services import resolve as resolve_module
from identity.services import resolve_events
from tests.factories import EventFactory, MerchantFactory

pytestmark = pytest.mark.django_db


def anonymous_batch(merchant, n):
    return [EventFactory(merchant=merchant, anonymous_id=f"bot-{uuid.uuid4().hex}") for _ in range(n)]


def test_the_ceiling_holds_exactly_across_batches(settings):
    settings.IDENTITY_MAX_NEW_PROFILES_PER_HOUR = 10
    merchant = MerchantFactory()
    resolve_events(events=anonymous_batch(merchant, 6))
    resolve_events(events=anonymous_batch(merchant, 6))
    resolve_events(events=anonymous_batch(merchant, 6))
    assert Profile.objects.filter(merchant=merchant).count() == 10


def test_workers_share_one_ceiling(settings):
    """Each worker reserves from the shared counter; together they never exceed the ceiling."""
    settings.IDENTITY_MAX_NEW_PROFILES_PER_HOUR = 10
    merchant = MerchantFactory()
    resolve_events(events=anonymous_batch(merchant, 7))
    resolve_module.forget_profile_reservations()  # the next batch runs in another process
    resolve_events(events=anonymous_batch(merchant, 7))
    assert Profile.objects.filter(merchant=merchant).count() == 10


def test_below_the_ceiling_batches_reserve_in_blocks_not_per_batch(settings):
    settings.IDENTITY_MAX_NEW_PROFILES_PER_HOUR = 25_000  # blocks of 50
    merchant = MerchantFactory()
    batches = [anonymous_batch(merchant, 10) for _ in range(5)]
    with mock.patch.object(resolve_module, "cache", wraps=cache) as spy:
        for batch in batches:
            resolve_events(events=batch)
    calls = spy.add.call_count + spy.incr.call_count + spy.get.call_count
    assert calls == 1  # one reservation of 50 covers all five batches of 10
    assert Profile.objects.filter(merchant=merchant).count() == 50


def test_a_new_hour_starts_a_new_reservation(settings, time_machine):
    settings.IDENTITY_MAX_NEW_PROFILES_PER_HOUR = 4
    merchant = MerchantFactory()
    time_machine.move_to("2026-12-01T10:10:00Z")
    resolve_events(events=anonymous_batch(merchant, 6))
    time_machine.move_to("2026-12-01T11:05:00Z")
    resolve_events(events=anonymous_batch(merchant, 6))
    assert Profile.objects.filter(merchant=merchant).count() == 8


def test_past_the_ceiling_a_flood_costs_no_cache_call_per_event(settings):
    settings.IDENTITY_MAX_NEW_PROFILES_PER_HOUR = 3
    merchant = MerchantFactory()
    flood = anonymous_batch(merchant, 40)
    with mock.patch.object(resolve_module, "cache", wraps=cache) as spy:
        resolve_events(events=flood[:20])
        resolve_events(events=flood[20:])
    assert spy.add.call_count == 4  # reservations: blocks of 1 up to 3, then the one that found none
    assert Profile.objects.filter(merchant=merchant).count() == 3


def test_a_cache_outage_lifts_the_ceiling_rather_than_stopping_processing(settings):
    settings.IDENTITY_MAX_NEW_PROFILES_PER_HOUR = 2
    merchant = MerchantFactory()
    with mock.patch.object(resolve_module.cache, "add", side_effect=ConnectionError("cache down")):
        resolve_events(events=anonymous_batch(merchant, 5))
    assert Profile.objects.filter(merchant=merchant).count() == 5
