"""What the ingest view tells events.problems: which merchant a refusal belongs to, and a redacted sample."""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from rest_framework.request import Request

from config.errors import ApplicationError
from config.request_limits import client_ip
from events import problems, selectors
from events.services import IngestResult

logger = logging.getLogger(__name__)
ORIGIN_CACHE_SECONDS = 10
ORIGIN_CACHE_MAX = 1000
READ_CHARS = 2000  # redacted first, then cut to problems.SAMPLE_CHARS: a cut value is never the one shown
_origin_merchants: dict[str, tuple[float, list[int]]] = {}


def merchants_for_origin(origin: str) -> list[int]:
    """Merchants allowing ``origin``, remembered per process for a few seconds (a flood costs no query each)."""
    now = time.monotonic()
    hit = _origin_merchants.get(origin)
    if hit is not None and now - hit[0] < ORIGIN_CACHE_SECONDS:
        return hit[1]
    if len(_origin_merchants) >= ORIGIN_CACHE_MAX:
        _origin_merchants.clear()
    ids = selectors.list_merchant_ids_for_origin(origin)
    _origin_merchants[origin] = (now, ids)
    return ids


def forget_origins() -> None:
    """Forget the per-process origin -> merchants memory (tests)."""
    _origin_merchants.clear()


def request_sample(request: Request, *, code: str, message: str) -> dict[str, Any]:
    """What support staff may see of a refused request: no write key, no email, no full IP, 300 characters."""
    from django.conf import settings

    raw = request._request
    body = _body_already_read(request)
    ip = client_ip(
        raw.META.get("REMOTE_ADDR"), raw.META.get("HTTP_X_FORWARDED_FOR"), trusted_proxies=settings.TRUSTED_PROXY_COUNT
    )
    return {
        "code": code,
        "message": problems.redact(message),
        "content_type": raw.content_type[:100],
        "user_agent": problems.redact(raw.META.get("HTTP_USER_AGENT", ""), limit=120),
        "ip": problems.mask_ip(ip),
        "body": problems.redact(body),
    }


def _body_already_read(request: Request) -> str:
    """The body as parsed or read so far; never read here (a 413's body stays unread)."""
    data = getattr(request, "_full_data", None)
    if isinstance(data, dict | list) and data:
        try:
            return orjson.dumps(data)[:READ_CHARS].decode("utf-8", "replace")
        except (TypeError, orjson.JSONEncodeError):  # nested deeper than orjson goes: no body in the sample
            return ""
    raw = getattr(request._request, "_body", b"")
    return raw[:READ_CHARS].decode("utf-8", "replace")


def note_refusal(request: Request, exc: ApplicationError) -> None:
    """Tally a refused request for its merchant: the authenticated one, else those allowing its Origin.

    Diagnostics never change the answer: any failure here is logged and the refusal goes out as it was.
    """
    try:
        _note_refusal(request, exc)
    except Exception:
        logger.warning("ingest problem not recorded", exc_info=True)


def _note_refusal(request: Request, exc: ApplicationError) -> None:
    origin = request._request.headers.get("Origin", "")[:200]
    merchant = getattr(request, "_auth", None)
    ids = [merchant.pk] if merchant is not None else (merchants_for_origin(origin) if origin else [])
    if not ids:
        return  # no merchant to show it to (no key, no known origin)
    sample = request_sample(request, code=exc.code, message=exc.message)
    for merchant_id in ids:
        problems.record_problem(merchant_id, code=exc.code, origin=origin, sample=sample)


def note_partial(request: Request, result: IngestResult) -> None:
    """Events refused inside an accepted batch, and events of unknown types: one tally per code."""
    items = [*result.errors, *result.warnings]
    if not items:
        return
    origin = request._request.headers.get("Origin", "")[:200]
    by_code: dict[str, list[str]] = {}
    for item in items:
        by_code.setdefault(item.code, []).append(item.message)
    for code, messages in by_code.items():
        sample = request_sample(request, code=code, message=messages[0])
        problems.record_problem(request.auth.pk, code=code, origin=origin, sample=sample, count=len(messages))
