"""Token buckets: pure refill math, and the shared database bucket with a controlled clock."""

from __future__ import annotations

import pytest

from destinations.clients.base import Limit
from destinations.models import RateLimitBucket
from destinations.platform_limits import acquire, bucket_key, refill, take, wait_for

BURST = Limit("burst", 10, 10)
STEADY = Limit("steady", 30, 0.5)


def test_refill_is_capped_and_linear():
    assert refill(0, 100.0, 100.5, BURST) == 5
    assert refill(3, 100.0, 200.0, BURST) == 10
    assert refill(3, 100.0, 99.0, BURST) == 3  # clock going backwards never adds tokens


def test_wait_for_next_tokens():
    assert wait_for(0, 1, BURST) == pytest.approx(0.1)
    assert wait_for(5, 1, BURST) == 0
    assert wait_for(0, 100, BURST) == pytest.approx(1.0)  # never more than a full bucket


@pytest.mark.django_db
def test_take_db_bucket_grants_burst_then_refills():
    key = bucket_key("secret-key", "default")
    assert "secret-key" not in key
    assert take(key, [BURST], 4, now=1000.0) == (4, 0.0)
    granted, wait = take(key, [BURST], 10, now=1000.0)  # a second worker shares the same row
    assert granted == 6 and wait == pytest.approx(0.1)
    assert take(key, [BURST], 1, now=1000.0) == (0, pytest.approx(0.1))
    assert take(key, [BURST], 10, now=1000.3)[0] == 3
    assert RateLimitBucket.objects.get(key=f"{key}:burst").tokens == pytest.approx(0)


@pytest.mark.django_db
def test_take_respects_every_limit():
    key = bucket_key("k2", "default")
    assert take(key, [BURST, STEADY], 10, now=0.0)[0] == 10
    assert take(key, [BURST, STEADY], 10, now=1.0)[0] == 10
    assert take(key, [BURST, STEADY], 10, now=2.0)[0] == 10
    granted, wait = take(key, [BURST, STEADY], 10, now=3.0)  # steady bucket (30) is now the limit
    assert granted == 1 and wait == pytest.approx(1.0)


@pytest.mark.django_db
def test_acquire_waits_on_controlled_clock_and_respects_deadline():
    key = bucket_key("k3", "default")
    clock = [50.0]
    sleeps: list[float] = []

    def sleep(seconds):
        sleeps.append(seconds)
        clock[0] += seconds

    assert acquire(key, [BURST], 10, deadline=60, clock=lambda: clock[0], sleep=sleep) == 10
    assert acquire(key, [BURST], 5, deadline=60, clock=lambda: clock[0], sleep=sleep) == 1
    assert sleeps == [pytest.approx(0.1)]
    assert acquire(key, [BURST], 5, deadline=clock[0], clock=lambda: clock[0], sleep=sleep) == 0


def test_take_cache_windows_shared_through_redis(settings, redis_location):
    import uuid

    from django.core.cache import cache

    settings.REDIS_URL = redis_location
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": settings.REDIS_URL}
    }
    key = bucket_key(uuid.uuid4().hex, "default")  # fresh key; its windows expire by themselves
    assert take(key, [BURST], 6, now=500.2) == (6, 0.0)
    granted, wait = take(key, [BURST], 6, now=500.5)  # same one-second window: 4 left
    assert granted == 4 and wait == pytest.approx(0.5)
    assert take(key, [BURST], 3, now=501.0) == (3, 0.0)  # next window
    assert cache.get(f"rl:{key}:burst:500") == 12


@pytest.mark.django_db
def test_pause_empties_shared_bucket_until_retry_after():
    from destinations.platform_limits import pause

    key = bucket_key("k4", "default")
    assert take(key, [BURST, STEADY], 2, now=100.0)[0] == 2
    pause(key, [BURST, STEADY], 5, now=100.0)
    assert take(key, [BURST, STEADY], 1, now=102.0) == (0, pytest.approx(3.0))
    assert take(key, [BURST, STEADY], 2, now=105.0)[0] == 1  # the retry Retry-After allowed goes at once
    assert take(key, [BURST, STEADY], 1, now=108.0)[0] == 1  # steady refills at 0.5/s after the pause
