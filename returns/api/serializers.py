"""Response shapes of the Loop webhook endpoint (documentation for the OpenAPI schema)."""

from __future__ import annotations

from rest_framework import serializers


class LoopWebhookReceiptSerializer(serializers.Serializer):
    received = serializers.BooleanField(help_text="Always true: the webhook is stored.")
    duplicate = serializers.BooleanField(help_text="True when this exact body was already received.")
    id = serializers.IntegerField(
        allow_null=True, help_text="The stored webhook's id (null: a duplicate whose row retention deleted)."
    )
