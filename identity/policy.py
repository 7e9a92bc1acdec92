"""The identity merge policy: pure decisions, no ORM.

Everything here works on plain values so it can be unit-tested densely:
normalising identifiers, the junk blocklist, newest-wins traits and the
merge / no-merge / move decision for one event against the identity graph.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any

import phonenumbers

from events.hints import is_handoff
from identity.junk import email_junk_reason, phone_junk_reason

STRONG_TYPES = ("email", "phone", "shopify_customer_id", "external_id")
DEVICE_TYPES = ("anonymous_id", "client_id", "fbp")
CLICK_TYPES = ("fbclid", "gclid", "gbraid", "wbraid", "ttclid", "msclkid", "kx")
# Click ids that are evidence, not identity: an ad link anyone can open or pass on. ``kx``
# (Klaviyo's exchange id) names the recipient of one email and links as an identity does.
EVIDENCE_TYPES = tuple(t for t in CLICK_TYPES if t != "kx")
# What counts as someone saying who they are on a device (for shared-device sessions).
EXPLICIT_TYPES = (*STRONG_TYPES, "kx")
ALL_TYPES = STRONG_TYPES + DEVICE_TYPES + CLICK_TYPES
CONTACT_TYPES = ("email", "phone")
RANK = {kind: index for index, kind in enumerate(ALL_TYPES)}
JUNK_VALUES = frozenset(
    {"", "undefined", "null", "none", "nil", "nan", "0", "-1", "anonymous", "guest", "[object object]"}
)
MAX_VALUE_LENGTH = 255
MAX_EMAIL_LENGTH = 254  # RFC 5321 path limit; Profile.email holds it
SESSION_GAP = timedelta(minutes=30)
_KX_RE = re.compile(r"[A-Za-z0-9_.=%~-]{1,255}")
HANDOFF_WINDOW = timedelta(minutes=5)


class Tier(IntEnum):
    STRONG = 0
    DEVICE = 1
    CLICK = 2


def tier_of(kind: str) -> Tier:
    if kind in STRONG_TYPES:
        return Tier.STRONG
    return Tier.DEVICE if kind in DEVICE_TYPES else Tier.CLICK


@dataclass(frozen=True, slots=True, order=True)
class Key:
    """One identifier: (type, normalised value)."""

    type: str
    value: str


# --- Normalisation and blocklist -------------------------------------------------


def normalise_value(kind: str, raw: Any, *, default_region: str = "US") -> str | None:
    """The canonical form of an identifier value, or None when it is unusable (junk included)."""
    value, _reason = normalise_with_reason(kind, raw, default_region=default_region)
    return value


def normalise_with_reason(
    kind: str, raw: Any, *, default_region: str = "US", blocked: frozenset[str] = frozenset()
) -> tuple[str | None, str]:
    """(canonical value, "") or (None, why it cannot identify anyone)."""
    if raw is None or isinstance(raw, (dict, list, bool)):
        return None, "invalid"
    value = str(raw).strip()
    if not value or len(value) > MAX_VALUE_LENGTH:
        return None, "invalid"
    if kind == "email":
        value = value.lower()
        if len(value) > MAX_EMAIL_LENGTH:
            return None, "invalid"
        reason = email_junk_reason(value, blocked=blocked)
        return (None, reason) if reason else (value, "")
    if kind == "phone":
        return _normalise_phone(value, default_region)
    if kind == "kx" and not _KX_RE.fullmatch(value):
        return None, "invalid"  # Klaviyo's exchange id is URL-safe text: never quotes or brackets
    return value, ""


def _normalise_phone(value: str, default_region: str) -> tuple[str | None, str]:
    try:
        number = phonenumbers.parse(value, None if value.startswith("+") else default_region)
    except phonenumbers.NumberParseException:
        return None, "invalid_phone"
    if not phonenumbers.is_valid_number(number):
        return None, "invalid_phone"
    reason = phone_junk_reason(str(number.national_number))
    if reason:
        return None, reason
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), ""


def blocklist(extra: Iterable[Any] = ()) -> frozenset[str]:
    """The built-in junk values plus a merchant's own (compared case-insensitively)."""
    return JUNK_VALUES | {str(v).strip().lower() for v in extra if v is not None}


