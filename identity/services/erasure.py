"""Right to erasure (called by the admin action and Shopify's compliance webhooks)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from events.models import Event
from identity.models import ErasureRecord, Identifier, Profile, ProfileMerge, RefusedLink

logger = logging.getLogger(__name__)

# Called inside forget_profile's transaction, after the ErasureRecord exists and before the
# profile is deleted, with the profile, the record and the person's (type, value) identifiers.
# The pipeline app (the top layer) registers each higher app's part here: destinations delete
# the person on Klaviyo and Loops, returns delete the Loop bodies that carry the email;
# identity never imports them. A hook that raises rolls the erasure back: nothing is half-forgotten.
ErasureHook = Callable[..., None]
ERASURE_HOOKS: list[ErasureHook] = []


def register_erasure_hook(hook: ErasureHook) -> None:
    if hook not in ERASURE_HOOKS:
        ERASURE_HOOKS.append(hook)


def erased_identifiers(profile: Profile, identifiers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Pure: the person's (type, value) pairs, the profile's primary email and phone included, once each."""
    pairs = [("email", profile.email), ("phone", profile.phone), *identifiers]
    return list(dict.fromkeys((kind, value.strip()) for kind, value in pairs if value and value.strip()))


def forget_profile(profile: Profile, *, actor: str = "") -> ErasureRecord:
    """Erase a profile: its identifiers, traits, events (raw payloads too) and merge history.
    The ERASURE_HOOKS run before the profile goes (destinations schedule the deletions on
    Klaviyo and Loops; returns delete the Loop webhook bodies / stored returns with its email).

    Deliveries cascade with their events. What remains is an ErasureRecord holding counts
    only, no personal data.
    """
    with transaction.atomic():
        profile = Profile.objects.select_for_update().get(pk=profile.pk)
        pairs = list(Identifier.objects.filter(profile=profile).values_list("type", "value"))
        values = [value for _, value in pairs]
        merges = ProfileMerge.objects.filter(merchant_id=profile.merchant_id).filter(
            Q(into_profile_id=profile.pk) | Q(from_profile_id=profile.pk) | Q(identifier_value__in=values)
        )
        merges_deleted, _ = merges.delete()
        RefusedLink.objects.filter(merchant_id=profile.merchant_id).filter(
            Q(profile_id=profile.pk) | Q(other_profile_id=profile.pk)
        ).delete()
        events_deleted = Event.objects.filter(profile=profile).count()
        Event.objects.filter(profile=profile).delete()
        record = ErasureRecord.objects.create(
            merchant_id=profile.merchant_id,
            profile_id=profile.pk,
            identifiers_deleted=len(values),
            events_deleted=events_deleted,
            merges_deleted=merges_deleted,
            actor=actor,
        )
        for hook in ERASURE_HOOKS:
            hook(profile, record=record, identifiers=erased_identifiers(profile, pairs))
        profile.delete()
    logger.info("profile erased", extra={"profile": record.profile_id, "events": events_deleted})
    return record


def forget_client_hints(*, hours: int) -> int:
    """Blank the client hints of click ids first seen more than ``hours`` ago (privacy notes)."""
    if hours <= 0:
        return 0
    cutoff = timezone.now() - timedelta(hours=hours)
    return Identifier.objects.filter(first_seen__lt=cutoff).exclude(hint="").update(hint="")
