"""Lenient readers for Loop payloads (pure: no ORM, no I/O).

Loop mixes numbers and strings for ids and money ("12.50", 12.5, "1,234.00", null),
so every read goes through these helpers instead of trusting a type.
"""

from __future__ import annotations

import hashlib
import hmac
from base64 import b64encode
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

_JUNK = {"", "null", "none", "n/a", "undefined"}


def parse_money(value: Any) -> Decimal | None:
    """A Decimal from 12.5, "12.50", "1,234.00", "$9.99"; None when absent or unreadable."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | float):
        return Decimal(str(value))
    text = str(value).strip().replace(",", "").lstrip("$€£")
    if text.lower() in _JUNK:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def money_number(value: Decimal | None) -> float | int:
    """A JSON number for a money amount (0 when absent): 47.5, 12, 1234.99."""
    if value is None:
        return 0
    quantised = value.quantize(Decimal("0.01"))
    return int(quantised) if quantised == quantised.to_integral_value() else float(quantised)


def parse_id(value: Any) -> str:
    """An id as a string: 12345, "12345", 12345.0 -> "12345"; "" when absent."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return "" if text.lower() in _JUNK else text


def parse_text(value: Any) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    text = str(value).strip()
    return "" if text.lower() in _JUNK else text


def parse_datetime(value: Any) -> datetime | None:
    """An aware datetime from ISO 8601 ("2024-05-01T12:00:00Z", "+00:00", "2024-05-01 12:00:00")."""
    text = parse_text(value)
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_email(value: Any) -> str:
    text = parse_text(value).lower()
    return text if "@" in text else ""


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def sign_body(secret: str, body: bytes) -> str:
    """Loop's X-Loop-Signature: base64(HMAC-SHA256(secret, raw body))."""
    return b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def signature_matches(secret: str, body: bytes, signature: str | None) -> bool:
    """Constant-time comparison over the raw bytes as received."""
    if not signature or not secret:
        return False
    return hmac.compare_digest(sign_body(secret, body).encode(), signature.strip().encode())


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()
