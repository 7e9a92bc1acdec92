"""The Loop Returns webhook endpoint: verify, store, answer 200 fast."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from events.api.serializers import ErrorSerializer
from returns import services
from returns.api.serializers import LoopWebhookReceiptSerializer

SIGNATURE_HEADER = "X-Loop-Signature"


class LoopWebhookView(APIView):
    """POST /api/v1/returns/loop/<token>: Loop signs the raw body with the merchant's webhook secret."""

    authentication_classes: list = []
    permission_classes: list = []

    @extend_schema(
        request=None,
        summary="Receive a Loop Returns webhook",
        responses={
            200: LoopWebhookReceiptSerializer,
            400: OpenApiResponse(ErrorSerializer, description="A stale payload (an old webhook replayed)."),
            401: OpenApiResponse(ErrorSerializer, description="X-Loop-Signature missing or wrong; nothing stored."),
            404: OpenApiResponse(ErrorSerializer, description="Unknown webhook token."),
        },
    )
    def post(self, request: Request, token: str) -> Response:
        receipt = services.receive_loop_webhook(
            token=token, body=request.body, signature=request.headers.get(SIGNATURE_HEADER)
        )
        body = {"received": True, "duplicate": receipt.duplicate, "id": receipt.webhook.id if receipt.webhook else None}
        return Response(LoopWebhookReceiptSerializer(body).data)
