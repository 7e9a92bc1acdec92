"""Ingest rate limits per write key and per client IP (config.request_limits), shared through the cache."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from config import request_limits
from config.request_limits import client_ip, decide, window_start
from tests.factories import MerchantFactory
from tests.reliability.conftest import INGEST, assert_envelope

# --- pure decisions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("remote", "xff", "proxies", "expected"),
    [
        ("10.0.0.9", None, 0, "10.0.0.9"),
        ("10.0.0.9", "6.6.6.6", 0, "10.0.0.9"),  # no trusted proxy: X-Forwarded-For is client-controlled
        ("10.0.0.9", "6.6.6.6, 203.0.113.7", 1, "203.0.113.7"),  # the hop our proxy appended, not the spoof
        ("10.0.0.9", "203.0.113.7", 1, "203.0.113.7"),
        ("10.0.0.9", "6.6.6.6, 203.0.113.7, 10.0.0.2", 2, "203.0.113.7"),
        ("10.0.0.9", "203.0.113.7", 3, "203.0.113.7"),  # fewer hops than proxies: the first one
        ("10.0.0.9", " , ", 1, "10.0.0.9"),
        (None, None, 0, "unknown"),
    ],
)
def test_client_ip(remote, xff, proxies, expected):
    assert client_ip(remote, xff, trusted_proxies=proxies) == expected


def test_decide_allows_up_to_the_limit_then_says_when_the_window_ends():
    now = 1_000_000_040.25  # 20.25 s into the minute window starting at 1_000_000_020
    assert window_start(now) == 1_000_000_020
    assert decide(5, limit=5, now=now).allowed
    blocked = decide(6, limit=5, now=now)
    assert (blocked.allowed, blocked.retry_after) == (False, 40)
    assert decide(10**6, limit=0, now=now).allowed  # 0 disables


def test_decide_retry_after_is_at_least_one_second():
    assert decide(2, limit=1, now=59.999).retry_after == 1


# --- ingest ----------------------------------------------------------------------------------


def _post(client, key: str, ip: str = "198.51.100.1", **extra):
    body = json.dumps({"event_id": uuid.uuid4().hex, "type": "ViewContent", "anonymous_id": "a"})
    return client.post(
        INGEST, data=body, content_type="application/json", HTTP_X_WRITE_KEY=key, REMOTE_ADDR=ip, **extra
    )


START = datetime(2026, 11, 23, 12, 0, 5, tzinfo=UTC)


@pytest.mark.django_db
def test_ingest_rate_limited_per_write_key_with_retry_after_then_reset(client, settings):
    """Over the key's quota the heavy source gets 429 + Retry-After; a new source still gets in (issue 14)."""
    settings.INGEST_RATE_LIMIT_PER_KEY, settings.INGEST_RATE_LIMIT_PER_IP = 3, 0
    settings.INGEST_RATE_LIMIT_SHED_PER_IP = 1
    merchant, other = MerchantFactory(), MerchantFactory()
    with time_machine.travel(START, tick=False) as traveller:
        assert [_post(client, merchant.write_key, ip=f"198.51.100.{i}").status_code for i in range(3)] == [202] * 3
        limited = _post(client, merchant.write_key, ip="198.51.100.2")  # that source's second request
        error = assert_envelope(limited, 429, "rate_limited")
        assert "this store" in error["message"]
        assert limited["Retry-After"] == "55"
        assert _post(client, merchant.write_key, ip="198.51.100.99").status_code == 202  # soft: a shopper gets in
        assert _post(client, other.write_key).status_code == 202  # another key has its own budget
        traveller.shift(timedelta(seconds=55))
        assert _post(client, merchant.write_key, ip="198.51.100.2").status_code == 202


@pytest.mark.django_db
def test_ingest_rate_limited_per_client_ip_before_authentication(client, settings):
    settings.INGEST_RATE_LIMIT_PER_KEY, settings.INGEST_RATE_LIMIT_PER_IP = 0, 2
    merchant = MerchantFactory()
    with time_machine.travel(START, tick=False):
        assert _post(client, "wk_guess1", ip="203.0.113.5").status_code == 401
        assert _post(client, merchant.write_key, ip="203.0.113.5").status_code == 202
        limited = _post(client, merchant.write_key, ip="203.0.113.5")
        assert_envelope(limited, 429, "rate_limited")
        assert int(limited["Retry-After"]) == 55
        assert _post(client, merchant.write_key, ip="203.0.113.6").status_code == 202


