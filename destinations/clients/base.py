"""The one interface every destination platform implements.

A client is pure HTTP knowledge: it builds requests (payload builders are pure and
unit-tested against the platform's OpenAPI spec) and drives them through a
``Transport`` the delivery engine gives it. The transport does the I/O (or, in
dry-run, only records), times it and keeps the attempt log; the client never touches
the database.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from destinations.retry import Verdict, classify

REDACTED = "[redacted]"


@dataclass(frozen=True, slots=True)
class Person:
    """Everything identity resolution knows about the person behind an event."""

    email: str = ""
    phone: str = ""
    external_id: str = ""
    anonymous_id: str = ""
    kx: str = ""
    first_name: str = ""
    last_name: str = ""
    city: str = ""
    region: str = ""
    country: str = ""
    zip: str = ""
    properties: dict[str, Any] = field(default_factory=dict)
    profile_id: int | None = None
    remote_id: str = ""  # the platform's own id for this person, when known (update only)
    # Consent carried by the event (events.consent): only a yes subscribes; nothing unsubscribes.
    subscribe_email: bool = False
    subscribe_sms: bool = False

    @property
    def identified(self) -> bool:
        return bool(self.email or self.phone)

    @property
    def subscribes(self) -> bool:
        return (self.subscribe_email and bool(self.email)) or (self.subscribe_sms and bool(self.phone))

    def traits(self) -> dict[str, Any]:
        """The attributes a profile sync writes (used to skip unchanged re-syncs)."""
        keys = ("email", "phone", "first_name", "last_name", "city", "region", "country", "zip")
        data: dict[str, Any] = {k: getattr(self, k) for k in keys if getattr(self, k)}
        if self.properties:
            data["properties"] = self.properties
        return data

    def digest(self) -> str:
        """Traits and subscription: a consent given later is a change worth a profile sync."""
        data = (
            {**self.traits(), "subscribe": [self.subscribe_email, self.subscribe_sms]}
            if self.subscribes
            else self.traits()
        )
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class OutboundEvent:
    """An event in the shape the payload builders need (no ORM)."""

    event_id: str
    type: str
    source: str
    timestamp: datetime
    person: Person
    properties: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    backfill: bool = False  # history, not live: must not start flows / workflows
    notes: tuple[str, ...] = ()  # what was changed so the platform accepts it (e.g. a dropped phone)


@dataclass(frozen=True, slots=True)
class ClientConfig:
    api_key: str
    base_url: str
    profile_sync: str = "create_update"
    metric_suffix: str = ""
    list_id: str = ""
    name_overrides: dict[str, str] = field(default_factory=dict)
    revision: str = ""
    phone_region: str = "US"
    active_on_site: bool = False  # Klaviyo: page views are "Active on Site"


@dataclass(slots=True)
class HttpRequest:
    step: str
    method: str
    url: str
    headers: dict[str, str]
    json: Any = None
    params: dict[str, str] | None = None
    success_statuses: frozenset[int] = frozenset()


@dataclass(slots=True)
class HttpResult:
    status_code: int | None
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    duration_ms: int = 0
    error_kind: str = ""
    error: str = ""
    dry_run: bool = False

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


Transport = Callable[[HttpRequest], HttpResult]


@dataclass(slots=True)
class StepOutcome:
    """How a delivery (or a step of it) ended."""

    verdict: Verdict
    result: HttpResult | None = None
    message: str = ""
    remote_profile_id: str = ""
    profile_synced: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.SUCCESS

    def carrying(self, synced: StepOutcome) -> StepOutcome:
        """This (failed) outcome, remembering that the profile sync before it succeeded."""
        self.profile_synced, self.remote_profile_id = synced.profile_synced, synced.remote_profile_id
        return self


def outcome_of(request: HttpRequest, result: HttpResult) -> StepOutcome:
    if result.dry_run:
        return StepOutcome(Verdict.SUCCESS, result)
    verdict = classify(
        result.status_code,
        success_statuses=request.success_statuses,
        content_type=result.headers.get("content-type", ""),
    )
    message = "" if verdict is Verdict.SUCCESS else describe_failure(result)
    return StepOutcome(verdict, result, message)


def describe_failure(result: HttpResult) -> str:
    if result.status_code is None:
        return f"{result.error_kind}: {result.error}"[:500]
    return f"HTTP {result.status_code}: {platform_message(result)}"[:500]


def platform_message(result: HttpResult) -> str:
    """The platform's own error text (Klaviyo JSON:API errors, Loops {"message"})."""
    data = result.json()
    if isinstance(data, dict):
        errors = data.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            return str(first.get("detail") or first.get("title") or first)
        for key in ("message", "error", "detail"):
            if data.get(key):
                return str(data[key])
    return result.body[:300]


