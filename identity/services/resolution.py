"""Resolving a batch of events against one merchant's identity graph.

A constant number of queries per batch, whatever its size or the number of
profiles: one locked read of every Identifier row the batch names, one locked
read of the profiles they point to, one read of those profiles' identifiers,
then bulk writes. Decisions are made in memory by ``identity.policy``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from django.conf import settings
from django.db.models import Case, Q, Value, When
from django.utils import timezone

from events.models import VERIFIED_SOURCES, Event, Identification, Merchant
from identity import explain, policy
from identity.models import Identifier, Profile, ProfileMerge, RefusedLink
from identity.policy import Decision, Key, Owner, ProfileView
from identity.services.writes import bulk_set

logger = logging.getLogger(__name__)

# last_seen only drives the click-id window (days), so it is rewritten at most hourly.
LAST_SEEN_RESOLUTION = timedelta(hours=1)


class Allowance(Protocol):
    def take(self) -> bool:
        """One more new anonymous profile, if the ceiling allows it."""
        ...


class StaleGraphError(Exception):
    """A profile vanished between the identifier read and the lock; the batch is retried."""


@dataclass(slots=True)
class _Assignment:
    event: Event
    keys: list[Key]
    profile: int | None = None
    linked_by: str = ""
    junk: list[tuple[str, str]] = field(default_factory=list)
    decision: Decision | None = None
    shared_device: bool = False


@dataclass(slots=True)
class BatchResolver:
    """In-memory identity graph of one merchant for one batch, flushed with bulk writes."""

    merchant: Merchant
    profiles: dict[int, Profile] = field(default_factory=dict)
    views: dict[int, ProfileView] = field(default_factory=dict)
    owners: dict[Key, Owner] = field(default_factory=dict)
    rows: dict[Key, Identifier] = field(default_factory=dict)
    original: dict[int, tuple[int, datetime]] = field(default_factory=dict)
    had_contact: dict[int, bool] = field(default_factory=dict)
    snapshot: dict[int, tuple] = field(default_factory=dict)
    merged_into: dict[int, int] = field(default_factory=dict)
    merges: list[tuple[int, int, Key]] = field(default_factory=list)
    refusals: list[tuple[int, int | None, Event, str, str]] = field(default_factory=list)
    next_temp: int = -1
    new_budget: Allowance | None = None  # the hourly ceiling on new anonymous profiles (None: none)
    created_anonymous: int = 0
    over_budget: int = 0

    # --- loading -------------------------------------------------------------

    def load(self, keys: set[Key]) -> None:
        by_type: dict[str, list[str]] = {}
        for key in keys:
            by_type.setdefault(key.type, []).append(key.value)
        if not by_type:
            return
        query = Q()
        for kind, values in by_type.items():
            query |= Q(type=kind, value__in=values)
        # Lock the matching identifiers (in id order, so two workers never deadlock), but load
        # only their owners: every identifier of those profiles is read below, once.
        found = Identifier.objects.select_for_update().filter(merchant=self.merchant).filter(query).order_by("id")
        profile_ids = sorted(set(found.values_list("profile_id", flat=True)))
        if not profile_ids:
            return
        locked = list(Profile.objects.select_for_update().filter(id__in=profile_ids).order_by("id"))
        if len(locked) != len(profile_ids):
            raise StaleGraphError("profile vanished")
        for profile in locked:
            self._add_profile(profile, (profile.created_at, profile.id))
        for row in Identifier.objects.filter(profile_id__in=profile_ids):
            self._add_row(row)

    def _add_profile(self, profile: Profile, age: tuple) -> None:
        self.profiles[profile.id] = profile
        self.views[profile.id] = ProfileView(age=age)
        self.had_contact[profile.id] = bool(profile.email or profile.phone)
        self.snapshot[profile.id] = _profile_state(profile)

    def _add_row(self, row: Identifier) -> None:
        key = Key(row.type, row.value)
        self.rows[key] = row
        self.owners[key] = Owner(row.profile_id, row.last_seen, row.shared, row.first_seen, row.hint)
        self.original[row.id] = (row.profile_id, row.last_seen, row.shared)
        self.views[row.profile_id].identifiers.setdefault(row.type, set()).add(row.value)

    # --- deciding ------------------------------------------------------------

    def resolve(self, item: _Assignment, *, rules: policy.Rules) -> None:
        event = item.event
        if not item.keys:
            return
        decision = policy.decide(
            item.keys,
            self.owners,
            self.views,
            at=event.timestamp,
            click_window=rules.click_window,
            limits=rules.limits,
            session_gap=rules.session_gap,
            handoff_window=rules.handoff_window,
            hint=getattr(event, "client_hint", ""),
            desktop_sessions_only=rules.desktop_sessions_only,
        )
        if decision.target is None and not self._may_create(item.keys):
            self.over_budget += 1  # the event stays anonymous, without a profile; nothing else is lost
            return
        for key in decision.dropped:
            logger.warning("identifier dropped over limit", extra={"type": key.type, "event": event.pk})
        target = decision.target if decision.target is not None else self._new_profile()
        self._record_refusals(decision, target, event)
        for key in decision.shared:
            self._mark_shared(key)
        for loser, via in decision.merges:
            self._merge(loser, target, via)
        for key in decision.moves:
            self._point(key, target, event)
        for key in decision.attach:
            self._point(key, target, event)
        for key in item.keys:
            if key in self.owners and self.owners[key].profile == target:
                self._touch(key, event.timestamp)
        owned = [k for k in item.keys if k in self.owners and self.owners[k].profile == target]
        self._apply_traits(target, event, owned)
        item.profile, item.linked_by, item.decision = target, decision.linked_by, decision
        item.shared_device = policy.is_desktop(getattr(event, "client_hint", "")) or any(
            self.owners[k].shared for k in owned if policy.tier_of(k.type) is policy.Tier.DEVICE
        )

    def _record_refusals(self, decision: Decision, target: int, event: Event) -> None:
        for pid, reason in decision.refused:
            logger.info("identity merge refused", extra={"profile": pid, "reason": reason, "event": event.pk})
        for key, reason, pid in decision.ignored:
            self.refusals.append((target, pid, event, key.type, reason))

    def _mark_shared(self, key: Key) -> None:
        o = self.owners[key]
        self.owners[key] = Owner(o.profile, o.last_seen, True, o.first_seen, o.hint)
        self.rows[key].shared = True

    def _may_create(self, keys: list[Key]) -> bool:
        """A new profile within the merchant's hourly ceiling (one with an email or phone always is)."""
        if self.new_budget is None or policy.is_native(keys):
            return True
        if not self.new_budget.take():
            return False
        self.created_anonymous += 1
        return True

    def _new_profile(self) -> int:
        temp, self.next_temp = self.next_temp, self.next_temp - 1
        self.profiles[temp] = Profile(merchant=self.merchant)
        self.views[temp] = ProfileView(age=(timezone.now() + timedelta(days=36500), -temp))
        self.had_contact[temp] = False
        return temp

    def _merge(self, loser: int, target: int, via: Key) -> None:
        for kind, values in self.views[loser].identifiers.items():
            for value in values:
                key = Key(kind, value)
                self.owners[key] = Owner(target, self.owners[key].last_seen)
                self.views[target].identifiers.setdefault(kind, set()).add(value)
        self.views[loser].identifiers = {}
        winner, other = self.profiles[target], self.profiles[loser]
        traits, winner.trait_times = policy.merge_trait_sets(
            ({**winner.traits, "$email": winner.email, "$phone": winner.phone}, winner.trait_times),
            ({**other.traits, "$email": other.email, "$phone": other.phone}, other.trait_times),
            into_locked=winner.verified_traits,
            other_locked=other.verified_traits,
        )
        winner.verified_traits = sorted({*winner.verified_traits, *other.verified_traits})
        winner.email, winner.phone = traits.pop("$email", "") or "", traits.pop("$phone", "") or ""
        winner.traits = traits
        self.had_contact[target] = self.had_contact[target] and self.had_contact[loser]
        self.merged_into[loser] = target
        self.merges.append((loser, target, via))

    def _point(self, key: Key, target: int, event: Event) -> None:
        owner = self.owners.get(key)
        if owner is not None:
            self.views[owner.profile].identifiers.get(key.type, set()).discard(key.value)
        if key not in self.rows:
            self.rows[key] = Identifier(
                merchant=self.merchant,
                type=key.type,
                value=key.value,
                source=event.source,
                first_seen=event.timestamp,
                last_seen=event.timestamp,
            )
            if policy.tier_of(key.type) is policy.Tier.CLICK:
                self.rows[key].hint = getattr(event, "client_hint", "")
        if owner is None:
            self.owners[key] = Owner(target, event.timestamp, False, event.timestamp, self.rows[key].hint)
        else:
            self.owners[key] = Owner(target, owner.last_seen, owner.shared, owner.first_seen, owner.hint)
        self.views[target].identifiers.setdefault(key.type, set()).add(key.value)

    def _touch(self, key: Key, at: datetime) -> None:
        owner = self.owners[key]
        if at > owner.last_seen:
            self.owners[key] = Owner(owner.profile, at, owner.shared, owner.first_seen, owner.hint)

    def _apply_traits(self, target: int, event: Event, keys: list[Key]) -> None:
        profile = self.profiles[target]
        incoming = dict(event.traits or {})
        for key in keys:
            if key.type in policy.CONTACT_TYPES:
                incoming[f"${key.type}"] = key.value
            elif key.type == "kx":
                profile.klaviyo_kx = key.value
        traits = {**profile.traits, "$email": profile.email, "$phone": profile.phone}
        verified = event.source in VERIFIED_SOURCES
        traits, profile.trait_times = policy.merge_traits(
            traits, profile.trait_times, incoming, event.timestamp, verified=verified, locked=profile.verified_traits
        )
        if verified:
            profile.verified_traits = sorted({*profile.verified_traits, *policy.set_trait_keys(incoming)})
        profile.email, profile.phone = traits.pop("$email", "") or "", traits.pop("$phone", "") or ""
        profile.traits = traits

    def final(self, pid: int | None) -> int | None:
        while pid in self.merged_into:
            pid = self.merged_into[pid]
        return pid

    # --- writing ---------------------------------------------------------------

    def flush(self, items: list[_Assignment], *, now: datetime, store_events: bool = True) -> list[Event]:
        """Persist the batch with bulk writes; return the events re-identified by it."""
        real = self._create_profiles(now)
        self._write_identifiers(real)
        self._write_merges(real)
        if store_events:
            self._write_events(items)
        reidentified = self._reidentify(real, now)
        changed = [
            profile
            for pid, profile in self.profiles.items()
            if pid > 0 and pid not in self.merged_into and self.snapshot[pid] != _profile_state(profile)
        ]
        for profile in changed:
            profile.updated_at = now
        fields = ["email", "phone", "traits", "trait_times", "verified_traits", "reidentified_at", "updated_at"]
        bulk_set(Profile, changed, [*fields, "klaviyo_kx"])
        self._write_refusals(real, now)
        return reidentified

    def _write_refusals(self, real: dict[int, int], now: datetime) -> None:
        if not self.refusals:
            return
        RefusedLink.objects.bulk_create(
            RefusedLink(
                merchant=self.merchant,
                profile_id=real[self.final(target)],
                other_profile_id=real.get(self.final(other)) if other is not None else None,
                event_id=event.pk,
                identifier_type=kind,
                reason=reason,
                refused_at=now,
            )
            for target, other, event, kind, reason in self.refusals
        )

    def _create_profiles(self, now: datetime) -> dict[int, int]:
        temps = [pid for pid in self.profiles if pid < 0 and pid not in self.merged_into]
        created = Profile.objects.bulk_create([self.profiles[pid] for pid in temps], batch_size=500)
        real = {pid: pid for pid in self.profiles if pid > 0}
        real.update({temp: profile.pk for temp, profile in zip(temps, created, strict=True)})
        for loser in self.merged_into:
            real[loser] = real[self.final(loser)]
        return real

    def _write_identifiers(self, real: dict[int, int]) -> None:
        new_rows, changed = [], []
        for key, row in self.rows.items():
            owner = self.owners[key]
            row.profile_id, row.last_seen = real[self.final(owner.profile)], owner.last_seen
            if row.pk is None:
                new_rows.append(row)
            elif _identifier_changed(self.original[row.pk], row):
                changed.append(row)
        bulk_set(Identifier, changed, ["profile", "last_seen", "shared", "hint"])
        Identifier.objects.bulk_create(new_rows, batch_size=500)

    def _write_merges(self, real: dict[int, int]) -> None:
        merged = [(loser, via) for loser, _target, via in self.merges if loser > 0]
        if not merged:
            return
        losers = [loser for loser, _via in merged]
        Event.objects.filter(profile_id__in=losers).update(
            profile_id=Case(*[When(profile_id=loser, then=Value(real[loser])) for loser in losers])
        )
        ProfileMerge.objects.bulk_create(
            ProfileMerge(
                merchant=self.merchant,
                from_profile_id=loser,
                into_profile_id=real[loser],
                identifier_type=via.type,
                identifier_value=via.value,
            )
            for loser, via in merged
        )
        Profile.objects.filter(id__in=losers).delete()
        logger.info("profiles merged", extra={"merchant": self.merchant.pk, "merges": len(merged)})

    def _write_events(self, items: list[_Assignment]) -> None:
        for item in items:
            event, pid = item.event, self.final(item.profile)
            profile = self.profiles.get(pid) if pid is not None else None
            event.profile = profile  # the in-memory row (real pk by now): no lazy load downstream
            event.resolved_by = ""
            if profile is None:
                event.identification = Identification.ANONYMOUS
            elif policy.is_native(item.keys):
                event.identification = Identification.NATIVE
            elif profile.email or profile.phone:
                event.identification = Identification.RESOLVED
                event.resolved_by = item.linked_by or item.keys[0].type
            else:
                event.identification = Identification.ANONYMOUS
            event.client_hint = ""  # used: the hint is kept no longer than the event waits for resolution
            event.identity_decision = explain.decision_record(
                keys=item.keys,
                decision=item.decision,
                junk=item.junk,
                identified=event.identification == Identification.RESOLVED,
                linked_by=event.resolved_by,
                shared_device=item.shared_device,
            )
        fields = ["profile", "identification", "resolved_by", "identity_decision", "client_hint"]
        bulk_set(Event, [i.event for i in items], fields)

    def _reidentify(self, real: dict[int, int], now: datetime) -> list[Event]:
        """Anonymous events of profiles that just gained an email or phone, once each."""
        gained = {
            real[pid]: profile
            for pid, profile in self.profiles.items()
            if pid > 0
            and pid not in self.merged_into
            and (profile.email or profile.phone)
            and not self.had_contact[pid]
        }
        if not gained:
            return []
        since = now - timedelta(hours=self.merchant.reidentify_lookback_hours)
        events = list(
            Event.objects.filter(
                profile_id__in=list(gained), identification=Identification.ANONYMOUS, timestamp__gte=since
            )
            .select_related("merchant")
            .order_by("timestamp", "id")
        )
        if not events:
            return []
        for event in events:
            profile = gained[event.profile_id]
            event.profile = profile
            event.identification = Identification.RESOLVED
            event.resolved_by = "email" if profile.email else "phone"
            event.identity_decision = {**(event.identity_decision or {}), "rule": "reidentified"}
            event.identity_decision["identifier"] = event.resolved_by
            profile.reidentified_at = now
        bulk_set(Event, events, ["identification", "resolved_by", "identity_decision"])
        return events