def is_blocked(raw: Any, value: str, blocked: frozenset[str]) -> bool:
    return str(raw).strip().lower() in blocked or value.lower() in blocked


def extract_keys(
    identifiers: Mapping[str, Any],
    anonymous_id: str,
    *,
    blocked: frozenset[str] = JUNK_VALUES,
    default_region: str = "US",
) -> list[Key]:
    """Every usable identifier of an event, strongest first, junk dropped."""
    return extract(identifiers, anonymous_id, blocked=blocked, default_region=default_region)[0]


def extract(
    identifiers: Mapping[str, Any],
    anonymous_id: str,
    *,
    blocked: frozenset[str] = JUNK_VALUES,
    default_region: str = "US",
) -> tuple[list[Key], list[tuple[str, str]]]:
    """(usable identifiers strongest first, [(type, reason)] of the strong ones rejected as junk)."""
    raw_items: list[tuple[str, Any]] = [("anonymous_id", anonymous_id)]
    for kind, raw in (identifiers or {}).items():
        if kind in RANK and kind != "anonymous_id":
            raw_items.extend((kind, item) for item in (raw if isinstance(raw, list) else [raw]))
    keys: set[Key] = set()
    junk: set[tuple[str, str]] = set()
    for kind, raw in raw_items:
        value, reason = normalise_with_reason(kind, raw, default_region=default_region, blocked=blocked)
        if value is not None and is_blocked(raw, value, blocked):
            value, reason = None, "merchant_blocked" if str(raw).strip().lower() not in JUNK_VALUES else "invalid"
        if value is not None:
            keys.add(Key(kind, value))
        elif kind in STRONG_TYPES and raw not in (None, "") and str(raw).strip().lower() not in JUNK_VALUES:
            junk.add((kind, reason))
    return sorted(keys, key=lambda k: (RANK[k.type], k.value)), sorted(junk)


def is_native(keys: Iterable[Key]) -> bool:
    """The event itself carried an email or a phone."""
    return any(k.type in CONTACT_TYPES for k in keys)


# --- Traits: verified first, then the newest non-empty value wins ---------------------
#
# A trait set by a verified source (a signed webhook: events.models.VERIFIED_SOURCES) is
# "locked": a browser value never overwrites it, whatever its timestamp (the browser
# chooses that too); a verified value overwrites a browser one. A profile holds at most
# PROFILE_MAX_TRAIT_KEYS custom traits and PROFILE_MAX_TRAIT_BYTES of JSON: a new custom
# key past either is dropped (standard traits always fit; existing keys still update).

STANDARD_TRAITS = frozenset(
    {"$email", "$phone", "first_name", "last_name", "phone", "city", "region", "country", "zip"}
)
PROFILE_MAX_TRAIT_KEYS = 100
PROFILE_MAX_TRAIT_BYTES = 16 * 1024


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _cost(name: str, value: Any) -> int:
    return len(json.dumps({name: value}, ensure_ascii=False, default=str)) + 1


def set_trait_keys(incoming: Mapping[str, Any]) -> set[str]:
    """The keys a merge of ``incoming`` would set (non-empty values): what a verified event locks."""
    return {name for name, value in (incoming or {}).items() if not _empty(value)}


