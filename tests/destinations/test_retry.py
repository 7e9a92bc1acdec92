from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from destinations.retry import (
    RetryPolicy,
    Verdict,
    backoff_seconds,
    classify,
    is_retryable,
    next_delay,
    parse_retry_after,
    total_schedule_seconds,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (None, Verdict.RETRY),
        (200, Verdict.SUCCESS),
        (202, Verdict.SUCCESS),
        (204, Verdict.SUCCESS),
        (400, Verdict.DEAD),
        (404, Verdict.DEAD),
        (409, Verdict.DEAD),
        (422, Verdict.DEAD),
        (401, Verdict.AUTH),
        (403, Verdict.AUTH),
        (408, Verdict.RETRY),
        (429, Verdict.RETRY),
        (500, Verdict.RETRY),
        (502, Verdict.RETRY),
        (503, Verdict.RETRY),
    ],
)
def test_classify_status_codes(status, verdict):
    assert classify(status) is verdict


def test_classify_extra_success_statuses():
    assert classify(409, success_statuses=frozenset({409})) is Verdict.SUCCESS
    assert is_retryable(503) and not is_retryable(400) and not is_retryable(401)


@pytest.mark.parametrize(
    ("status", "content_type", "kind"),
    [
        (200, "", "none"),
        (400, "", "rejected"),
        (409, "", "rejected"),
        (401, "", "auth"),
        (403, "application/json", "auth"),
        (403, "text/html", "server"),  # Cloudflare's challenge: retried, so not a refusal
        (408, "", "server"),
        (425, "", "server"),  # retried like 408, so not logged as rejected
        (429, "", "rate_limited"),
        (503, "", "server"),
    ],
)
def test_error_kind_follows_the_classify_table(status, content_type, kind):
    from destinations.models import ErrorKind
    from destinations.services.transport import error_kind_for

    assert error_kind_for(status, content_type) == {"none": ErrorKind.NONE}.get(kind, kind)
    retried = classify(status, content_type=content_type) is Verdict.RETRY
    assert retried == (kind in {"server", "rate_limited"})


def test_error_kind_of_a_loops_409_counted_as_delivered_is_no_error():
    from destinations.models import ErrorKind
    from destinations.services.transport import error_kind_for

    assert error_kind_for(409, "application/json", success_statuses=frozenset({409})) == ErrorKind.NONE


def test_backoff_exponential_and_capped_without_jitter():
    policy = RetryPolicy(base_seconds=60, factor=3, cap_seconds=21600, jitter=0)
    assert [backoff_seconds(n, policy) for n in range(1, 9)] == [60, 180, 540, 1620, 4860, 14580, 21600, 21600]


def test_backoff_jitter_stays_within_bounds():
    policy = RetryPolicy(base_seconds=100, factor=2, jitter=0.2)
    rng = random.Random(7)
    delays = [backoff_seconds(3, policy, rng=rng) for _ in range(200)]
    assert all(320 <= d <= 480 for d in delays)
    assert len({round(d, 3) for d in delays}) > 100


def test_default_schedule_spans_about_a_day_over_ten_attempts():
    policy = RetryPolicy()
    assert policy.max_attempts == 10
    assert 22 * 3600 <= total_schedule_seconds(policy) <= 26 * 3600


def test_next_delay_gives_up_after_max_attempts():
    policy = RetryPolicy(max_attempts=3, jitter=0)
    assert next_delay(1, policy) == 60
    assert next_delay(2, policy) == 180
    assert next_delay(3, policy) is None


def test_next_delay_honours_retry_after_within_bounds():
    policy = RetryPolicy(jitter=0, max_retry_after_seconds=3600)
    assert next_delay(1, policy, retry_after=7) == 7
    assert next_delay(1, policy, retry_after=0) == 1.0
    assert next_delay(1, policy, retry_after=999999) == 3600


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("12", 12.0),
        (" 3 ", 3.0),
        ("-5", 0.0),
        ("Fri, 20 Nov 2026 12:00:30 GMT", 30.0),
        ("Fri, 20 Nov 2026 11:00:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header, seconds):
    assert parse_retry_after(header, now=NOW) == seconds
