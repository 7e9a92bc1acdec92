from __future__ import annotations

from django.db import models


class IdentifierType(models.TextChoices):
    """Identifier types, strongest first (tiers live in identity.policy)."""

    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    SHOPIFY_CUSTOMER_ID = "shopify_customer_id", "Shopify customer id"
    EXTERNAL_ID = "external_id", "External id"
    ANONYMOUS_ID = "anonymous_id", "Anonymous id (Recapture cookie)"
    CLIENT_ID = "client_id", "Shopify clientId"
    FBP = "fbp", "Meta _fbp"
    FBCLID = "fbclid", "fbclid"
    GCLID = "gclid", "gclid"
    GBRAID = "gbraid", "gbraid"
    WBRAID = "wbraid", "wbraid"
    TTCLID = "ttclid", "ttclid"
    MSCLKID = "msclkid", "msclkid"
    KX = "kx", "Klaviyo _kx"


class Profile(models.Model):
    """A person as Recapture knows them, per merchant. Identity resolution fills it in."""

    merchant = models.ForeignKey("events.Merchant", on_delete=models.CASCADE, related_name="profiles")
    email = models.CharField(max_length=254, blank=True, default="", help_text="Primary email.")
    phone = models.CharField(max_length=32, blank=True, default="", help_text="Primary phone (E.164).")
    traits = models.JSONField(default=dict, blank=True)
    trait_times = models.JSONField(default=dict, blank=True, help_text="When each trait was last set (ISO).")
    verified_traits = models.JSONField(
        default=list,
        blank=True,
        help_text="Traits set by a verified source (a signed webhook): the browser cannot change them.",
    )
    reidentified_at = models.DateTimeField(null=True, blank=True)
    klaviyo_kx = models.CharField(
        max_length=255, blank=True, default="", help_text="Klaviyo _kx of the last email click: sent on later events."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # Exact-match lookups only (admin search by email), and anonymous profiles (email "") need
        # no entry: one partial B-tree instead of db_index's two (plain + varchar_pattern_ops).
        indexes = [models.Index(fields=["email"], name="profile_email", condition=~models.Q(email=""))]

    def __str__(self) -> str:
        return self.email or self.phone or f"anonymous #{self.pk}"


class Identifier(models.Model):
    """One identifier value pointing at exactly one profile of a merchant."""

    # No index of its own: identifier_unique_per_merchant (merchant, type, value) leads with it.
    merchant = models.ForeignKey("events.Merchant", on_delete=models.CASCADE, related_name="+", db_index=False)
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="identifiers")
    type = models.CharField(max_length=32, choices=IdentifierType.choices)
    value = models.CharField(max_length=255)
    source = models.CharField(max_length=16, blank=True, default="")
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    shared = models.BooleanField(
        default=False, help_text="Seen with two different people (device) or on disagreeing devices (click id)."
    )
    hint = models.CharField(
        max_length=32, blank=True, default="", help_text="Client hint of a click id's first sighting."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "type", "value"], name="identifier_unique_per_merchant"),
            models.CheckConstraint(condition=models.Q(type__in=IdentifierType.values), name="identifier_type_valid"),
            models.CheckConstraint(condition=~models.Q(value=""), name="identifier_value_not_empty"),
        ]
        # The few click ids still holding a client hint (blanked after IDENTITY_CLIENT_HINT_RETENTION_HOURS).
        indexes = [models.Index(fields=["first_seen"], name="identifier_with_hint", condition=~models.Q(hint=""))]

    def __str__(self) -> str:
        return f"{self.type}:{self.value}"


class ProfileMerge(models.Model):
    """A merge that happened: ``from_profile_id`` was folded into ``into_profile_id``."""

    merchant = models.ForeignKey("events.Merchant", on_delete=models.CASCADE, related_name="+")
    from_profile_id = models.BigIntegerField(db_index=True)
    into_profile_id = models.BigIntegerField(db_index=True)
    identifier_type = models.CharField(max_length=32, choices=IdentifierType.choices)
    identifier_value = models.CharField(max_length=255)
    merged_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-merged_at"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(from_profile_id=models.F("into_profile_id")), name="profile_merge_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.from_profile_id} -> #{self.into_profile_id} via {self.identifier_type}"


class RefusalReason(models.TextChoices):
    CONFLICT = "conflict", "Another person's identity (two different emails, phones or ids)"
    LIMIT = "limit", "Over the per-type identifier limit"
    SHARED_CLICK = "shared_click", "Click id shared between people"
    UNCORROBORATED_CLICK = "uncorroborated_click", "Click id on another network or OS, or outside the handoff window"


class RefusedLink(models.Model):
    """A link identity resolution did not make, shown on the profile's page (why it stayed apart)."""

    merchant = models.ForeignKey("events.Merchant", on_delete=models.CASCADE, related_name="+")
    profile_id = models.BigIntegerField(help_text="The profile the event was attributed to.")
    other_profile_id = models.BigIntegerField(null=True, blank=True, help_text="The profile it was not joined to.")
    event = models.ForeignKey("events.Event", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    identifier_type = models.CharField(max_length=32, choices=IdentifierType.choices)
    reason = models.CharField(max_length=32, choices=RefusalReason.choices)
    refused_at = models.DateTimeField()

    class Meta:
        ordering = ["-refused_at"]
        indexes = [models.Index(fields=["profile_id", "-refused_at"], name="refusedlink_profile_recent")]

    def __str__(self) -> str:
        return f"#{self.profile_id} x #{self.other_profile_id} ({self.reason})"


class ErasureRecord(models.Model):
    """Proof that a profile was erased, without any of its personal data."""

    merchant = models.ForeignKey("events.Merchant", on_delete=models.CASCADE, related_name="+")
    profile_id = models.BigIntegerField()
    identifiers_deleted = models.PositiveIntegerField(default=0)
    events_deleted = models.PositiveIntegerField(default=0)
    merges_deleted = models.PositiveIntegerField(default=0)
    actor = models.CharField(max_length=150, blank=True, default="")
    erased_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-erased_at"]

    def __str__(self) -> str:
        return f"profile #{self.profile_id} erased"
