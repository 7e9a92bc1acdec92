"""Ingest API views: thin (authenticate, check origin, call one service, answer)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config import request_limits
from config.errors import ApplicationError
from config.logging import log_request_fields
from events import selectors, services
from events.api import serializers as s
from events.api.authentication import WriteKeyAuthentication
from events.api.parsers import OrjsonParser, TextPlainJsonParser
from events.api.problems import note_partial, note_refusal
from events.cors import cors_headers, is_origin_allowed
from events.exceptions import (
    ContentTypeUnsupportedError,
    EventsInvalidError,
    OriginNotAllowedError,
    PayloadInvalidError,
    PayloadTooLargeError,
)

PIXEL_CACHE_SECONDS = 3600


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(s.ErrorSerializer, description=description)


class EventIngestView(APIView):
    authentication_classes = [WriteKeyAuthentication]
    permission_classes: list[Any] = []
    parser_classes = [OrjsonParser, TextPlainJsonParser]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if request.method != "POST":
            super().initial(request, *args, **kwargs)
            return
        try:
            _check_body_headers(request)
            super().initial(request, *args, **kwargs)  # authenticates (write key)
        except ApplicationError:
            request_limits.check_ingest(request)  # refused requests count against their IP too
            raise
        merchant = request.auth
        try:
            verdict = request_limits.check_ingest(request, write_key=merchant.write_key)
        except request_limits.QuotaSheddingError as exc:
            services.note_ingest_over_quota(merchant, key_count=exc.key_count, shed=True)
            raise
        if verdict.over_quota:
            services.note_ingest_over_quota(merchant, key_count=verdict.key_count, shed=False)
        origin = request.headers.get("Origin")
        if origin and not is_origin_allowed(origin, merchant.allowed_origins):
            raise OriginNotAllowedError("This origin is not allowed for this merchant.")

    @extend_schema(
        operation_id="ingest_events",
        summary="Ingest one event or a batch (pixel, sendBeacon, Shopify Web Pixel events)",
        request=PolymorphicProxySerializer(
            component_name="IngestRequest",
            serializers=[s.IngestEventSerializer, s.IngestBatchSerializer, s.ShopifyWebPixelEventSerializer],
            resource_type_field_name=None,
        ),
        responses={
            202: s.IngestResultSerializer,
            400: _error("Bad JSON, not an event object / batch, or every event invalid (fields.errors)."),
            401: _error("Missing or invalid (e.g. rotated) write key."),
            403: _error("Origin not allowed for this merchant."),
            413: _error("Body or batch too large."),
            415: _error("Content type is not application/json or text/plain."),
            429: _error("Rate limit per write key or client IP exceeded (Retry-After)."),
            503: _error("Storage temporarily unavailable; nothing was stored (Retry-After)."),
        },
    )
    def post(self, request: Request) -> Response:
        client = services.ClientInfo(
            ip=request_limits.request_ip(request), user_agent=request.headers.get("User-Agent", "")[:512]
        )
        result = services.ingest_events(request.auth, payload=request.data, client=client)
        log_request_fields(request, merchant_id=request.auth.pk, **result.log_fields())
        if result.all_invalid:
            raise _all_invalid(result)
        note_partial(request, result)
        return Response(result.as_dict(), status=status.HTTP_202_ACCEPTED)

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, ApplicationError) and self.request.method == "POST":
            note_refusal(self.request, exc)  # the console's "Ingest problems" (events.problems)
        return super().handle_exception(exc)

    @extend_schema(exclude=True)
    def options(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        origin = request.headers.get("Origin")
        if not origin or not selectors.is_origin_allowed_for_any_merchant(origin):
            return Response(status=status.HTTP_403_FORBIDDEN)
        return Response(status=status.HTTP_204_NO_CONTENT, headers=cors_headers(origin, preflight=True))

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        origin = request.headers.get("Origin")
        if origin and request.method != "OPTIONS" and _origin_may_read(request, origin):
            for name, value in cors_headers(origin).items():
                response[name] = value
        return response


def _check_body_headers(request: Request) -> None:
    """415 / 413 / 400 decided from the headers, before the body is read."""
    if request.content_type.split(";")[0].strip().lower() not in ("application/json", "text/plain"):
        raise _unsupported(request.content_type)
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise PayloadInvalidError("Content-Length is not a number.")
    if length > settings.INGEST_MAX_BODY_BYTES:
        raise PayloadTooLargeError(f"The body is larger than {settings.INGEST_MAX_BODY_BYTES} bytes.")
    if length <= 0:
        raise PayloadInvalidError("The body is empty.", code="empty_body")


def _all_invalid(result: services.IngestResult) -> EventsInvalidError:
    first = result.errors[0]
    if len(result.errors) == 1:
        return EventsInvalidError(first.message, code=first.code, fields={"errors": result.error_dicts()})
    return EventsInvalidError("Every event of the batch is invalid.", fields={"errors": result.error_dicts()})


def _unsupported(content_type: str) -> Exception:
    shown = content_type.split(";")[0][:100] or "none"
    return ContentTypeUnsupportedError(f"Unsupported content type {shown!r}: send application/json or text/plain.")


def _origin_may_read(request: Request, origin: str) -> bool:
    merchant = getattr(request, "_auth", None)
    if merchant is not None:
        return is_origin_allowed(origin, merchant.allowed_origins)
    return selectors.is_origin_allowed_for_any_merchant(origin)


@require_GET
def pixel_js(request: HttpRequest) -> HttpResponse:
    """GET /pixel.js?key=WRITE_KEY: the merchant's pixel (cacheable, key baked in)."""
    merchant = selectors.get_merchant_by_write_key(request.GET.get("key", "").strip())
    if merchant is None:
        return HttpResponse(
            "/* Recapture: unknown or rotated write key */\n",
            status=404,
            content_type="application/javascript; charset=utf-8",
        )
    response = HttpResponse(selectors.get_pixel_script(merchant), content_type="application/javascript; charset=utf-8")
    response["Cache-Control"] = f"public, max-age={PIXEL_CACHE_SECONDS}"
    response["Access-Control-Allow-Origin"] = "*"
    return response
