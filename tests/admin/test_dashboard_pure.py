"""Pure helpers of the merchant dashboard: percentile, lift, order value, delivery buckets."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from console.dashboard import delivery_bucket, lift_percent, order_value, percentile, sum_by_currency


@pytest.mark.parametrize(
    ("values", "pct", "expected"),
    [
        ([], 95, None),
        ([3.0], 95, 3.0),
        (list(range(1, 101)), 95, 95),
        (list(range(1, 101)), 50, 50),
        (list(range(100, 0, -1)), 95, 95),
        ([1, 2], 95, 2),
        ([5, 1, 3], 0, 1),
    ],
)
def test_percentile_nearest_rank(values, pct, expected):
    assert percentile(values, pct) == expected


@pytest.mark.parametrize(
    ("native", "resolved", "expected"),
    [(100, 40, 40.0), (3, 1, 33.3), (10, 0, 0.0), (0, 0, None), (0, 5, math.inf)],
)
def test_lift_percent_is_resolved_over_native(native, resolved, expected):
    assert lift_percent(native=native, resolved=resolved) == expected


@pytest.mark.parametrize(
    ("properties", "expected"),
    [
        ({"Revenue": 59.9, "Currency": "usd"}, (Decimal("59.9"), "USD")),
        ({"Revenue": "12.50", "Currency": "EUR"}, (Decimal("12.50"), "EUR")),
        ({"$value": 10, "Revenue": 99, "Currency": "USD"}, (Decimal(10), "USD")),
        ({}, (Decimal(0), "")),
        ({"Revenue": None}, (Decimal(0), "")),
        ({"Revenue": "n/a"}, (Decimal(0), "")),
        ({"Revenue": "NaN"}, (Decimal(0), "")),
        ({"Revenue": "Infinity"}, (Decimal(0), "")),
    ],
)
def test_order_value_reads_value_then_revenue(properties, expected):
    assert order_value(properties) == expected


def test_sum_by_currency_keeps_currencies_apart():
    totals = sum_by_currency(
        [{"Revenue": 10, "Currency": "USD"}, {"Revenue": 5.5, "Currency": "usd"}, {"Revenue": 7, "Currency": "EUR"}]
    )
    assert totals == {"USD": Decimal("15.5"), "EUR": Decimal(7)}


@pytest.mark.parametrize(
    ("status", "attempts", "bucket"),
    [
        ("pending", 0, "pending"),
        ("pending", 2, "retrying"),
        ("sending", 0, "pending"),
        ("sending", 1, "retrying"),
        ("succeeded", 3, "succeeded"),
        ("dead", 1, "dead"),
        ("held", 0, "held"),
    ],
)
def test_delivery_bucket_splits_first_tries_from_retries(status, attempts, bucket):
    assert delivery_bucket(status, attempts) == bucket
