"""Serializers describing the ingest API in the OpenAPI schema.

Validation itself is done by the pure functions of events.ingest (fast for 500 events);
these document the request and response shapes.
"""

from __future__ import annotations

from rest_framework import serializers


class IngestEventSerializer(serializers.Serializer):
    event_id = serializers.CharField(max_length=128, help_text="Client uuid; the dedupe key.")
    type = serializers.CharField(max_length=128, help_text="ViewContent, AddToCart, ..., or any custom name.")
    anonymous_id = serializers.CharField(max_length=128, help_text="First-party cookie id (_rc_aid).")
    timestamp = serializers.DateTimeField(required=False, help_text="ISO 8601; default now; far future rejected.")
    context = serializers.DictField(required=False, help_text="url, referrer, user_agent, utm{...}.")
    identifiers = serializers.DictField(required=False, help_text="email, phone, shopify_customer_id, kx, click ids.")
    traits = serializers.DictField(required=False, help_text="first_name, last_name, city, region, country, zip.")
    properties = serializers.DictField(required=False, help_text="ProductName, Price, Items, ... custom keys.")
    writeKey = serializers.CharField(required=False, help_text="Instead of the X-Write-Key header.")


class ShopifyWebPixelEventSerializer(serializers.Serializer):
    """A Shopify Customer Events (Web Pixels API) event object, posted as-is."""

    id = serializers.CharField()
    name = serializers.CharField(help_text="page_viewed, product_viewed, checkout_completed, ...")
    clientId = serializers.CharField()
    timestamp = serializers.DateTimeField()
    context = serializers.DictField(required=False)
    data = serializers.DictField(required=False)
    writeKey = serializers.CharField(required=False)


class IngestBatchSerializer(serializers.Serializer):
    batch = IngestEventSerializer(many=True, help_text="At most INGEST_MAX_BATCH_EVENTS (500) events.")
    writeKey = serializers.CharField(required=False)


class EventErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    code = serializers.CharField()
    message = serializers.CharField()


class IngestResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    errors = EventErrorSerializer(many=True)
    warnings = EventErrorSerializer(
        many=True,
        required=False,
        help_text="Present when an accepted event is probably not what was meant, e.g. an unknown type "
        "(code unknown_event_type): stored, forwarded only where a destination lists it as a custom event.",
    )


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(allow_null=True)


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()
