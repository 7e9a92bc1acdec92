"""Write-key authentication for the ingest API.

The key comes from the ``X-Write-Key`` header or a top-level ``writeKey`` body field
(sendBeacon cannot set headers). It is looked up by its unique index and never logged.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from events.exceptions import WriteKeyInvalidError, WriteKeyMissingError
from events.models import Merchant
from events.selectors import get_merchant_by_write_key

WRITE_KEY_HEADER = "HTTP_X_WRITE_KEY"


def extract_write_key(header: str | None, data: Any) -> str | None:
    if header and header.strip():
        return header.strip()
    if isinstance(data, dict) and isinstance(data.get("writeKey"), str) and data["writeKey"].strip():
        return data["writeKey"].strip()
    return None


class WriteKeyAuthentication(BaseAuthentication):
    """Authenticates the merchant; ``request.auth`` is the Merchant, ``request.user`` None."""

    def authenticate(self, request: Request) -> tuple[None, Merchant] | None:
        if request.method == "OPTIONS":
            return None
        header = request.META.get(WRITE_KEY_HEADER)
        key = extract_write_key(header, None if header else request.data)
        if key is None:
            raise WriteKeyMissingError("A write key is required: X-Write-Key header or writeKey field.")
        merchant = get_merchant_by_write_key(key)
        if merchant is None:
            raise WriteKeyInvalidError("The write key is not valid (it may have been rotated).")
        return (None, merchant)

    def authenticate_header(self, request: Request) -> str:
        return "X-Write-Key"


class WriteKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Documents the write key as an API-key security scheme in the OpenAPI schema."""

    target_class = "events.api.authentication.WriteKeyAuthentication"
    name = "WriteKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "X-Write-Key"}
