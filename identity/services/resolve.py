"""resolve_events: every incoming event to exactly one profile, safely under concurrent workers."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone

from events.models import AlertKind, Event, Merchant
from events.services import raise_alert
from identity import policy
from identity.services.resolution import BatchResolver, StaleGraphError, assignments

logger = logging.getLogger(__name__)

RESOLVE_ATTEMPTS = 10
_RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock


@dataclass(slots=True)
class ResolutionOutcome:
    events: list[Event]
    reidentified: list[Event] = field(default_factory=list)


def resolve_events(*, events: list[Event]) -> ResolutionOutcome:
    """Attach each event to one profile (creating, merging or splitting as the policy decides).

    Sets and persists ``profile``, ``identification`` and ``resolved_by`` on every event and
    returns, in ``reidentified``, older anonymous events that became deliverable because their
    profile just gained an email or phone. Each such event is returned exactly once.
    """
    by_merchant: dict[int, list[Event]] = {}
    for event in events:
        by_merchant.setdefault(event.merchant_id, []).append(event)
    reidentified: list[Event] = []
    for group in by_merchant.values():
        reidentified.extend(_resolve_with_retry(group))
    return ResolutionOutcome(events=events, reidentified=reidentified)


def _resolve_with_retry(events: list[Event]) -> list[Event]:
    """Two workers racing on the same new identifier: the loser retries and finds the winner's row."""
    for attempt in range(1, RESOLVE_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return _resolve_batch(events)
        except (IntegrityError, StaleGraphError, OperationalError) as exc:
            if attempt == RESOLVE_ATTEMPTS or not _retryable(exc):
                raise
            logger.info("identity resolution retried", extra={"attempt": attempt, "error": type(exc).__name__})
    raise AssertionError("unreachable")


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, OperationalError):
        return getattr(exc.__cause__, "sqlstate", None) in _RETRYABLE_SQLSTATES
    return True


def attach_contact(merchant: Merchant, *, kx: str, email: str = "", phone: str = "") -> list[Event]:
    """A platform told us who a click id belongs to (Klaviyo: the recipient of the email whose
    link carried ``kx``): resolve {kx, email, phone} as one identification, with no event
    stored. Junk is dropped as anywhere else. Returns the events re-identified by it."""
    identifiers = {k: v for k, v in (("kx", kx), ("email", email), ("phone", phone)) if v}
    probe = Event(merchant=merchant, timestamp=timezone.now(), source="system", identifiers=identifiers)
    for attempt in range(1, RESOLVE_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return _resolve_batch([probe], store_events=False)
        except (IntegrityError, StaleGraphError, OperationalError) as exc:
            if attempt == RESOLVE_ATTEMPTS or not _retryable(exc):
                raise
    raise AssertionError("unreachable")


def _resolve_batch(events: list[Event], *, store_events: bool = True) -> list[Event]:
    merchant = events[0].merchant
    items = assignments(events, merchant=merchant)
    resolver = BatchResolver(merchant=merchant, new_budget=_profile_budget(merchant))
    resolver.load({key for item in items for key in item.keys})
    rules = identity_rules()
    for item in items:
        resolver.resolve(item, rules=rules)
    reidentified = resolver.flush(items, now=timezone.now(), store_events=store_events)
    _spend_profile_budget(merchant, created=resolver.created_anonymous, refused=resolver.over_budget)
    return reidentified


def identity_rules() -> policy.Rules:
    """The resolution rules from settings."""
    return policy.Rules(
        click_window=timedelta(days=settings.IDENTITY_CLICK_ID_WINDOW_DAYS),
        limits=dict(settings.IDENTITY_IDENTIFIER_LIMITS),
        session_gap=timedelta(minutes=settings.IDENTITY_SESSION_GAP_MINUTES),
        handoff_window=timedelta(minutes=settings.IDENTITY_HANDOFF_WINDOW_MINUTES),
        desktop_sessions_only=settings.IDENTITY_DESKTOP_SESSIONS_ONLY,
    )


# --- The ceiling on new anonymous profiles (IDENTITY_MAX_NEW_PROFILES_PER_HOUR) --------------


def _budget_key(merchant: Merchant) -> str:
    return f"identity:new-profiles:{merchant.pk}:{int(timezone.now().timestamp() // 3600)}"


def _profile_budget(merchant: Merchant) -> int | None:
    """New anonymous profiles the merchant may still get this hour (None: no ceiling, or no cache)."""
    ceiling = settings.IDENTITY_MAX_NEW_PROFILES_PER_HOUR
    if ceiling <= 0:
        return None
    try:
        return max(0, ceiling - int(cache.get(_budget_key(merchant)) or 0))
    except Exception:  # a cache outage must not stop processing: no ceiling meanwhile
        logger.warning("profile ceiling cache unavailable", exc_info=True)
        return None


def _spend_profile_budget(merchant: Merchant, *, created: int, refused: int) -> None:
    if created:
        key = _budget_key(merchant)
        try:
            if not cache.add(key, created, timeout=3600 + 60):
                cache.incr(key, created)
        except Exception:
            logger.warning("profile ceiling cache unavailable", exc_info=True)
    if refused:
        raise_alert(
            merchant.pk,
            kind=AlertKind.PROFILE_CEILING,
            message=f"More than {settings.IDENTITY_MAX_NEW_PROFILES_PER_HOUR} new anonymous profiles this hour: "
            "further anonymous visitors are stored without a profile (their events are kept and delivered "
            "as usual). A bot may be posting with the public write key.",
            count=refused,
        )
