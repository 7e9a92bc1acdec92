from __future__ import annotations

import secrets
from enum import StrEnum

from django.db import models

from config.crypto import EncryptedTextField


class EventType(StrEnum):
    """Standard event types; values are the wire names. Any other name is a custom event."""

    VIEW_CONTENT = "ViewContent"
    ADD_TO_CART = "AddToCart"
    INITIATE_CHECKOUT = "InitiateCheckout"
    PURCHASE = "Purchase"
    PAGE_VIEW = "PageView"
    IDENTIFY = "Identify"
    # The rest of Shopify's standard catalogue (events.shopify.EVENT_TYPES).
    VIEW_CART = "ViewCart"
    VIEW_COLLECTION = "ViewCollection"
    SEARCH = "Search"
    REMOVE_FROM_CART = "RemoveFromCart"
    ADD_SHIPPING_ADDRESS = "AddShippingAddress"
    ADD_SHIPPING_METHOD = "AddShippingMethod"
    ADD_PAYMENT_INFO = "AddPaymentInfo"
    # Server-side Shopify orders (the shopify app's webhooks): Klaviyo's own Shopify metric names.
    CANCELLED_ORDER = "CancelledOrder"
    REFUNDED_ORDER = "RefundedOrder"


def new_write_key() -> str:
    return "wk_" + secrets.token_urlsafe(24)


def new_webhook_token() -> str:
    return secrets.token_urlsafe(18)


