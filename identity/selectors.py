"""Reads of the identity graph (for the admin and support tooling)."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Q, QuerySet

from events.models import Event, Merchant
from identity import policy
from identity.models import Identifier, Profile, ProfileMerge


def get_profile_by_identifier(merchant: Merchant, *, type: str, value: str) -> Profile | None:
    """The profile an identifier points to, the value normalised as resolution does (email case, E.164)."""
    normalised = policy.normalise_value(type, value, default_region=settings.IDENTITY_DEFAULT_PHONE_REGION)
    if normalised is None:
        return None
    row = (
        Identifier.objects.select_related("profile")
        .filter(merchant=merchant, type=type, value=normalised)
        .only("profile")
        .first()
    )
    return row.profile if row else None


def list_profile_identifiers(profile: Profile) -> QuerySet[Identifier]:
    return Identifier.objects.filter(profile=profile).order_by("type", "-last_seen")


def list_profile_events(profile: Profile, *, limit: int = 100) -> QuerySet[Event]:
    """The profile's most recent events, newest first."""
    return Event.objects.filter(profile=profile).order_by("-timestamp", "-id")[:limit]


def list_profile_merges(profile: Profile) -> QuerySet[ProfileMerge]:
    """The profile's merge history: profiles merged into it, and its own merge into another."""
    return ProfileMerge.objects.filter(Q(into_profile_id=profile.pk) | Q(from_profile_id=profile.pk))
