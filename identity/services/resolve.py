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
    resolver = BatchResolver(merchant=merchant, new_budget=_profile_allowance(merchant))
    resolver.load({key for item in items for key in item.keys})
    rules = identity_rules()
    for item in items:
        resolver.resolve(item, rules=rules)
    reidentified = resolver.flush(items, now=timezone.now(), store_events=store_events)
    _report_profile_ceiling(merchant, refused=resolver.over_budget)
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


# Allowance this process has reserved from the shared hourly counter and not yet spent:
# merchant id -> (counter key, profiles left, counter exhausted). Reserving in blocks keeps
# the ceiling off the per-batch path: one cache round trip per block of new profiles
# instead of a read and an increment per batch. The shared counter therefore counts
# reservations; what a worker reserved and did not spend within the hour is lost, so the
# ceiling may bite up to (workers x block) profiles early: 0.2 % of the ceiling per worker.
_reserved: dict[int, tuple[str, int, bool]] = {}
_BLOCK_FRACTION = 500


def forget_profile_reservations() -> None:
    _reserved.clear()


@dataclass(slots=True)
class _HourlyAllowance:
    """New anonymous profiles a merchant may still get this hour, taken one at a time."""

    merchant_id: int
    key: str
    ceiling: int
    unlimited: bool = False  # the cache is down: no ceiling meanwhile

    def take(self) -> bool:
        if self.unlimited:
            return True
        key, left, exhausted = _reserved.get(self.merchant_id, (self.key, 0, False))
        if key != self.key:  # a new hour: the previous hour's leftover is void
            left, exhausted = 0, False
        if not left and not exhausted:
            granted = self._reserve()
            if granted is None:
                self.unlimited = True
                return True
            left, exhausted = granted, granted == 0
        _reserved[self.merchant_id] = (self.key, max(0, left - 1), exhausted)
        return left > 0

    def _reserve(self) -> int | None:
        block = max(1, self.ceiling // _BLOCK_FRACTION)
        try:
            total = block if cache.add(self.key, block, timeout=3600 + 60) else cache.incr(self.key, block)
        except Exception:  # a cache outage must not stop processing
            logger.warning("profile ceiling cache unavailable", exc_info=True)
            return None
        return max(0, min(block, self.ceiling - (total - block)))


def _profile_allowance(merchant: Merchant) -> _HourlyAllowance | None:
    ceiling = settings.IDENTITY_MAX_NEW_PROFILES_PER_HOUR
    if ceiling <= 0:
        return None
    return _HourlyAllowance(merchant_id=merchant.pk, key=_budget_key(merchant), ceiling=ceiling)


def _report_profile_ceiling(merchant: Merchant, *, refused: int) -> None:
    if refused:
        raise_alert(
            merchant.pk,
            kind=AlertKind.PROFILE_CEILING,
            message=f"More than {settings.IDENTITY_MAX_NEW_PROFILES_PER_HOUR} new anonymous profiles this hour: "
            "further anonymous visitors are stored without a profile (their events are kept and delivered "
            "as usual). A bot may be posting with the public write key.",
            count=refused,
        )