@pytest.mark.django_db
def test_ingest_ip_limit_ignores_x_forwarded_for_unless_a_proxy_is_trusted(client, settings):
    settings.INGEST_RATE_LIMIT_PER_KEY, settings.INGEST_RATE_LIMIT_PER_IP = 0, 1
    merchant = MerchantFactory()
    with time_machine.travel(START, tick=False):
        assert _post(client, merchant.write_key, HTTP_X_FORWARDED_FOR="1.1.1.1").status_code == 202
        spoofed = _post(client, merchant.write_key, HTTP_X_FORWARDED_FOR="2.2.2.2")
        assert spoofed.status_code == 429  # rotating X-Forwarded-For does not buy a new budget
        settings.TRUSTED_PROXY_COUNT = 1
        assert _post(client, merchant.write_key, HTTP_X_FORWARDED_FOR="9.9.9.9, 3.3.3.3").status_code == 202
        assert _post(client, merchant.write_key, HTTP_X_FORWARDED_FOR="8.8.8.8, 3.3.3.3").status_code == 429


@pytest.mark.django_db
def test_ingest_limit_zero_disables(client, settings):
    settings.INGEST_RATE_LIMIT_PER_KEY, settings.INGEST_RATE_LIMIT_PER_IP = 0, 0
    merchant = MerchantFactory()
    assert {_post(client, merchant.write_key).status_code for _ in range(30)} == {202}


@pytest.mark.django_db
def test_ingest_counters_live_in_the_shared_cache_not_in_the_process(client, settings):
    """Every process reads the same counter: the cache (a database table, or Redis)."""
    from django.core.cache import cache

    settings.INGEST_RATE_LIMIT_PER_KEY, settings.INGEST_RATE_LIMIT_PER_IP = 100, 100
    settings.INGEST_RATE_LIMIT_KEY_CEILING = 2
    merchant = MerchantFactory()
    with time_machine.travel(START, tick=False):
        for _ in range(4):
            _post(client, merchant.write_key, ip="192.0.2.44")
        now = START.timestamp()
        key_counter = f"rl:ingest-key:{request_limits.digest(merchant.write_key)}:{window_start(now)}"
        ip_counter = f"rl:ingest-ip:{request_limits.digest('192.0.2.44')}:{window_start(now)}"
        assert (cache.get(key_counter), cache.get(ip_counter)) == (4, 4)
        cache.set(key_counter, 200)  # as if other processes had used the budget up to the ceiling
        assert _post(client, merchant.write_key, ip="192.0.2.45").status_code == 429


@pytest.mark.django_db
def test_ingest_limiter_cache_cost_is_bounded(client, settings, django_assert_max_num_queries):
    settings.INGEST_RATE_LIMIT_PER_KEY, settings.INGEST_RATE_LIMIT_PER_IP = 100, 100
    merchant = MerchantFactory()
    _post(client, merchant.write_key)
    # ingest's own 4 queries + per limit one cache.incr of an existing counter, which the database
    # cache does as a read then a write (6 statements with its savepoint); Redis does it in one INCR
    with django_assert_max_num_queries(4 + 2 * 6):
        assert _post(client, merchant.write_key).status_code == 202