def _profile_state(profile: Profile) -> tuple:
    return (
        profile.email,
        profile.phone,
        profile.traits,
        profile.trait_times,
        list(profile.verified_traits),
        profile.reidentified_at,
        profile.klaviyo_kx,
    )


def _identifier_changed(original: tuple[int, datetime, bool], row: Identifier) -> bool:
    """Re-pointed, newly shared, or seen again after LAST_SEEN_RESOLUTION (finer last_seen writes
    buy nothing), except on a shared device, whose sessions are told apart by last_seen."""
    profile_id, last_seen, shared = original
    if row.profile_id != profile_id or row.shared != shared:
        return True
    return row.last_seen != last_seen if row.shared else row.last_seen - last_seen >= LAST_SEEN_RESOLUTION


def assignments(events: list[Event], *, merchant: Merchant) -> list[_Assignment]:
    """Each event with its usable identifiers, oldest first (so the newest identify wins)."""
    blocked = policy.blocklist(merchant.blocked_identifier_values or [])
    region = (merchant.phone_region or settings.IDENTITY_DEFAULT_PHONE_REGION or "US").upper()
    ordered = sorted(events, key=lambda e: (e.timestamp, e.pk or 0))
    items = []
    for event in ordered:
        keys, junk = policy.extract(event.identifiers, event.anonymous_id, blocked=blocked, default_region=region)
        items.append(_Assignment(event, keys, junk=junk))
    return items
