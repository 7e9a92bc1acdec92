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

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "type", "value"], name="identifier_unique_per_merchant"),
            models.CheckConstraint(condition=models.Q(type__in=IdentifierType.values), name="identifier_type_valid"),
            models.CheckConstraint(condition=~models.Q(value=""), name="identifier_value_not_empty"),
        ]

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
