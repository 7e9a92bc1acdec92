"""CORS decisions for the ingest API (pure; the merchant's allowed origins are data)."""

from __future__ import annotations

from collections.abc import Iterable

PREFLIGHT_MAX_AGE = "7200"
ALLOWED_METHODS = "POST, OPTIONS"
ALLOWED_HEADERS = "Content-Type, X-Write-Key"


def normalise_origin(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def is_origin_allowed(origin: str, allowed: Iterable[str]) -> bool:
    wanted = normalise_origin(origin)
    return any(isinstance(o, str) and normalise_origin(o) == wanted for o in allowed)


def cors_headers(origin: str, *, preflight: bool = False) -> dict[str, str]:
    """Headers for an allowed origin (the caller never adds any for other origins)."""
    headers = {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    if preflight:
        headers.update(
            {
                "Access-Control-Allow-Methods": ALLOWED_METHODS,
                "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
            }
        )
    return headers