def merge_traits(
    traits: Mapping[str, Any],
    times: Mapping[str, str],
    incoming: Mapping[str, Any],
    at: datetime,
    *,
    verified: bool = False,
    locked: Iterable[str] = (),
) -> tuple[dict[str, Any], dict[str, str]]:
    """Apply ``incoming`` (seen at ``at``) over ``traits``; ``times`` holds ISO times per key.

    ``verified``: ``incoming`` comes from a verified source; ``locked``: the keys a verified
    source set before (see the section comment for the rules).
    """
    merged, merged_times = dict(traits), dict(times)
    if not incoming:
        return merged, merged_times
    locked = set(locked)
    stamp = at.isoformat()
    # The size and the custom-key count are only needed when a new custom key arrives (rare):
    # until then, remember what was set so that the estimate is the same as if kept all along.
    size: int | None = None
    custom = 0
    set_before: list[tuple[str, Any]] = []
    for name, value in incoming.items():
        if _empty(value) or (name in locked and not verified):
            continue
        known = merged_times.get(name)
        newer = known is None or datetime.fromisoformat(known) <= at
        if not (newer or (verified and name not in locked)):
            continue
        if name not in merged and name not in STANDARD_TRAITS and not verified:
            if size is None:
                size = len(json.dumps(dict(traits), ensure_ascii=False, default=str))
                size += sum(_cost(n, v) for n, v in set_before)
                custom = sum(1 for n in merged if n not in STANDARD_TRAITS)
            if custom >= PROFILE_MAX_TRAIT_KEYS or size + _cost(name, value) > PROFILE_MAX_TRAIT_BYTES:
                continue  # the profile is full: a flood of new keys stops here
            custom += 1
        if size is None:
            set_before.append((name, value))
        else:
            size += _cost(name, value)
        merged[name] = value.strip() if isinstance(value, str) else value
        merged_times[name] = stamp
    return merged, merged_times


def merge_trait_sets(
    into: tuple[Mapping[str, Any], Mapping[str, str]],
    other: tuple[Mapping[str, Any], Mapping[str, str]],
    *,
    into_locked: Iterable[str] = (),
    other_locked: Iterable[str] = (),
) -> tuple[dict[str, Any], dict[str, str]]:
    """Combine two profiles' traits key by key: a verified value first, then the newest."""
    traits, times = dict(into[0]), dict(into[1])
    into_locked, other_locked = set(into_locked), set(other_locked)
    other_traits, other_times = other
    for name, value in other_traits.items():
        stamp = other_times.get(name)
        if stamp is None:
            traits.setdefault(name, value)
            continue
        verified = name in other_locked
        locked = into_locked if verified else into_locked | other_locked
        traits, times = merge_traits(
            traits, times, {name: value}, datetime.fromisoformat(stamp), verified=verified, locked=locked
        )
    return traits, times


# --- The merge decision -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Owner:
    """Who an existing identifier points to, when it was last seen, and what it is known to be."""

    profile: int
    last_seen: datetime
    shared: bool = False
    first_seen: datetime | None = None
    hint: str = ""


@dataclass(slots=True)
class ProfileView:
    """What the policy needs to know about a profile: its age and its identifiers."""

    age: tuple[Any, ...]
    identifiers: dict[str, set[str]] = field(default_factory=dict)


@dataclass(slots=True)
class Decision:
    """The outcome for one event. ``target`` None means: create a new profile.

    ``shared`` are identifiers found shared by this event (a device identified by a second
    person, a click id on a disagreeing device): they are marked and link nothing more.
    ``ignored`` are (key, reason) that linked nothing; ``notes`` explain the attribution.
    """

    target: int | None = None
    merges: list[tuple[int, Key]] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)
    moves: list[Key] = field(default_factory=list)
    attach: list[Key] = field(default_factory=list)
    dropped: list[Key] = field(default_factory=list)
    shared: list[Key] = field(default_factory=list)
    ignored: list[tuple[Key, str, int]] = field(default_factory=list)
    new_session: list[Key] = field(default_factory=list)
    handoff: list[Key] = field(default_factory=list)
    linked_by: str = ""


@dataclass(frozen=True, slots=True)
class Rules:
    click_window: timedelta
    limits: Mapping[str, int]
    session_gap: timedelta = SESSION_GAP
    handoff_window: timedelta = HANDOFF_WINDOW
    desktop_sessions_only: bool = True


