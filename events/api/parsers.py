"""Body parsers of the ingest API: JSON sent as application/json or text/plain (sendBeacon)."""

from __future__ import annotations

from typing import Any

import orjson
from django.conf import settings
from rest_framework.parsers import BaseParser

from events.exceptions import PayloadInvalidError, PayloadTooLargeError


def read_limited(stream: Any, limit: int) -> bytes:
    """Read at most ``limit`` bytes; a longer body is a 413, never buffered in full."""
    data = stream.read(limit + 1) if stream is not None else b""
    if len(data) > limit:
        raise PayloadTooLargeError(f"The body is larger than {limit} bytes.")
    return data


def loads(data: bytes) -> Any:
    """orjson parsing; anything that is not strict UTF-8 JSON (NaN, deep nesting...) is a 400."""
    if not data.strip():
        raise PayloadInvalidError("The body is empty.", code="empty_body")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise PayloadInvalidError(f"The body is not valid JSON: {exc.msg}.", code="invalid_json")


class OrjsonParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        return loads(read_limited(stream, settings.INGEST_MAX_BODY_BYTES))


class TextPlainJsonParser(OrjsonParser):
    """navigator.sendBeacon and no-preflight fetch send JSON as text/plain."""

    media_type = "text/plain"
