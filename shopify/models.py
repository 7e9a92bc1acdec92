"""A store's Shopify webhook settings, the webhooks as received, and the orders and checkouts they describe."""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q

from config.crypto import EncryptedTextField


def new_shopify_webhook_token() -> str:
    return secrets.token_urlsafe(18)


class ShopifyStore(models.Model):
    """One merchant's Shopify webhook endpoint: the URL token and the key Shopify signs with."""

    merchant = models.OneToOneField("events.Merchant", on_delete=models.CASCADE, related_name="shopify_store")
    webhook_token = models.CharField(max_length=64, unique=True, default=new_shopify_webhook_token)
    webhook_secret = EncryptedTextField(
        blank=True,
        default="",
        help_text="The key Shopify signs webhooks with: shown under Settings > Notifications > Webhooks for "
        "webhooks made in the admin, the app's API secret key for webhooks an app registered. Never displayed.",
    )
    admin_api_token = EncryptedTextField(
        blank=True, default="", help_text="Optional Admin API token (register_shopify_webhooks). Never displayed."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Shopify webhooks of merchant #{self.merchant_id}"


class WebhookState(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSED = "processed", "Processed"
    WAITING = "waiting", "Waiting for its order"
    STALE = "stale", "Stale (triggered too long ago; not forwarded)"
    IGNORED = "ignored", "Ignored (topic not forwarded)"
    FAILED = "failed", "Failed"


class ShopifyWebhook(models.Model):
    """One delivery from Shopify, stored raw (verified) before anything else happens."""

    merchant = models.ForeignKey("events.Merchant", on_delete=models.CASCADE, related_name="shopify_webhooks")
    topic = models.CharField(max_length=64)
    webhook_id = models.CharField(max_length=128, help_text="X-Shopify-Webhook-Id: one per delivery.")
    event_id = models.CharField(
        max_length=128, blank=True, default="", help_text="X-Shopify-Event-Id: one per merchant action."
    )
    triggered_at = models.DateTimeField(null=True, blank=True, help_text="X-Shopify-Triggered-At.")
    api_version = models.CharField(max_length=16, blank=True, default="")
    resource_id = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text="Order id (refunds: their order; checkouts: the checkout token).",
    )
    body = models.TextField(help_text="The raw body, exactly as signed by Shopify (redacted after a redact request).")
    state = models.CharField(max_length=16, choices=WebhookState.choices, default=WebhookState.RECEIVED)
    error = models.TextField(blank=True, default="")
    result = models.JSONField(default=dict, blank=True, help_text="What processing did (a data request's export).")
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "webhook_id"], name="shopify_webhook_unique_delivery"),
            models.UniqueConstraint(
                fields=["merchant", "topic", "event_id"], condition=~Q(event_id=""), name="shopify_webhook_unique_event"
            ),
            models.CheckConstraint(condition=Q(state__in=WebhookState.values), name="shopify_webhook_state_valid"),
        ]
        indexes = [models.Index(fields=["merchant", "resource_id", "state"], name="shopify_webhook_resource")]

    def __str__(self) -> str:
        return f"{self.topic} {self.resource_id} ({self.state})"


class ShopifyOrder(models.Model):
    """The latest known state of one order: what refunds join to, and the session it was joined to."""

    merchant = models.ForeignKey("events.Merchant", on_delete=models.CASCADE, related_name="shopify_orders")
    order_id = models.CharField(max_length=64)
    name = models.CharField(max_length=64, blank=True, default="", help_text='e.g. "#1001"')
    email = models.CharField(max_length=254, blank=True, default="")
    checkout_token = models.CharField(max_length=128, blank=True, default="")
    cart_token = models.CharField(max_length=128, blank=True, default="")
    anonymous_id = models.CharField(max_length=128, blank=True, default="", help_text="The pixel session joined.")
    payload = models.JSONField(default=dict, blank=True)
    triggered_at = models.DateTimeField(null=True, blank=True, help_text="Of the delivery the payload came from.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "order_id"], name="shopify_order_unique_per_merchant")
        ]
        indexes = [models.Index(fields=["merchant", "email"], name="shopify_order_email")]

    def __str__(self) -> str:
        return f"Shopify order {self.name or self.order_id}"


class ShopifyCheckout(models.Model):
    """A checkout as ``checkouts/create`` / ``checkouts/update`` last described it: its recovery URL,
    keyed by the checkout token the pixel's checkout events carry (Started Checkout's CheckoutURL).

    The email is kept only so a ``customers/redact`` finds the row; it is no identity evidence.
    Rows are pruned after SHOPIFY_CHECKOUT_RETENTION_DAYS.
    """

    merchant = models.ForeignKey("events.Merchant", on_delete=models.CASCADE, related_name="shopify_checkouts")
    token = models.CharField(max_length=128, help_text="The checkout token (the pixel's data.checkout.token).")
    cart_token = models.CharField(max_length=128, blank=True, default="")
    abandoned_checkout_url = models.CharField(
        max_length=2000, blank=True, default="", help_text="Shopify's URL for the buyer to recover the checkout."
    )
    email = models.CharField(max_length=254, blank=True, default="")
    completed_at = models.DateTimeField(null=True, blank=True)
    triggered_at = models.DateTimeField(null=True, blank=True, help_text="Of the delivery the row came from.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "token"], name="shopify_checkout_unique_per_merchant")
        ]
        indexes = [models.Index(fields=["merchant", "email"], name="shopify_checkout_email")]

    def __str__(self) -> str:
        return f"Shopify checkout {self.token}"
