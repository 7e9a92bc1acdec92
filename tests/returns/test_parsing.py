from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from returns.parsing import (
    body_digest,
    money_number,
    parse_datetime,
    parse_email,
    parse_id,
    parse_money,
    sign_body,
    signature_matches,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12.50", Decimal("12.50")),
        (12.5, Decimal("12.5")),
        (12, Decimal("12")),
        ("1,234.00", Decimal("1234.00")),
        ("$9.99", Decimal("9.99")),
        (" 7 ", Decimal("7")),
        ("0.00", Decimal("0.00")),
        (Decimal("3.10"), Decimal("3.10")),
        (None, None),
        ("", None),
        ("null", None),
        ("abc", None),
        ("NaN", None),
        (True, None),
        ({"amount": 1}, None),
    ],
)
def test_parse_money_accepts_numbers_and_strings(raw, expected):
    assert parse_money(raw) == expected


@pytest.mark.parametrize(
    ("amount", "expected"),
    [(Decimal("47.5"), 47.5), (Decimal("12.00"), 12), (Decimal("1234.999"), 1235), (None, 0), (Decimal("0.1"), 0.1)],
)
def test_money_number_is_a_json_number(amount, expected):
    result = money_number(amount)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(1673, "1673"), ("1673", "1673"), (" 1673 ", "1673"), (1673.0, "1673"), (None, ""), ("null", ""), (False, "")],
)
def test_parse_id_normalises_numbers_and_strings(raw, expected):
    assert parse_id(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-02T14:03:11Z", datetime(2026, 11, 2, 14, 3, 11, tzinfo=UTC)),
        ("2026-11-02T14:03:11+00:00", datetime(2026, 11, 2, 14, 3, 11, tzinfo=UTC)),
        ("2026-11-02 14:03:11", datetime(2026, 11, 2, 14, 3, 11, tzinfo=UTC)),
        ("2026-11-02T09:03:11-05:00", datetime(2026, 11, 2, 9, 3, 11, tzinfo=timezone(timedelta(hours=-5)))),
        (None, None),
        ("yesterday", None),
    ],
)
def test_parse_datetime_is_always_aware(raw, expected):
    parsed = parse_datetime(raw)
    assert parsed == expected
    if parsed is not None:
        assert parsed.tzinfo is not None


def test_parse_email_lowercases_and_rejects_non_emails():
    assert parse_email(" Jane.Doe@Example.com ") == "jane.doe@example.com"
    assert parse_email("not-an-email") == ""
    assert parse_email(None) == ""


def test_sign_body_matches_loop_documented_hmac():
    # base64(HMAC-SHA256("secret", body)) computed independently with openssl:
    # printf '{"a":1}' | openssl dgst -sha256 -hmac secret -binary | base64
    assert sign_body("secret", b'{"a":1}') == "qp4uNXX11wmLbKzNeQiIw21f22M0KnO62i1qUXR6hJQ="


def test_signature_matches_only_the_exact_raw_bytes():
    body = b'{"id": "1", "url": "https:\\/\\/x"}'
    good = sign_body("whsec_1", body)
    assert signature_matches("whsec_1", body, good)
    assert not signature_matches("whsec_1", body + b" ", good)
    assert not signature_matches("whsec_2", body, good)
    assert not signature_matches("whsec_1", body, None)
    assert not signature_matches("whsec_1", body, "")
    assert not signature_matches("whsec_1", body, "ünicode")


def test_body_digest_is_sha256_hex():
    assert body_digest(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@given(st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-(10**9), max_value=10**9))
def test_parse_money_round_trips_decimal_strings_and_floats(amount):
    assert parse_money(str(amount)) == amount
    assert parse_money(f"{amount:,}") == amount
    assert money_number(parse_money(float(amount))) == money_number(amount)


@given(st.one_of(st.text(), st.integers(), st.floats(), st.none(), st.booleans(), st.lists(st.integers())))
def test_lenient_parsers_never_raise(value):
    parse_money(value)
    parse_id(value)
    parse_datetime(value)
    parse_email(value)
