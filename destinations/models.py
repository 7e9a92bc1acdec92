"""Destinations (a merchant's Klaviyo / Loops accounts) and the delivery log."""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from config.crypto import EncryptedTextField
from destinations.clients import kind_choices
from events.models import EventType

DEFAULT_EVENT_TYPES = [
    EventType.VIEW_CONTENT.value,
    EventType.ADD_TO_CART.value,
    EventType.INITIATE_CHECKOUT.value,
    EventType.PURCHASE.value,
    EventType.CANCELLED_ORDER.value,
    EventType.REFUNDED_ORDER.value,
]


# Klaviyo list ids ("Y6nRLr") and Loops mailing list ids ("cm06f5v0e45nf0ml5754o9cix"): they go
# into request paths and bodies, so nothing outside this alphabet ("../", "?", "#") is stored.
platform_id_validator = RegexValidator(
    r"\A[A-Za-z0-9_-]{1,64}\Z", message="Use the platform's id: letters, digits, '-' and '_' only."
)


def default_event_types() -> list[str]:
    return list(DEFAULT_EVENT_TYPES)


# One member per client in the registry (destinations/clients/): KLAVIYO = "klaviyo", "Klaviyo"...
# Adding a platform adds its choice (and a migration of the kind field's choices).
DestinationKind = models.TextChoices(
    "DestinationKind", [(kind.upper(), (kind, label)) for kind, label in kind_choices()], module=__name__
)


class ProfileSync(models.TextChoices):
    CREATE_AND_UPDATE = "create_update", "Create and update"
    UPDATE_ONLY = "update_only", "Update only"
    OFF = "off", "Off"


class DestinationStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    ERROR = "error", "Error (paused)"