def test_ingest_limiter_fails_open_when_the_cache_is_unreachable(monkeypatch, settings):
    settings.INGEST_RATE_LIMIT_PER_IP = 1

    def broken(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(request_limits.cache, "incr", broken)
    assert request_limits.hit("ingest-ip", "1.2.3.4", limit=1).allowed


def test_ingest_counters_on_redis_are_one_round_trip_with_expiry(settings, monkeypatch, redis_location):
    from django.core.cache import cache

    settings.CACHES = {
        "default": {"BACKEND": "config.cache.SharedClientRedisCache", "LOCATION": "redis://127.0.0.1:6379/15"}
    }
    ip, key = uuid.uuid4().hex, uuid.uuid4().hex  # fresh counters; they expire by themselves
    client = cache._cache.get_client(write=True)
    round_trips = []
    real_pipeline = client.pipeline
    monkeypatch.setattr(client, "pipeline", lambda **kw: round_trips.append(kw) or real_pipeline(**kw))
    now = START.timestamp()
    hits = [("ingest-ip", ip, 2), ("ingest-key", key, 3)]
    assert [d.count for d in request_limits.hit_many(hits, now=now)] == [1, 1]
    assert [d.allowed for d in request_limits.hit_many(hits, now=now)] == [True, True]
    third = request_limits.hit_many(hits, now=now)
    assert [(d.allowed, d.count) for d in third] == [(False, 3), (True, 3)]
    assert third[0].retry_after == 55
    assert len(round_trips) == 3  # one pipeline per request for both counters
    counter = cache.make_and_validate_key(f"rl:ingest-ip:{request_limits.digest(ip)}:{window_start(now)}")
    assert 0 < client.ttl(counter) <= request_limits.WINDOW_SECONDS + 5
    assert cache.get(f"rl:ingest-key:{request_limits.digest(key)}:{window_start(now)}") == 3


@pytest.mark.django_db
def test_ingest_request_refused_before_authentication_counts_against_its_ip(client, settings):
    settings.INGEST_RATE_LIMIT_PER_KEY, settings.INGEST_RATE_LIMIT_PER_IP = 0, 2
    with time_machine.travel(START, tick=False):
        bad_type = client.post(INGEST, data="x", content_type="application/xml", REMOTE_ADDR="203.0.113.9")
        assert bad_type.status_code == 415
        assert _post(client, "wk_guess", ip="203.0.113.9").status_code == 401
        assert_envelope(_post(client, "wk_guess", ip="203.0.113.9"), 429, "rate_limited")


# --- per-process tallies (INGEST_RATE_LIMIT_SYNC_SECONDS) ----------------------------------------


def _shared(scope: str, ident: str, now: float):
    from django.core.cache import cache

    return cache.get(f"rl:{scope}:{request_limits.digest(ident)}:{window_start(now)}")


@pytest.mark.django_db
def test_tally_syncs_at_most_every_interval_and_decides_from_shared_plus_local(settings):
    from django.core.cache import cache

    settings.INGEST_RATE_LIMIT_SYNC_SECONDS = 1
    now = START.timestamp()
    hits = [("ingest-ip", "192.0.2.7", 5)]
    assert request_limits.hit_many(hits, now=now)[0].count == 1  # first hit of the window: synced at once
    assert _shared("ingest-ip", "192.0.2.7", now) == 1
    assert [request_limits.hit_many(hits, now=now + 0.5)[0].count for _ in range(2)] == [2, 3]
    assert _shared("ingest-ip", "192.0.2.7", now) == 1  # counted here, not yet shared
    cache.incr(f"rl:ingest-ip:{request_limits.digest('192.0.2.7')}:{window_start(now)}", 10)  # other processes
    synced = request_limits.hit_many(hits, now=now + 1.0)[0]
    assert (synced.count, synced.allowed) == (14, False)  # 1 + 10 elsewhere + 3 here
    assert _shared("ingest-ip", "192.0.2.7", now) == 14


@pytest.mark.django_db
def test_tally_refuses_from_local_hits_before_the_next_sync(settings):
    settings.INGEST_RATE_LIMIT_SYNC_SECONDS = 60
    now = START.timestamp()
    hits = [("ingest-key", "wk_x", 3)]
    assert [request_limits.hit_many(hits, now=now)[0].allowed for _ in range(4)] == [True, True, True, False]


@pytest.mark.django_db
def test_tally_starts_again_in_a_new_window(settings):
    settings.INGEST_RATE_LIMIT_SYNC_SECONDS = 5
    now = START.timestamp()
    hits = [("ingest-key", "wk_y", 2)]
    assert [request_limits.hit_many(hits, now=now)[0].allowed for _ in range(3)] == [True, True, False]
    assert request_limits.hit_many(hits, now=now + 60)[0].count == 1


@pytest.mark.django_db
def test_tally_memory_is_bounded(settings, monkeypatch):
    settings.INGEST_RATE_LIMIT_SYNC_SECONDS = 1
    monkeypatch.setattr(request_limits, "TALLIES_MAX", 5)
    for i in range(20):
        request_limits.hit_many([("ingest-ip", f"198.51.100.{i}", 100)], now=START.timestamp())
        assert len(request_limits._tallies) <= 6