@dataclass(slots=True)
class _Node:
    profile: int | None  # None: the event's own, not yet owned identifiers
    keys: list[Key]
    sort: tuple[Any, ...]


def decide(
    keys: list[Key],
    owners: Mapping[Key, Owner],
    profiles: Mapping[int, ProfileView],
    *,
    at: datetime,
    click_window: timedelta,
    limits: Mapping[str, int],
    session_gap: timedelta = SESSION_GAP,
    handoff_window: timedelta = HANDOFF_WINDOW,
    hint: str = "",
    desktop_sessions_only: bool = True,
) -> Decision:
    """Resolve one event's identifiers to exactly one profile.

    Nodes are the profiles the identifiers point to plus the event's own new
    identifiers. The node holding the event's strongest identifier leads (an
    identifier already owned beats a new one of the same tier). Others join it
    unless they hold a different strong identifier of a type the group already
    has (two people) or would break a per-type limit; the survivor is the oldest.

    A shared device links only within the session of its last identification (gaps up
    to ``session_gap``), and so does a laptop or desktop browser (``desktop_sessions_only``:
    a household's computer is shared before anyone can know it); an ad click id links
    another browser only on a handoff (same network and OS family as its first sighting,
    in an in-app browser, within ``handoff_window``), else it is shared from then on and
    links nothing.
    """
    decision = Decision()
    rules = Rules(click_window, limits, session_gap, handoff_window, desktop_sessions_only)
    nodes, stale = _nodes(keys, owners, profiles, at=at, rules=rules, hint=hint, decision=decision)
    if not nodes:
        return decision
    group: dict[str, set[str]] = {}
    members: list[int] = []
    for index, node in enumerate(nodes):
        if node.profile is None:
            _join_new_keys(node.keys, group, limits, decision, stale)
        elif index and _conflicts(group, profiles[node.profile].identifiers):
            _refuse(node, "conflict", decision, owners)
        elif index and _over_limit(group, profiles[node.profile].identifiers, limits):
            _refuse(node, "limit", decision, owners)
        else:
            members.append(node.profile)
            _absorb(group, profiles[node.profile].identifiers)
    if members:
        members.sort(key=lambda pid: profiles[pid].age)
        decision.target = members[0]
        decision.merges = [(pid, _node_for(nodes, pid).keys[0]) for pid in members[1:]]
        decision.linked_by = _linked_by([n for n in nodes if n.profile in members], profiles)
    return decision


def _nodes(
    keys: list[Key],
    owners: Mapping[Key, Owner],
    profiles: Mapping[int, ProfileView],
    *,
    at: datetime,
    rules: Rules,
    hint: str,
    decision: Decision,
) -> tuple[list[_Node], set[Key]]:
    linked: dict[int, list[Key]] = {}
    own: list[Key] = []
    stale: set[Key] = set()
    evidence: list[Key] = []
    for key in keys:
        owner = owners.get(key)
        if owner is None:
            own.append(key)
        elif tier_of(key.type) is Tier.CLICK and abs(at - owner.last_seen) > rules.click_window:
            own.append(key)  # an expired click id links nothing; it is re-pointed
            stale.add(key)
        elif (
            tier_of(key.type) is Tier.DEVICE
            and (owner.shared or (rules.desktop_sessions_only and is_desktop(hint)))
            and abs(at - owner.last_seen) > rules.session_gap
        ):
            own.append(key)  # a shared device in a new session: nobody is known yet
            stale.add(key)
            decision.new_session.append(key)
        elif key.type in EVIDENCE_TYPES or (owner.shared and tier_of(key.type) is Tier.CLICK):
            evidence.append(key)
        else:
            linked.setdefault(owner.profile, []).append(key)
    for key in evidence:
        _weigh_click(key, owners[key], linked, at=at, rules=rules, hint=hint, decision=decision)
    nodes = [
        _Node(pid, ks, (tier_of(ks[0].type), 0, RANK[ks[0].type], profiles[pid].age)) for pid, ks in linked.items()
    ]
    if own:
        nodes.append(_Node(None, own, (tier_of(own[0].type), 1, RANK[own[0].type], ())))
    nodes.sort(key=lambda n: n.sort)
    return nodes, stale


