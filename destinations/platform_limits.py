"""Limits on the requests Recapture sends to each platform (Klaviyo, Loops): token buckets per
API key, shared by every worker process. (config/request_limits.py limits the requests it receives.)

With REDIS_URL set, fixed windows in the cache (atomic INCR); otherwise one database
row per bucket updated with a conditional UPDATE (compare-and-set), so two processes
never both spend the same tokens.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Sequence

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError

from destinations.clients.base import Limit
from destinations.models import RateLimitBucket


def refill(tokens: float, last: float, now: float, limit: Limit) -> float:
    """Tokens in the bucket at ``now`` (pure)."""
    return min(limit.capacity, tokens + max(0.0, now - last) * limit.rate)


def wait_for(tokens: float, want: float, limit: Limit) -> float:
    """Seconds until ``want`` tokens are available (pure)."""
    return max(0.0, (min(want, limit.capacity) - tokens) / limit.rate)


def bucket_key(api_key: str, scope: str) -> str:
    """Per API key (hashed: the key itself is never stored in clear) and scope."""
    return f"{hashlib.sha256(api_key.encode()).hexdigest()[:40]}:{scope}"


def _take_db(key: str, limit: Limit, want: int, now: float) -> tuple[int, float]:
    name = f"{key}:{limit.name}"
    for _ in range(50):
        row = RateLimitBucket.objects.filter(key=name).values_list("tokens", "updated_at").first()
        if row is None:
            try:
                RateLimitBucket.objects.create(key=name, tokens=limit.capacity, updated_at=now)
            except IntegrityError:
                pass
            continue
        tokens, last = row
        available = refill(tokens, last, now, limit)
        if last > now:  # paused by a Retry-After until ``last``
            return 0, last - now
        granted = max(0, min(want, math.floor(available + 1e-9)))
        changed = RateLimitBucket.objects.filter(key=name, tokens=tokens, updated_at=last).update(
            tokens=available - granted, updated_at=max(now, last)
        )
        if changed:
            return granted, wait_for(available - granted, 1, limit) if granted < want else 0.0
    return 0, 0.05


def _take_cache(key: str, limit: Limit, want: int, now: float) -> tuple[int, float]:
    window = limit.capacity / limit.rate
    slot = math.floor(now / window)
    name = f"rl:{key}:{limit.name}:{slot}"
    cache.add(name, 0, timeout=int(window) + 2)
    try:
        used = cache.incr(name, want)
    except ValueError:  # expired between add and incr
        cache.add(name, want, timeout=int(window) + 2)
        used = want
    granted = max(0, min(want, int(limit.capacity - (used - want))))
    return granted, ((slot + 1) * window - now) if granted < want else 0.0


def pause(key: str, limits: Sequence[Limit], seconds: float, *, now: float | None = None) -> None:
    """The platform said "Retry-After": empty every bucket of the key until then, for all workers."""
    now = time.time() if now is None else now
    if settings.REDIS_URL:
        cache.set(f"rl:{key}:paused", now + seconds, timeout=int(seconds) + 1)
        return
    for limit in limits:
        _take_db(key, limit, 0, now)  # make sure the row exists
        # One token when the pause ends: the retry the platform allowed at Retry-After goes at once
        # (with 0 it would wait for the refill, or spill to a bulk job, at the very second it is due).
        RateLimitBucket.objects.filter(key=f"{key}:{limit.name}").update(
            tokens=min(1.0, limit.capacity), updated_at=now + seconds
        )


def take(key: str, limits: Sequence[Limit], want: int, *, now: float | None = None) -> tuple[int, float]:
    """Take up to ``want`` tokens from every bucket; returns (granted, seconds to wait for more)."""
    now = time.time() if now is None else now
    backend = _take_cache if settings.REDIS_URL else _take_db
    if settings.REDIS_URL and (paused_until := cache.get(f"rl:{key}:paused")) and paused_until > now:
        return 0, paused_until - now
    granted, wait = want, 0.0
    for limit in limits:
        if granted <= 0:
            break
        got, limit_wait = backend(key, limit, granted, now)
        granted, wait = min(granted, got), max(wait, limit_wait)
    return granted, wait


def acquire(
    key: str,
    limits: Sequence[Limit],
    want: int,
    *,
    deadline: float,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Block (bounded by ``deadline``) until at least one token is granted; 0 when out of time."""
    while True:
        granted, wait = take(key, limits, want, now=clock())
        if granted:
            return granted
        remaining = deadline - clock()
        if remaining <= 0:
            return 0
        sleep(min(max(wait, 0.005), remaining))
