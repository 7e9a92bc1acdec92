"""Errors of the events app: whole-request ingest errors and per-event validation errors."""

from __future__ import annotations

from rest_framework import status

from config.errors import ApplicationError


class WriteKeyMissingError(ApplicationError):
    code = "write_key_missing"
    http_status = status.HTTP_401_UNAUTHORIZED


class WriteKeyInvalidError(ApplicationError):
    code = "write_key_invalid"
    http_status = status.HTTP_401_UNAUTHORIZED


class OriginNotAllowedError(ApplicationError):
    code = "origin_not_allowed"
    http_status = status.HTTP_403_FORBIDDEN


class PayloadTooLargeError(ApplicationError):
    code = "payload_too_large"
    http_status = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE


class BatchTooLargeError(ApplicationError):
    code = "batch_too_large"
    http_status = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE


class PayloadInvalidError(ApplicationError):
    """The body is not JSON, or not an event object / batch envelope."""

    code = "invalid_payload"
    http_status = status.HTTP_400_BAD_REQUEST


class EventInvalidError(Exception):
    """One event of a request is invalid; reported in `errors`, the others are stored."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ContentTypeUnsupportedError(ApplicationError):
    code = "unsupported_media_type"
    http_status = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE


class EventsInvalidError(ApplicationError):
    """Every event of the request was invalid: nothing was stored."""

    code = "invalid_events"
    http_status = status.HTTP_400_BAD_REQUEST
