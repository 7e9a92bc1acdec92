"""The Loop Returns webhook endpoint: verify, store, answer 200 fast."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from returns import services

SIGNATURE_HEADER = "X-Loop-Signature"


class LoopWebhookView(APIView):
    """POST /api/v1/returns/loop/<token>: Loop signs the raw body with the merchant's webhook secret."""

    authentication_classes: list = []
    permission_classes: list = []

    @extend_schema(request=None, responses={200: dict}, summary="Receive a Loop Returns webhook")
    def post(self, request: Request, token: str) -> Response:
        receipt = services.receive_loop_webhook(
            token=token, body=request.body, signature=request.headers.get(SIGNATURE_HEADER)
        )
        return Response({"received": True, "duplicate": receipt.duplicate, "id": receipt.webhook.id})
