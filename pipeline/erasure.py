"""Erasure across apps: identity's ``forget_profile`` runs these hooks inside its transaction.

identity erases its own rows and the person's events; each app above it erases what it holds
of the person. ``pipeline.apps`` registers them (identity never imports the apps above it).
"""

from __future__ import annotations

import logging

from destinations.services.erasure import schedule_platform_erasures
from identity.models import ErasureRecord, Profile
from returns.services import erase_loop_payloads

logger = logging.getLogger(__name__)


def erase_returns_data(profile: Profile, *, record: ErasureRecord, identifiers: list[tuple[str, str]]) -> None:
    """Loop webhook bodies and stored returns carry the customer's email: delete them too."""
    emails = {value.lower() for _, value in identifiers if "@" in value}
    counts = erase_loop_payloads(profile.merchant_id, emails=emails)
    logger.info("loop payloads erased", extra={"profile": record.profile_id, **counts})


# In this order: returns' rows go first (as when identity deleted them itself), then the
# platform deletions are scheduled.
ERASURE_HOOKS = (erase_returns_data, schedule_platform_erasures)
