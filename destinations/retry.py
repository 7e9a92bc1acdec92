"""Pure retry decisions: what an HTTP outcome means and when to try again."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

# The one HTTP status table: what a platform's answer means (the delivery's verdict, and the
# error kind logged on its attempt, transport.error_kind_for, both come from ``classify``).
RATE_LIMITED_STATUS = 429
RETRYABLE_STATUSES = frozenset({408, 425, RATE_LIMITED_STATUS})
AUTH_STATUSES = frozenset({401, 403})


class Verdict(StrEnum):
    SUCCESS = "success"
    RETRY = "retry"
    DEAD = "dead"
    AUTH = "auth"  # the key is wrong: pause the destination, keep the delivery


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_seconds: float = 60.0
    factor: float = 3.0
    cap_seconds: float = 6 * 3600.0
    max_attempts: int = 10
    jitter: float = 0.2
    max_retry_after_seconds: float = 3600.0


def classify(
    status_code: int | None, *, success_statuses: frozenset[int] = frozenset(), content_type: str = ""
) -> Verdict:
    """None means no response at all (network error, timeout): retry.

    A 403 that is an HTML page (Cloudflare's bot challenge in front of Klaviyo: ``text/html``,
    ``cf-mitigated: challenge``, klaviyo-api-python#84) is the edge, not the platform refusing
    the key: it is retried like a 5xx. A JSON 401/403 is the platform's answer about the key
    and pauses the destination.
    """
    if status_code is None:
        return Verdict.RETRY
    if 200 <= status_code < 300 or status_code in success_statuses:
        return Verdict.SUCCESS
    if status_code == 403 and "html" in content_type.lower():
        return Verdict.RETRY
    if status_code in AUTH_STATUSES:
        return Verdict.AUTH
    if status_code in RETRYABLE_STATUSES or status_code >= 500:
        return Verdict.RETRY
    return Verdict.DEAD


def is_retryable(status_code: int | None) -> bool:
    return classify(status_code) is Verdict.RETRY


def backoff_seconds(attempts: int, policy: RetryPolicy, *, rng: random.Random | None = None) -> float:
    """Delay after the ``attempts``-th failed try (1-based): base * factor^(n-1), capped, +/- jitter."""
    raw = min(policy.cap_seconds, policy.base_seconds * policy.factor ** max(attempts - 1, 0))
    if not policy.jitter:
        return raw
    spread = (rng or random).uniform(-policy.jitter, policy.jitter)
    return max(0.0, raw * (1 + spread))


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date); None if absent or invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def next_delay(
    attempts: int, policy: RetryPolicy, *, retry_after: float | None = None, rng: random.Random | None = None
) -> float | None:
    """Seconds until the next try, or None when the delivery has used all its attempts."""
    if attempts >= policy.max_attempts:
        return None
    if retry_after is not None:
        return min(max(retry_after, 1.0), policy.max_retry_after_seconds)
    return backoff_seconds(attempts, policy, rng=rng)


def total_schedule_seconds(policy: RetryPolicy) -> float:
    """How long the schedule spans without jitter (documentation and tests)."""
    unjittered = replace(policy, jitter=0.0)
    return sum(backoff_seconds(n, unjittered) for n in range(1, policy.max_attempts))