def is_desktop(hint: str) -> bool:
    """A laptop or desktop browser (events.hints OS family): often a household's, never proven personal."""
    return hint.split(":")[1:2] in (["macos"], ["windows"], ["linux"], ["chromeos"])


def _weigh_click(
    key: Key, owner: Owner, linked: dict[int, list[Key]], *, at: datetime, rules: Rules, hint: str, decision: Decision
) -> None:
    """An ad click id joins the event to its profile only on the same browser or a corroborated handoff."""
    if owner.shared:
        decision.ignored.append((key, "shared_click", owner.profile))
    elif owner.profile in linked:
        linked[owner.profile].append(key)  # seen again with this browser's own identifiers
    elif (
        is_handoff(owner.hint, hint)
        and owner.first_seen is not None
        and abs(at - owner.first_seen) <= rules.handoff_window
    ):
        linked.setdefault(owner.profile, []).append(key)
        decision.handoff.append(key)
    else:
        decision.ignored.append((key, "uncorroborated_click", owner.profile))
        decision.shared.append(key)


def _join_new_keys(
    keys: list[Key], group: dict[str, set[str]], limits: Mapping[str, int], decision: Decision, stale: set[Key]
) -> None:
    for key in keys:
        values = group.setdefault(key.type, set())
        limit = limits.get(key.type)
        if limit is not None and len(values) >= limit:
            decision.dropped.append(key)
            continue
        values.add(key.value)
        (decision.moves if key in stale else decision.attach).append(key)


def _conflicts(group: Mapping[str, set[str]], other: Mapping[str, set[str]]) -> bool:
    """Joining would put two different strong identifiers of one type together."""
    return any(group.get(kind) and (other.get(kind, set()) - group[kind]) for kind in STRONG_TYPES)


def _over_limit(group: Mapping[str, set[str]], other: Mapping[str, set[str]], limits: Mapping[str, int]) -> bool:
    return any(kind in limits and len(group.get(kind, set()) | values) > limits[kind] for kind, values in other.items())


def _absorb(group: dict[str, set[str]], other: Mapping[str, set[str]]) -> None:
    for kind, values in other.items():
        group.setdefault(kind, set()).update(values)


def _refuse(node: _Node, reason: str, decision: Decision, owners: Mapping[Key, Owner]) -> None:
    """Do not merge. A device used by two people is shared (it follows the event, for this
    session only); a click id that reached two people is shared and stays where it was."""
    decision.refused.append((node.profile, reason))
    decision.ignored.append((node.keys[0], reason, node.profile))
    for key in node.keys:
        tier = tier_of(key.type)
        if tier is Tier.DEVICE:
            decision.moves.append(key)
            if reason == "conflict" and not owners[key].shared:
                decision.shared.append(key)
        elif tier is Tier.CLICK and reason == "conflict":
            if not owners[key].shared:
                decision.shared.append(key)
        elif tier is Tier.CLICK:
            decision.moves.append(key)


def _linked_by(members: list[_Node], profiles: Mapping[int, ProfileView]) -> str:
    """The event's strongest identifier that reached an email/phone holder (else any member)."""
    holders = [n for n in members if any(profiles[n.profile].identifiers.get(t) for t in CONTACT_TYPES)]
    keys = [k for n in (holders or members) for k in n.keys]
    return min(keys, key=lambda k: RANK[k.type]).type


def _node_for(nodes: list[_Node], pid: int) -> _Node:
    return next(n for n in nodes if n.profile == pid)
