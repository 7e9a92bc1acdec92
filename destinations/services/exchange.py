"""Klaviyo email clicks: ask Klaviyo who clicked (``_kx``) and teach the identity graph.

A visit that lands with ``_kx`` comes from the recipient of a Klaviyo email. Identity keeps
the ``_kx`` on the profile (``Profile.klaviyo_kx``) and every later Klaviyo event of that
profile carries it, so Klaviyo attributes them to the clicker. To let Loops and the graph
know the shopper too, a task asks Klaviyo's Get Profiles for the profile with that
``_kx`` (``filter=equals(_kx,"…")``, scope ``profiles:read``) and attaches its email.

Never in the way of delivery: the lookup runs in its own task after the events were
scheduled; answers are cached per destination (KLAVIYO_KX_CACHE_SECONDS, misses for an
hour); it takes a token of its own bucket within Klaviyo's 75/s and 750/min and skips
when none is left; a failed or refused lookup changes nothing and is tried again on the
profile's next event.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence

from django.conf import settings
from django.core.cache import cache

from destinations import platform_limits
from destinations.clients import kinds_with
from destinations.clients.base import HttpRequest, HttpResult
from destinations.clients.klaviyo import KX_LOOKUP_LIMITS, kx_lookup_contact, kx_lookup_request
from destinations.models import Destination
from destinations.services.outbound import client_for
from destinations.services.scheduling import schedule_deliveries
from destinations.services.transport import Recorder
from identity.models import Profile
from identity.services import attach_contact

logger = logging.getLogger(__name__)

MISS_SECONDS = 3600
Send = Callable[[HttpRequest], HttpResult]


def resolve_klaviyo_clicks(
    *, profile_ids: Sequence[int], send: Callable[[HttpRequest], HttpResult] | None = None
) -> int:
    """Look each profile's _kx up in the merchant's Klaviyo; returns how many profiles learnt an email."""
    profiles = list(
        Profile.objects.filter(id__in=list(profile_ids), email="", phone="")
        .exclude(klaviyo_kx="")
        .select_related("merchant")
    )
    destinations = {
        d.merchant_id: d
        for d in Destination.objects.filter(
            merchant_id__in={p.merchant_id for p in profiles},
            kind__in=kinds_with("supports_click_lookup"),
            enabled=True,
            dry_run=False,
        ).order_by("-id")
    }
    learnt = 0
    for profile in profiles:
        destination = destinations.get(profile.merchant_id)
        contact = lookup_kx(destination, profile.klaviyo_kx, send=send) if destination else None
        if not contact or not any(contact):
            continue
        events = attach_contact(profile.merchant, kx=profile.klaviyo_kx, email=contact[0], phone=contact[1])
        learnt += 1
        if events:
            schedule_deliveries(events=events, reidentified=True)
    return learnt


def lookup_kx(destination: Destination, kx: str, *, send: Send | None = None) -> tuple[str, str] | None:
    """(email, phone) Klaviyo holds for ``kx`` (("", "") for nobody), or None when it cannot say now."""
    key = f"klaviyo-kx:{destination.pk}:{hashlib.sha256(kx.encode()).hexdigest()[:32]}"
    cached = cache.get(key)
    if cached is not None:
        return cached[0], cached[1]
    granted, _wait = platform_limits.take(
        platform_limits.bucket_key(destination.api_key, "profiles-kx"), KX_LOOKUP_LIMITS, 1
    )
    if not granted:
        logger.info("klaviyo _kx lookup skipped: rate limit", extra={"destination": destination.pk})
        return None
    client = client_for(destination)
    try:
        request = kx_lookup_request(client.config, kx)
    except ValueError:
        return "", ""  # not expressible as one filter string: nobody to learn
    result = (send or Recorder(client, dry_run=False))(request)
    contact = kx_lookup_contact(result)
    if contact is None:
        logger.warning("klaviyo _kx lookup failed", extra={"destination": destination.pk, "status": result.status_code})
        return None
    cache.set(key, list(contact), settings.KLAVIYO_KX_CACHE_SECONDS if any(contact) else MISS_SECONDS)
    return contact