def new_webhook_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class Merchant(models.Model):
    name = models.CharField(max_length=200)
    shop_domain = models.CharField(max_length=255, unique=True, help_text="e.g. my-shop.myshopify.com")
    allowed_origins = models.JSONField(
        default=list, blank=True, help_text="Origins allowed to call the ingest API from a browser."
    )
    timezone = models.CharField(max_length=64, default="UTC")
    phone_region = models.CharField(
        max_length=2,
        blank=True,
        default="",
        help_text="Country (ISO 3166 alpha-2, e.g. US, GB) for phone numbers typed without +; blank: the site default.",
    )
    write_key = models.CharField(max_length=64, unique=True, default=new_write_key)
    write_key_rotated_at = models.DateTimeField(null=True, blank=True)
    returns_webhook_token = models.CharField(max_length=64, unique=True, default=new_webhook_token)
    returns_webhook_secret = EncryptedTextField(default=new_webhook_secret)
    # Identity settings
    blocked_identifier_values = models.JSONField(
        default=list, blank=True, help_text="Extra junk values (e.g. a test email) that never link profiles."
    )
    reidentify_lookback_hours = models.PositiveIntegerField(default=24)
    attribution_window_days = models.PositiveIntegerField(
        default=5,
        help_text="An order counts as recovered when a visit from a Klaviyo/Loops message within this many days "
        "led to it (the device's first-touch UTM, _kx, click ids are kept that long).",
    )
    # Consent: what happens to an event whose visitor refused analytics (events.consent).
    consent_policy = models.CharField(
        max_length=16,
        choices=[("anonymise", "Store nothing identifying"), ("drop", "Store nothing at all")],
        default="anonymise",
        help_text="Without analytics consent (Shopify decides where consent is required).",
    )
    forwarded_traits = models.JSONField(
        default=list,
        blank=True,
        help_text="Custom trait names forwarded to Klaviyo and Loops besides the standard ones "
        "(first_name, last_name, phone, city, region, country, zip). Others are stored, not sent.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.shop_domain})"


class EventSource(models.TextChoices):
    PIXEL = "pixel", "Recapture pixel"
    SHOPIFY = "shopify", "Shopify Web Pixel"
    SHOPIFY_WEBHOOK = "shopify_webhook", "Shopify webhook (server-side order)"
    RETURNS = "returns", "Loop Returns"
    SYSTEM = "system", "System / test"


# Event ids the server makes live in these namespaces: Loop returns ("loop:<return id>:..."),
# Shopify order webhooks ("shopify:..."), Recapture's own test and system events. An event
# posted with the public write key may not use them (events.ingest refuses it), so a client
# can never take a server event's id first and make the signed one a silent "duplicate".
# A new server-side source registers its prefix here and builds its ids with it.
SERVER_EVENT_ID_PREFIXES: tuple[str, ...] = ("loop:", "shopify:", "recapture:", "server:")


def is_server_event_id(event_id: str) -> bool:
    return event_id.strip().lower().startswith(SERVER_EVENT_ID_PREFIXES)


# Sources whose traits the server verified (a signed webhook, our own test events): a trait
# they set is never overwritten by one from the browser (pixel, Shopify Web Pixel), which
# anyone holding the public write key can post. A new server-side source adds itself here.
VERIFIED_SOURCES: frozenset[str] = frozenset({EventSource.SHOPIFY_WEBHOOK, EventSource.RETURNS, EventSource.SYSTEM})


class Identification(models.TextChoices):
    PENDING = "pending", "Pending"
    NATIVE = "native", "Native"
    RESOLVED = "resolved", "Resolved by Recapture"
    ANONYMOUS = "anonymous", "Anonymous"


class Event(models.Model):
    """One stored event: the raw body as received and its normalised form."""

    # No index of its own: event_unique_per_merchant and event_merchant_recent start with it.
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="events", db_index=False)
    event_id = models.CharField(max_length=128, help_text="Client-supplied id; the dedupe key.")
    type = models.CharField(max_length=128, db_index=True)
    source = models.CharField(max_length=16, choices=EventSource.choices, default=EventSource.PIXEL)
    anonymous_id = models.CharField(max_length=128, blank=True, default="")
    timestamp = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    context = models.JSONField(default=dict, blank=True)
    identifiers = models.JSONField(default=dict, blank=True)
    traits = models.JSONField(default=dict, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    # Filled by identity resolution.
    profile = models.ForeignKey(  # indexed by event_profile_time, which starts with it
        "identity.Profile", null=True, blank=True, on_delete=models.SET_NULL, related_name="events", db_index=False
    )
    identification = models.CharField(
        max_length=16, choices=Identification.choices, default=Identification.PENDING, db_index=True
    )
    resolved_by = models.CharField(max_length=32, blank=True, default="", help_text="Identifier type that linked it.")
    identity_decision = models.JSONField(
        default=dict, blank=True, help_text="Which identifier and rule attributed the event, or why not."
    )
    # Network prefix + OS family of the sender, keyed-hashed (events.hints); blanked after retention.
    client_hint = models.CharField(max_length=32, blank=True, default="")
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["merchant", "event_id"], name="event_unique_per_merchant")]
        indexes = [
            models.Index(fields=["merchant", "-received_at"], name="event_merchant_recent"),
            models.Index(fields=["profile", "timestamp"], name="event_profile_time"),
            models.Index(fields=["merchant", "anonymous_id"], name="event_merchant_anon"),
            # What processing tasks claim: small, it only holds the events not processed yet.
            models.Index(
                fields=["received_at", "id"], name="event_unprocessed", condition=models.Q(processed_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class AlertKind(models.TextChoices):
    INGEST_QUOTA = "ingest_quota", "Ingest over the store's quota"
    PROFILE_CEILING = "profile_ceiling", "New profiles over the hourly ceiling"


class MerchantAlert(models.Model):
    """Something the merchant's operators should look at (abuse of the public key, floods).

    One open row per merchant and kind, updated while the condition lasts; staff resolve it.
    """

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=32, choices=AlertKind.choices)
    message = models.TextField()
    count = models.PositiveIntegerField(default=0, help_text="Occurrences (refused requests, profiles not made).")
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_seen"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "kind"],
                condition=models.Q(resolved_at__isnull=True),
                name="alert_one_open_per_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.merchant_id})"