class Destination(models.Model):
    merchant = models.ForeignKey("events.Merchant", on_delete=models.CASCADE, related_name="destinations")
    kind = models.CharField(max_length=16, choices=DestinationKind.choices)
    name = models.CharField(max_length=200)
    api_key = EncryptedTextField(help_text="Stored encrypted; never displayed.")
    api_key_last4 = models.CharField(max_length=4, blank=True, default="")
    enabled = models.BooleanField(default=True)
    dry_run = models.BooleanField(
        default=False, help_text="Build and record every request exactly as it would be sent, but do not send it."
    )
    event_types = models.JSONField(
        default=default_event_types, blank=True, help_text="Event types to forward (custom event names opt-in)."
    )
    forward_reidentified = models.BooleanField(
        default=True, help_text="Send earlier anonymous events once identity resolution attributes them."
    )
    forward_returns = models.BooleanField(default=True, help_text="Forward Loop Returns events.")
    profile_sync = models.CharField(max_length=16, choices=ProfileSync.choices, default=ProfileSync.CREATE_AND_UPDATE)
    metric_suffix = models.CharField(max_length=64, blank=True, default="", help_text='e.g. " - Recapture"')
    list_id = models.CharField(
        max_length=64,
        blank=True,
        default="",
        validators=[platform_id_validator],
        help_text="Klaviyo list / Loops mailing list for identified profiles.",
    )
    name_overrides = models.JSONField(default=dict, blank=True, help_text="Event type -> metric name.")
    active_on_site = models.BooleanField(
        default=False,
        db_default=False,
        help_text='Klaviyo only: send page views as "Active on Site" (one per visit, not per page) for '
        "site-abandonment flows.",
    )
    # Health
    status = models.CharField(max_length=16, choices=DestinationStatus.choices, default=DestinationStatus.ACTIVE)
    last_error = models.TextField(blank=True, default="")
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["merchant_id", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=DestinationKind.values), name="destination_kind_valid"),
            models.CheckConstraint(condition=Q(profile_sync__in=ProfileSync.values), name="destination_sync_valid"),
            models.CheckConstraint(
                condition=Q(active_on_site=False) | Q(kind=DestinationKind.KLAVIYO),
                name="destination_active_on_site_klaviyo",
                violation_error_message="Active on Site is a Klaviyo metric: only a Klaviyo destination sends it.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class DeliveryStatus(models.TextChoices):
    HELD = "held", "Held (waiting for identity)"
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SUCCEEDED = "succeeded", "Succeeded"
    DEAD = "dead", "Dead"


class Delivery(models.Model):
    """One event to one destination. Retries are rows of our own, not queue redelivery."""

    event = models.ForeignKey("events.Event", on_delete=models.CASCADE, related_name="deliveries")
    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True, default="")
    idempotency_key = models.CharField(max_length=100)
    reidentified = models.BooleanField(default=False)
    backfill = models.BooleanField(
        default=False, help_text="History sent by a backfill: recorded without starting flows (Klaviyo backfill)."
    )
    dry_run = models.BooleanField(default=False)
    last_error = models.TextField(blank=True, default="")
    note = models.TextField(
        blank=True, default="", help_text="What was changed so the platform accepts it (e.g. an invalid phone dropped)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["event", "destination"], name="delivery_unique_event_destination"),
            models.CheckConstraint(condition=Q(status__in=DeliveryStatus.values), name="delivery_status_valid"),
            models.CheckConstraint(
                condition=~Q(status=DeliveryStatus.SENDING) | Q(leased_until__isnull=False),
                name="delivery_sending_has_lease",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due"),
            models.Index(fields=["destination", "status", "next_attempt_at"], name="delivery_dest_due"),
        ]

    def __str__(self) -> str:
        return f"delivery #{self.pk} ({self.status})"


class ErrorKind(models.TextChoices):
    NONE = "", "None"
    NETWORK = "network", "Network error"
    TIMEOUT = "timeout", "Timeout"
    RATE_LIMITED = "rate_limited", "Rate limited"
    SERVER = "server", "Server error"
    AUTH = "auth", "Authentication"
    REJECTED = "rejected", "Rejected (4xx)"


class DeliveryAttempt(models.Model):
    """One HTTP request made (or, in dry-run, built) for a delivery."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempt = models.PositiveIntegerField()
    step = models.CharField(max_length=32, help_text="event, profile, list, bulk, ...")
    method = models.CharField(max_length=8)
    url = models.URLField(max_length=500)
    request_headers = models.JSONField(default=dict, blank=True, help_text="API key redacted.")
    request_body = models.JSONField(null=True, blank=True, help_text="Recorded for dry-run attempts only.")
    status_code = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    response_body = models.TextField(blank=True, default="")
    error_kind = models.CharField(max_length=16, choices=ErrorKind.choices, blank=True, default="")
    error = models.TextField(blank=True, default="")
    dry_run = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.method} {self.url} -> {self.status_code or self.error_kind or 'dry-run'}"


class SyncedProfile(models.Model):
    """What was last synced of one profile to one destination (skip unchanged re-syncs)."""

    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="synced_profiles")
    profile = models.ForeignKey("identity.Profile", on_delete=models.CASCADE, related_name="+")
    digest = models.CharField(max_length=64)
    remote_id = models.CharField(max_length=64, blank=True, default="")
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["destination", "profile"], name="synced_profile_unique")]

    def __str__(self) -> str:
        return f"{self.profile_id} -> {self.destination_id}"


class RateLimitBucket(models.Model):
    """A token bucket shared by every worker process (conditional UPDATE on this row)."""

    key = models.CharField(max_length=100, unique=True)
    tokens = models.FloatField()
    updated_at = models.FloatField(help_text="Unix time of the last refill.")

    def __str__(self) -> str:
        return self.key


class BackupFlowKind(models.TextChoices):
    BROWSE = "browse_abandonment", "Browse Abandonment"
    CART = "abandoned_cart", "Abandoned Cart"
    CHECKOUT = "abandoned_checkout", "Abandoned Checkout"


class BackupFlow(models.Model):
    """A backup abandonment flow Recapture created (as a draft) in a destination's Klaviyo account."""

    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="backup_flows")
    kind = models.CharField(max_length=32, choices=BackupFlowKind.choices)
    name = models.CharField(max_length=200)
    remote_flow_id = models.CharField(max_length=64, blank=True, default="")
    remote_template_id = models.CharField(max_length=64, blank=True, default="")
    trigger_metric_id = models.CharField(max_length=64, blank=True, default="")
    native_flow_ids = models.JSONField(default=list, blank=True, help_text="The merchant's own flows it excludes.")
    cloned_from = models.CharField(
        max_length=64, blank=True, default="", help_text="Native flow id it was cloned from."
    )
    definition_digest = models.CharField(max_length=32, blank=True, default="")
    remote_status = models.CharField(max_length=16, blank=True, default="", help_text="As last seen in Klaviyo.")
    checked_at = models.DateTimeField(null=True, blank=True)
    # Klaviyo's reporting API (flow-values-reports), as last refreshed
    recipients = models.PositiveIntegerField(default=0)
    conversions = models.PositiveIntegerField(default=0)
    revenue = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    report_timeframe = models.CharField(max_length=32, blank=True, default="")
    reported_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["destination_id", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["destination", "kind"], name="backup_flow_unique_kind"),
            models.CheckConstraint(condition=Q(kind__in=BackupFlowKind.values), name="backup_flow_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.remote_flow_id or 'not created'})"


class PlatformErasureStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SUCCEEDED = "succeeded", "Done"
    DEAD = "dead", "Failed"


class PlatformErasure(models.Model):
    """One deletion request to one platform for an erased profile (one identifier each: Klaviyo
    and Loops delete by a single identifier per request). Retried like a delivery.

    The identifier is the only personal data left after the erasure: stored encrypted, and
    blanked once the platform has confirmed the deletion.
    """

    erasure = models.ForeignKey("identity.ErasureRecord", on_delete=models.CASCADE, related_name="platform_requests")
    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="erasures")
    identifier_type = models.CharField(max_length=16, help_text="email, phone, external_id or remote_id")
    identifier = EncryptedTextField(blank=True, default="", help_text="Blanked once the platform confirmed.")
    status = models.CharField(
        max_length=16, choices=PlatformErasureStatus.choices, default=PlatformErasureStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["erasure_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=PlatformErasureStatus.values), name="platform_erasure_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"erasure #{self.erasure_id} on {self.destination_id} by {self.identifier_type} ({self.status})"
