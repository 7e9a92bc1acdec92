"""Errors of the shopify app (rendered by config.errors.api_exception_handler)."""

from __future__ import annotations

from rest_framework import status

from config.errors import ApplicationError


class ShopifyWebhookNotFoundError(ApplicationError):
    code = "not_found"
    http_status = status.HTTP_404_NOT_FOUND


class ShopifySignatureInvalidError(ApplicationError):
    code = "invalid_signature"
    http_status = status.HTTP_401_UNAUTHORIZED


class ShopifyWebhookInvalidError(ApplicationError):
    code = "invalid_webhook"
    http_status = status.HTTP_400_BAD_REQUEST


class ShopifyApiError(ApplicationError):
    code = "shopify_api_error"
    http_status = status.HTTP_502_BAD_GATEWAY