@dataclass(frozen=True, slots=True)
class Feature:
    """What one product feature needs of the key, and the harmless reads that can prove some of it.

    ``probes`` are (scope, GET request) pairs; ``scopes`` is everything the feature needs,
    writes included. No request of the platform lists a key's scopes, and a write cannot be
    tried without writing, so write scopes are inferred or left unverified (``check_feature``).
    """

    name: str
    scopes: tuple[str, ...]
    probes: tuple[tuple[str, HttpRequest], ...] = ()
    required: bool = False  # delivery cannot work without it


@dataclass(frozen=True, slots=True)
class FeatureCheck:
    """The Test's verdict on one feature: "ok", "missing" (a scope is certainly absent) or "unknown"."""

    name: str
    status: str
    missing: tuple[str, ...] = ()
    unverified: tuple[str, ...] = ()
    required: bool = False
    detail: str = ""


def check_feature(
    feature: Feature, results: dict[str, StepOutcome], *, denied: Callable[[HttpResult], bool]
) -> FeatureCheck:
    """Pure: a feature's verdict from its probes' outcomes (keyed by probe URL).

    A denied read means the key has "No access" to that resource, so its write scope is
    missing too (Klaviyo grants each resource no access, read-only or full access:
    help.klaviyo.com/hc/en-us/articles/7423954176283). A read that works proves only the
    read: the resource's write scope stays unverified.
    """
    missing: list[str] = []
    proven: set[str] = set()
    unknown = ""
    for scope, request in feature.probes:
        outcome = results[probe_key(request)]
        if outcome.ok:
            proven.add(scope)
        elif outcome.result is not None and denied(outcome.result):
            resource = scope.split(":")[0]
            missing += [s for s in feature.scopes if s.split(":")[0] == resource and s not in missing]
        else:
            unknown = unknown or outcome.message
    unverified = tuple(s for s in feature.scopes if s not in proven and s not in missing)
    status = "missing" if missing else ("unknown" if unknown else "ok")
    return FeatureCheck(feature.name, status, tuple(missing), unverified, feature.required, unknown)


def probe_key(request: HttpRequest) -> str:
    return request.url + repr(sorted((request.params or {}).items()))


@dataclass(frozen=True, slots=True)
class Limit:
    """A token bucket: ``capacity`` burst, refilled at ``rate`` tokens per second."""

    name: str
    capacity: float
    rate: float


