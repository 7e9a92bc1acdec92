"""Errors of the returns app (rendered by config.errors.api_exception_handler)."""

from __future__ import annotations

from rest_framework import status

from config.errors import ApplicationError


class LoopWebhookNotFoundError(ApplicationError):
    code = "not_found"
    http_status = status.HTTP_404_NOT_FOUND


class LoopSignatureInvalidError(ApplicationError):
    code = "invalid_signature"
    http_status = status.HTTP_401_UNAUTHORIZED


class LoopApiError(ApplicationError):
    code = "loop_api_error"
    http_status = status.HTTP_502_BAD_GATEWAY


class LoopWebhookStaleError(ApplicationError):
    code = "stale_webhook"
    http_status = status.HTTP_400_BAD_REQUEST
