"""Loop Returns webhooks as received, and the latest known state of each return."""

from __future__ import annotations

from django.db import models


class WebhookState(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSED = "processed", "Processed"
    WAITING = "waiting", "Waiting for its return"
    FAILED = "failed", "Failed"
    IGNORED = "ignored", "Ignored (not forwarded)"


class LoopWebhook(models.Model):
    """One webhook delivery from Loop, stored raw before anything else happens."""

    merchant = models.ForeignKey("events.Merchant", on_delete=models.CASCADE, related_name="loop_webhooks")
    topic = models.CharField(max_length=64, blank=True, default="")
    trigger = models.CharField(max_length=64, blank=True, default="", db_index=True)
    return_id = models.CharField(max_length=64, blank=True, default="")
    body = models.TextField(help_text="The raw request body, exactly as signed by Loop.")
    body_sha256 = models.CharField(max_length=64)
    signature_valid = models.BooleanField(default=False)
    state = models.CharField(max_length=16, choices=WebhookState.choices, default=WebhookState.RECEIVED)
    error = models.TextField(blank=True, default="")
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "body_sha256"], name="loop_webhook_unique_body"),
            models.CheckConstraint(
                condition=models.Q(state__in=[s.value for s in WebhookState]), name="loop_webhook_state_valid"
            ),
        ]
        indexes = [models.Index(fields=["merchant", "return_id", "state"], name="loop_webhook_return_state")]

    def __str__(self) -> str:
        return f"{self.trigger or self.topic or 'unknown'} {self.return_id} ({self.state})"


class LoopWebhookDigest(models.Model):
    """The digest of a webhook whose stored row (and PII body) retention deleted.

    Kept longer than the bodies (LOOP_WEBHOOK_DIGEST_RETENTION_DAYS), so a signed webhook
    replayed after its body was pruned is still recognised as a duplicate; past that, the
    payload's own age refuses it (LOOP_WEBHOOK_MAX_AGE_DAYS, shorter than the digests').
    """

    merchant = models.ForeignKey("events.Merchant", on_delete=models.CASCADE, related_name="+")
    body_sha256 = models.CharField(max_length=64)
    received_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["merchant", "body_sha256"], name="loop_digest_unique_body")]
        indexes = [models.Index(fields=["received_at"], name="loop_digest_received")]

    def __str__(self) -> str:
        return self.body_sha256[:12]


class LoopReturn(models.Model):
    """The latest return payload seen for a Loop return id: what label/restock webhooks join to."""

    merchant = models.ForeignKey("events.Merchant", on_delete=models.CASCADE, related_name="loop_returns")
    return_id = models.CharField(max_length=64)
    state = models.CharField(max_length=32, blank=True, default="")
    email = models.CharField(max_length=254, blank=True, default="")
    customer = models.JSONField(default=dict, blank=True, help_text="customer_detail and address as sent by Loop.")
    payload = models.JSONField(default=dict, blank=True)
    loop_updated_at = models.DateTimeField(null=True, blank=True, help_text="Loop's own last-change time.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "return_id"], name="loop_return_unique_per_merchant")
        ]

    def __str__(self) -> str:
        return f"Loop return {self.return_id} ({self.state})"