class DestinationClient(ABC):
    """One platform. Everything that differs per platform is declared here, so generic code asks
    the client (through the registry in ``destinations.clients``) and never tests the kind."""

    kind: ClassVar[str]  # Destination.kind, and DestinationKind's value
    label: ClassVar[str]  # DestinationKind's label
    base_url_setting: ClassVar[str]  # the setting holding the API's base URL
    revision_setting: ClassVar[str] = ""  # the setting holding the API revision it pins, if any
    supports_click_lookup: ClassVar[bool] = False  # can say who clicked a message link (Klaviyo's _kx)
    supports_backup_flows: ClassVar[bool] = False  # Recapture can provision its backup flows there
    supports_active_on_site: ClassVar[bool] = False  # can record page views as "Active on Site"
    supports_bulk: ClassVar[bool] = False
    bulk_max_events: ClassVar[int] = 0
    limits: ClassVar[dict[str, tuple[Limit, ...]]] = {}
    secret_headers: ClassVar[tuple[str, ...]] = ("Authorization",)

    def __init__(self, config: ClientConfig) -> None:
        self.config = config

    # --- decisions --------------------------------------------------------------
    @abstractmethod
    def can_deliver(self, event: OutboundEvent) -> bool:
        """Whether the platform can attribute the event to someone yet (else: held)."""

    def should_sync_profile(self, person: Person) -> bool:
        return self.config.profile_sync != "off" and person.identified

    def needs_existing(self, person: Person) -> bool:
        """Whether an event for this person may go only to a profile the platform already has."""
        return False

    def lookup_key(self, person: Person) -> str:
        """``field:value`` the platform finds this person by ("" when it cannot)."""
        return ""

    def find_existing(self, persons: Sequence[Person], send: Transport) -> tuple[StepOutcome, dict[str, str]]:
        """The platform ids of those persons it already has, by ``lookup_key`` (batched)."""
        return StepOutcome(Verdict.SUCCESS), {}

    def estimate_requests(self, event: OutboundEvent, *, sync_profile: bool) -> int:
        return 1 + (2 if sync_profile else 0)

    def bulk_units(self, event: OutboundEvent) -> int:
        """How much of ``bulk_max_events`` the event takes in a bulk job: its own requests (a
        profile sync is sent before the job, not in it)."""
        return self.estimate_requests(event, sync_profile=False)

    def redact(self, headers: dict[str, str]) -> dict[str, str]:
        return {k: (REDACTED if k in self.secret_headers else v) for k, v in headers.items()}

    def url(self, path: str) -> str:
        return f"{self.config.base_url}{path}"

    # --- I/O through the engine's transport ---------------------------------------
    @abstractmethod
    def deliver(
        self, event: OutboundEvent, send: Transport, *, idempotency_key: str, sync_profile: bool
    ) -> StepOutcome:
        """Send one event (and, when asked, sync its profile first)."""

    def deliver_bulk(self, events: Sequence[OutboundEvent], send: Transport) -> StepOutcome:
        raise NotImplementedError(f"{self.kind} has no bulk endpoint")

    @abstractmethod
    def sync_profile(self, person: Person, send: Transport) -> StepOutcome:
        """Create/update the profile (and list membership) per the destination's settings."""

    # --- the destination's Test: read-only ------------------------------------------
    @abstractmethod
    def key_check_request(self) -> HttpRequest:
        """A read-only request that proves the key works (it writes nothing)."""

    def describe_key(self, result: HttpResult) -> str:
        """What the key check tells the merchant about the account the key belongs to."""
        return f"HTTP {result.status_code}"

    def features(self) -> list[Feature]:
        """The features the Test reports scopes for (none: the platform's keys are not scoped)."""
        return []

    def scope_denied(self, result: HttpResult) -> bool:
        """Whether a failed probe means "this key lacks the scope" (not an outage or a bad key)."""
        return result.status_code == 403

    # --- erasure ------------------------------------------------------------------
    def erasure_requests(self, identifiers: Sequence[tuple[str, str]]) -> list[HttpRequest]:
        """Requests that delete the person known by these (type, value) identifiers from the platform.

        Types: "email", "phone", "external_id" (the Shopify customer id) and "remote_id" (the
        platform's own profile id, when a sync recorded it). Each client takes the ones its
        platform deletes by; one request per identifier."""
        return []


# --- a 400 that names one field: send once more without it ----------------------------------
KEPT_FIELDS = frozenset({"metric", "profile", "events", "data", "type", "id", "email", "time", "unique_id", "value"})


def single_pointer(result: HttpResult | None) -> str:
    """The one JSON pointer a 400's errors name (Klaviyo ``source.pointer``), else ""."""
    if result is None or result.status_code != 400:
        return ""
    data = result.json()
    errors = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(errors, list) or not errors:
        return ""
    pointers = {((e.get("source") or {}).get("pointer") or "") if isinstance(e, dict) else "" for e in errors}
    return pointers.pop() if len(pointers) == 1 else ""


def droppable(pointer: str) -> bool:
    """A leaf of a profile's or the event's attributes that the request can do without."""
    parts = pointer.strip("/").split("/")
    if len(parts) < 2 or parts[-1] in KEPT_FIELDS or parts[-1].isdigit():
        return False
    return parts[-2] == "attributes" or "properties" in parts[:-1] or "location" in parts[:-1]


def without_pointer(body: Any, pointer: str) -> Any | None:
    """A copy of ``body`` without the member ``pointer`` names; None when it names nothing."""
    copy = json.loads(json.dumps(body, default=str))
    node: Any = copy
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.strip("/").split("/")]
    for part in parts[:-1]:
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    if not isinstance(node, dict) or parts[-1] not in node:
        return None
    del node[parts[-1]]
    return copy


def send_forgiving(request: HttpRequest, send: Transport) -> StepOutcome:
    """Send; a 400 naming one droppable field is sent once more without it (and noted)."""
    outcome = outcome_of(request, send(request))
    pointer = single_pointer(outcome.result) if outcome.verdict is Verdict.DEAD else ""
    if not pointer or not droppable(pointer):
        return outcome
    body = without_pointer(request.json, pointer)
    if body is None:
        return outcome
    retry = HttpRequest(
        step=request.step,
        method=request.method,
        url=request.url,
        headers=request.headers,
        json=body,
        params=request.params,
        success_statuses=request.success_statuses,
    )
    second = outcome_of(retry, send(retry))
    second.notes.append(f"sent again without {pointer} ({outcome.message})"[:300])
    return second
