"""The Shopify webhook endpoint: verify, store, answer 200 fast (processing is queued)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from events.api.serializers import ErrorSerializer
from shopify import services
from shopify.api.serializers import ShopifyWebhookReceiptSerializer


class ShopifyWebhookView(APIView):
    """POST /api/v1/shopify/webhooks/<token>: orders, refunds and compliance topics, HMAC-signed by Shopify."""

    authentication_classes: list = []
    permission_classes: list = []

    @extend_schema(
        request=None,
        summary="Receive a Shopify webhook (orders/create, orders/paid, orders/cancelled, refunds/create, compliance)",
        responses={
            200: ShopifyWebhookReceiptSerializer,
            400: OpenApiResponse(ErrorSerializer, description="No X-Shopify-Topic, or the body is not a JSON object."),
            401: OpenApiResponse(ErrorSerializer, description="Signature missing or wrong; nothing stored."),
            404: OpenApiResponse(ErrorSerializer, description="Unknown webhook token."),
        },
    )
    def post(self, request: Request, token: str) -> Response:
        receipt = services.receive_shopify_webhook(token=token, body=request.body, headers=request.headers)
        body = {
            "received": True,
            "duplicate": receipt.duplicate,
            "state": receipt.state,
            "id": receipt.webhook.id if receipt.webhook else None,
        }
        return Response(ShopifyWebhookReceiptSerializer(body).data)
