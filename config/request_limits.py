"""Limits on the requests Recapture receives (ingest and admin login), shared by every process
through the Django cache. (destinations/platform_limits.py limits the requests it sends.)

- Ingest: fixed one-minute windows per client IP (a hard limit, checked first) and per
  write key (a soft quota: over it the heavy sources are shed, see ``check_ingest``);
  INGEST_RATE_LIMIT_PER_IP / INGEST_RATE_LIMIT_PER_KEY requests per minute, 0 disables.
  On Redis both counters are one pipelined INCRBY + EXPIRE round trip (atomic). On the
  database cache they are ``cache.add`` + ``cache.incr``, a read-then-write, so concurrent
  requests may be under-counted slightly. Each process syncs its hits at most every
  INGEST_RATE_LIMIT_SYNC_SECONDS (the limit is a guard rail, not a quota).
- Admin login: each attempt is counted before its password is hashed; past
  LOGIN_FAILURE_LIMIT attempts for one IP + username, or LOGIN_USERNAME_FAILURE_LIMIT for
  one username from any address, it is locked out for LOGIN_LOCKOUT_MINUTES
  (``LoginThrottleBackend``).

The client IP is REMOTE_ADDR, or the X-Forwarded-For hop written by the outermost of
TRUSTED_PROXY_COUNT proxies: hops further left were written by the client and are ignored.
Keys and usernames are hashed before they become cache keys (never stored in clear).
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from rest_framework import status

from config.errors import ApplicationError

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
UNLIMITED = 2**62  # a limit that counts without ever refusing


class RateLimitedError(ApplicationError):
    code = "rate_limited"
    http_status = status.HTTP_429_TOO_MANY_REQUESTS


class QuotaSheddingError(RateLimitedError):
    """Refused because the store is over its soft quota and this source is heavy (or past the ceiling)."""

    key_count: int = 0


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    count: int
    retry_after: int = 0


# --- Pure decisions ---------------------------------------------------------------------


def client_ip(remote_addr: str | None, forwarded_for: str | None, *, trusted_proxies: int) -> str:
    """REMOTE_ADDR, or XFF[-trusted_proxies] when that many proxies sit in front of us."""
    if trusted_proxies > 0 and forwarded_for:
        hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
        if hops:
            return hops[-min(trusted_proxies, len(hops))][:64]
    return (remote_addr or "unknown")[:64]


def window_start(now: float, window: int = WINDOW_SECONDS) -> int:
    return int(now // window) * window


def decide(count: int, *, limit: int, now: float, window: int = WINDOW_SECONDS) -> Decision:
    """The ``count``-th request of the window starting at window_start(now)."""
    if limit <= 0 or count <= limit:
        return Decision(True, count)
    return Decision(False, count, retry_after=max(1, math.ceil(window_start(now, window) + window - now)))


def digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


# --- Cache counters -----------------------------------------------------------------


def _incr(key: str, *, timeout: int, delta: int = 1) -> int:
    """incr first (the common case: the window's key exists), else add; racing adds fall back to incr."""
    try:
        return cache.incr(key, delta)
    except ValueError:
        if cache.add(key, delta, timeout=timeout):
            return delta
        return cache.incr(key, delta)


def _count(keys: list[str], deltas: list[int], *, timeout: int) -> list[int]:
    """Add to every counter: one round trip on Redis (config.cache), one incr each otherwise."""
    incr_many = getattr(cache, "incr_with_expiry", None)
    if incr_many is not None:
        return incr_many(keys, deltas, timeout=timeout)
    return [_incr(key, timeout=timeout, delta=delta) for key, delta in zip(keys, deltas, strict=True)]


@dataclass(slots=True)
class _Tally:
    """One shared counter as this process knows it: its value at the last sync plus the hits since."""

    shared: int = 0
    unsynced: int = 0
    synced_at: float = -math.inf


TALLIES_MAX = 10_000
_tallies: dict[str, _Tally] = {}
_tallies_lock = threading.Lock()


def hit_many(hits: Sequence[tuple[str, str, int]], *, now: float | None = None) -> list[Decision]:
    """Count one request for each (scope, ident, limit); fails open if the cache is unreachable.

    Each process adds its hits to the shared counters at most every
    INGEST_RATE_LIMIT_SYNC_SECONDS (0: on every request) and decides in between from the
    last shared value plus its own hits: a round trip per second instead of per request,
    at the price of letting each process overshoot a limit by up to that long's requests.
    """
    now = time.time() if now is None else now
    active = [i for i, (_, _, limit) in enumerate(hits) if limit > 0]
    decisions = [Decision(True, 0) for _ in hits]
    if not active:
        return decisions
    keys = [f"rl:{hits[i][0]}:{digest(hits[i][1])}:{window_start(now)}" for i in active]
    tallies, deltas = _count_locally(keys, now=now)
    if deltas:
        try:
            shared = _count(keys, deltas, timeout=WINDOW_SECONDS + 5)
        except DatabaseError:
            raise  # the database cache is the database: the request cannot be served anyway (503)
        except Exception:  # a cache outage (Redis) must not take ingest down
            logger.warning("rate limit cache unavailable; request allowed", exc_info=True)
            return decisions
        with _tallies_lock:
            for tally, value in zip(tallies, shared, strict=True):
                tally.shared, tally.synced_at = value, now
    for i, tally in zip(active, tallies, strict=True):
        decisions[i] = decide(tally.shared + tally.unsynced, limit=hits[i][2], now=now)
    return decisions


def _count_locally(keys: list[str], *, now: float) -> tuple[list[_Tally], list[int]]:
    """Count the hit in this process; the deltas to add to the shared counters if a sync is due."""
    sync_every = settings.INGEST_RATE_LIMIT_SYNC_SECONDS
    with _tallies_lock:
        if len(_tallies) > TALLIES_MAX:
            _tallies.clear()  # old windows: their unsynced hits no longer matter
        tallies = [_tallies.setdefault(key, _Tally()) for key in keys]
        for tally in tallies:
            tally.unsynced += 1
        if sync_every > 0 and all(now - t.synced_at < sync_every for t in tallies):
            return tallies, []
        deltas = [t.unsynced for t in tallies]
        for tally in tallies:
            tally.unsynced = 0
    return tallies, deltas


def forget_tallies() -> None:
    """Drop this process's unsynced counts (tests)."""
    with _tallies_lock:
        _tallies.clear()


def hit(scope: str, ident: str, *, limit: int, now: float | None = None) -> Decision:
    """Count one request of ``ident`` in the current window."""
    return hit_many([(scope, ident, limit)], now=now)[0]


def _raise_limited(decision: Decision, what: str) -> None:
    raise RateLimitedError(
        f"Too many requests for this {what}; retry in {decision.retry_after} s.",
        headers={"Retry-After": str(decision.retry_after)},
    )


def request_ip(request: Any) -> str:
    meta = request.META
    return client_ip(
        meta.get("REMOTE_ADDR"), meta.get("HTTP_X_FORWARDED_FOR"), trusted_proxies=settings.TRUSTED_PROXY_COUNT
    )


@dataclass(frozen=True, slots=True)
class IngestVerdict:
    """An admitted ingest request: was the store over its soft quota (the console alerts on it)?"""

    over_quota: bool = False
    key_count: int = 0


def refund(scope: str, ident: str, *, now: float | None = None) -> None:
    """Take back one hit counted by ``hit`` in this window (a request refused after all).

    The refund is a negative hit in this process's tally, added to the shared counter at
    its next sync like any other hit.
    """
    now = time.time() if now is None else now
    key = f"rl:{scope}:{digest(ident)}:{window_start(now)}"
    with _tallies_lock:
        tally = _tallies.get(key)
        if tally is not None:
            tally.unsynced -= 1


def admit_source(source_count: int, key_count: int, *, quota: int, shed_above: int, ceiling: int) -> str:
    """Pure decision for a store over its quota: "ok", "shed" (this source is too heavy) or "ceiling"."""
    if quota <= 0 or key_count <= quota:
        return "ok"
    if ceiling > 0 and key_count > ceiling:
        return "ceiling"
    if shed_above > 0 and source_count > shed_above:
        return "shed"
    return "ok"


def check_ingest(request: Any, *, write_key: str | None = None) -> IngestVerdict:
    """Count one ingest request: first against its client IP, then (once authenticated) its write key.

    - The IP limit is checked first and alone: a request it refuses is never counted
      against the write key, so one address flooding with the public key cannot use up
      the store's budget.
    - The write-key limit is a soft quota: over it, only sources sending more than
      INGEST_RATE_LIMIT_SHED_PER_IP requests this window are refused ("shed"), and the
      requests refused are taken back from the key's count; shoppers keep getting in.
      Past INGEST_RATE_LIMIT_KEY_CEILING times the quota every request is refused (capacity).
    A request refused before authentication (bad key, bad body) still counts against its IP.
    """
    ip_limit, quota = settings.INGEST_RATE_LIMIT_PER_IP, settings.INGEST_RATE_LIMIT_PER_KEY
    shed_above = settings.INGEST_RATE_LIMIT_SHED_PER_IP if quota > 0 else 0
    # With the IP limit off, sources are still counted (never refused) when shedding needs their rate.
    counted_ip_limit = ip_limit if ip_limit > 0 else (UNLIMITED if shed_above > 0 else 0)
    ip_decision = hit("ingest-ip", request_ip(request), limit=counted_ip_limit)
    if not ip_decision.allowed:
        _raise_limited(ip_decision, "client address")
    if write_key is None or quota <= 0:
        return IngestVerdict()
    key_decision = hit("ingest-key", write_key, limit=quota)
    if key_decision.allowed:
        return IngestVerdict(key_count=key_decision.count)
    ceiling = quota * settings.INGEST_RATE_LIMIT_KEY_CEILING
    verdict = admit_source(ip_decision.count, key_decision.count, quota=quota, shed_above=shed_above, ceiling=ceiling)
    if verdict == "ok":
        return IngestVerdict(over_quota=True, key_count=key_decision.count)
    refund("ingest-key", write_key)
    error = QuotaSheddingError(
        (
            "This client sends more requests than a shopper while this store is over its ingest quota"
            if verdict == "shed"
            else "This store is far over its ingest quota"
        )
        + f"; retry in {key_decision.retry_after} s.",
        headers={"Retry-After": str(key_decision.retry_after)},
    )
    error.key_count = key_decision.count - 1
    raise error


# --- Admin login throttling -------------------------------------------------------------
#
# Every attempt is counted (an atomic increment) *before* the slow password hash, and
# refused at once past the limit: a parallel burst cannot have more guesses checked than
# the limit, because no attempt waits for another's hash to be counted. Two ceilings:
# LOGIN_FAILURE_LIMIT per IP + username, LOGIN_USERNAME_FAILURE_LIMIT per username from
# any address (guesses spread over many IPs); each locks for LOGIN_LOCKOUT_MINUTES.


def _login_keys(ip: str, username: str) -> tuple[str, str]:
    h = digest(ip, (username or "").strip().lower())
    return f"login-fail:{h}", f"login-lock:{h}"


def _username_keys(username: str) -> tuple[str, str]:
    h = digest("user", (username or "").strip().lower())
    return f"login-user-fail:{h}", f"login-user-lock:{h}"


def _locked(lock_key: str, now: float) -> bool:
    until = cache.get(lock_key)
    return until is not None and now < until


def login_locked(ip: str, username: str, *, now: float | None = None) -> bool:
    now = time.time() if now is None else now
    return _locked(_login_keys(ip, username)[1], now) or _locked(_username_keys(username)[1], now)


def _count_attempt(fail_key: str, lock_key: str, *, limit: int, lockout: int, now: float) -> bool:
    """Add one attempt; False (and the lock set) when it is past ``limit`` (0: no limit)."""
    if limit <= 0:
        return True
    attempts = _incr(fail_key, timeout=lockout)
    if attempts <= limit:
        return True
    cache.set(lock_key, now + lockout, timeout=lockout)
    return False


def claim_login_attempt(ip: str, username: str, *, now: float | None = None) -> bool:
    """Count one attempt before its password is checked; False if the IP + username or the username is locked."""
    now = time.time() if now is None else now
    if login_locked(ip, username, now=now):
        return False
    lockout = settings.LOGIN_LOCKOUT_MINUTES * 60
    pair_ok = _count_attempt(*_login_keys(ip, username), limit=settings.LOGIN_FAILURE_LIMIT, lockout=lockout, now=now)
    user_limit = settings.LOGIN_USERNAME_FAILURE_LIMIT
    user_ok = _count_attempt(*_username_keys(username), limit=user_limit, lockout=lockout, now=now)
    if not (pair_ok and user_ok):
        logger.warning("admin login locked out", extra={"ip": ip})
    return pair_ok and user_ok


def clear_login_failures(ip: str, username: str) -> None:
    """A success: the IP + username starts again; the username's ceiling forgets this one attempt."""
    cache.delete_many(list(_login_keys(ip, username)))
    try:
        cache.decr(_username_keys(username)[0])
    except ValueError:
        pass


class LoginThrottleBackend(ModelBackend):
    """ModelBackend that counts each attempt before hashing, refuses locked ones, resets on success."""

    def authenticate(self, request: Any, username: str | None = None, password: str | None = None, **kwargs: Any):
        if request is None or settings.LOGIN_FAILURE_LIMIT <= 0:
            return super().authenticate(request, username=username, password=password, **kwargs)
        ip = request_ip(request)
        name = username or kwargs.get("email") or ""
        if not claim_login_attempt(ip, name):
            raise PermissionDenied("locked out")  # stops every backend; the form shows the usual error
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None:
            clear_login_failures(ip, name)
        return user
