"""A semantic double of the Klaviyo REST API: what Klaviyo *does* with a request.

Each modelled behaviour quotes where it comes from (OpenAPI spec in
/work/shared/specs/klaviyo-openapi-stable.json, developers.klaviyo.com, or a Klaviyo
maintainer's public answer). Where Klaviyo's behaviour is not documented the double is
deliberately strict and says "assumed".

- Profiles are keyed by email, phone_number, external_id, anonymous_id and _kx: "A
  profile must have at least 1 profile identifier" (Profiles API overview). Events with no
  identifier fail: 400 "One or more identifiers is required" (Klaviyo API response quoted
  in community thread 11955).
- Creating or updating a profile whose identifiers belong to two different profiles
  answers 409 ``duplicate_profile`` ("[409] A profile already exists with one of these
  identifiers", community thread 15864; "you will receive a duplicate profile error").
  An event whose identifiers point at two profiles is recorded on the email's profile and
  the conflict is logged (assumed: Klaviyo does not document it).
- "If the unique_id is repeated for the same profile and metric, only the first processed
  event will be recorded" (spec, EventCreateQueryV2 ``unique_id``).
- "backfill: When true, the event is recorded but does NOT trigger flows" (spec): the
  double records every event and logs, for events not backfilled, which metric would
  trigger flows for whom (``triggers``; ``flows`` maps a metric to its flows).
- Phone numbers must be E.164: "the current API verifies that phone numbers are sent in
  E.164 format" (Klaviyo maintainer, klaviyo-api-python#48); "Klaviyo rejects events with
  phone number not in the E.164 standard" (rudder-transformer#4025, citing
  events_api_overview#receiving-a-400). An invalid number fails the whole request with a
  400 whose ``source.pointer`` names the field.
- Adding to a list is not consent: "To add someone to a list without changing their
  subscription status, use Add Profile to List" (Bulk Subscribe Profiles reference).
  Profiles are subscribed only by profile-subscription-bulk-create-jobs carrying
  ``consent: SUBSCRIBED``.
- 429 with Retry-After: "All API traffic will be subject to these rate limits, and will
  receive HTTP 429 errors" (Rate limits, status codes, and errors).
- Event properties: "must not exceed 400 properties ... each string cannot be larger than
  100 KB" (spec, EventCreateQueryV2 ``properties``): a 400 naming the property.
- Bulk event jobs validate every entry; one bad entry fails the job (assumed strictness,
  as the issue asks: nothing of the job is recorded).
- Bursts of Cloudflare HTML 403s (``Content-Type: text/html``, ``cf-mitigated:
  challenge``) as reported in klaviyo-api-python#84; a JSON 403 ``permission_denied``
  when the key lacks a scope.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import phonenumbers

from tests.fakes import klaviyo_privacy
from tests.fakes.core import Call, Double, Reply, new_id

IDENTIFIERS = ("email", "phone_number", "external_id", "anonymous_id", "_kx")
TRAITS = ("first_name", "last_name", "organization", "locale", "title", "image")
PROFILE_POINTER = "/data/attributes/profile/data/attributes"
ALL_SCOPES = frozenset(
    {
        "accounts:read",
        "events:read",
        "events:write",
        "profiles:read",
        "profiles:write",
        "lists:read",
        "lists:write",
        "subscriptions:write",
        "metrics:read",
        "flows:read",
        "flows:write",
        "data-privacy:write",
    }
)


@dataclass
class Profile:
    id: str
    email: str | None = None
    phone_number: str | None = None
    external_id: str | None = None
    anonymous_id: str | None = None
    _kx: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    location: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    lists: set[str] = field(default_factory=set)
    email_consent: str = "NEVER_SUBSCRIBED"
    created_by: str = ""

    def as_resource(self) -> dict[str, Any]:
        attrs = {k: getattr(self, k) for k in IDENTIFIERS if k != "anonymous_id"}
        attrs.update(self.attributes, location=self.location or None, properties=self.properties)
        attrs["subscriptions"] = {"email": {"marketing": {"consent": self.email_consent}}}
        return {"type": "profile", "id": self.id, "attributes": attrs}


@dataclass(slots=True)
class Event:
    profile_id: str
    metric: str
    unique_id: str
    time: str | None
    value: float | None
    properties: dict[str, Any]
    backfill: bool


@dataclass(slots=True)
class Trigger:
    """A metric recorded live (not backfilled) for a profile: what flows listen to."""

    metric: str
    profile_id: str
    email: str | None
    unique_id: str


class Invalid(Exception):
    def __init__(self, status: int, code: str, detail: str, pointer: str = "", **meta: Any) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.pointer, self.meta = status, code, detail, pointer, meta

    def reply(self) -> Reply:
        error: dict[str, Any] = {
            "id": new_id(),
            "status": self.status,
            "code": self.code,
            "title": "Invalid input." if self.status == 400 else "Conflict.",
            "detail": self.detail,
            "source": {"pointer": self.pointer} if self.pointer else {},
            "links": {},
            "meta": self.meta,
        }
        return Reply(self.status, {"errors": [error]})


def valid_e164(value: str) -> bool:
    if not isinstance(value, str) or not re.fullmatch(r"\+[1-9]\d{6,14}", value):
        return False
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(value, None))
    except phonenumbers.NumberParseException:
        return False


class KlaviyoDouble(Double):
    name = "klaviyo"

    def __init__(self, *, api_key: str | None = None) -> None:
        super().__init__()
        self.api_key = api_key  # None: any key is accepted
        self.revoked = False
        self.scopes: set[str] = set(ALL_SCOPES)
        self.profiles: dict[str, Profile] = {}
        self.index: dict[str, dict[str, str]] = {k: {} for k in IDENTIFIERS}
        self.events: list[Event] = []
        self.seen: set[tuple[str, str, str]] = set()  # (profile, metric, unique_id)
        self.events_by_unique_id: dict[str, dict[str, Any]] = {}  # first attributes per unique_id
        self.triggers: list[Trigger] = []
        self.flows: dict[str, list[str]] = {}  # metric name -> flow names
        self.lists: dict[str, set[str]] = {}
        self.conflicts: list[dict[str, Any]] = []
        self.jobs: dict[str, dict[str, Any]] = {}
        self.deletions: list[tuple[str, str]] = []  # data-privacy deletion requests (identifier, value)
        self._register()
        klaviyo_privacy.install(self)

    # --- merchant-level reading ------------------------------------------------------------
    def add_flow(self, name: str, *, metric: str) -> None:
        self.flows.setdefault(metric, []).append(name)

    def flows_fired(self) -> list[tuple[str, str | None]]:
        """(flow name, email) for every live event whose metric a flow listens to."""
        with self.lock:
            return [(flow, t.email) for t in self.triggers for flow in self.flows.get(t.metric, [])]

    def recorded(self, metric: str | None = None) -> list[Event]:
        with self.lock:
            return [e for e in self.events if metric is None or e.metric == metric]

    def revenue(self, metric: str = "Placed Order") -> float:
        return round(sum(e.value or 0 for e in self.recorded(metric)), 2)

    def profile_by(self, kind: str, value: str) -> Profile | None:
        with self.lock:
            pid = self.index[kind].get(value)
            return self.profiles.get(pid) if pid else None

    def subscribed_emails(self) -> set[str]:
        with self.lock:
            return {p.email for p in self.profiles.values() if p.email and p.email_consent == "SUBSCRIBED"}

    def seed_profile(self, **identifiers: str) -> Profile:
        """A profile that exists before Recapture sends anything (e.g. from the Shopify app)."""
        with self.lock:
            return self._create({k: v for k, v in identifiers.items() if v}, created_by="seed")

    # --- auth and errors ------------------------------------------------------------------
    def authenticate(self, call: Call) -> Reply | None:
        auth = call.header("Authorization")
        if not auth.startswith("Klaviyo-API-Key ") or self.revoked:
            return Invalid(401, "not_authenticated", "Incorrect authentication credentials.").reply()
        if self.api_key is not None and auth.removeprefix("Klaviyo-API-Key ") != self.api_key:
            return Invalid(401, "not_authenticated", "Incorrect authentication credentials.").reply()
        if not call.header("revision"):
            return Invalid(400, "invalid", "The revision header is required.").reply()
        return None

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise Invalid(403, "permission_denied", "You do not have permission to perform this action.")

    def rate_limited(self, headers: dict[str, str]) -> Reply:
        error = {
            "status": 429,
            "code": "throttled",
            "title": "Request was throttled.",
            "detail": "Request was throttled.",
        }
        return Reply(429, {"errors": [error]}, headers)

    def not_found(self, call: Call) -> Reply:
        return Invalid(404, "not_found", f"No route {call.method} {call.path}").reply()

    # --- routes ---------------------------------------------------------------------------
    def _register(self) -> None:
        table = {
            ("POST", r"/api/events"): self._create_event,
            ("POST", r"/api/event-bulk-create-jobs"): self._bulk_events,
            ("POST", r"/api/profile-import"): self._profile_import,
            ("GET", r"/api/profiles"): self._get_profiles,
            ("POST", r"/api/lists/(?P<list_id>[^/]+)/relationships/profiles"): self._list_add,
            ("POST", r"/api/profile-subscription-bulk-create-jobs"): self._subscribe,
            ("GET", r"/api/accounts"): self._accounts,
        }
        for (method, pattern), handler in table.items():
            self.route(method, pattern)(self._guarded(handler))

    @staticmethod
    def _guarded(handler):
        def run(call: Call, match: re.Match[str]) -> Reply:
            try:
                return handler(call, match)
            except Invalid as exc:
                return exc.reply()
            except (KeyError, TypeError, AttributeError) as exc:
                return Invalid(400, "invalid", f"Malformed request: {exc!r}", "/data").reply()

        return run

    def _accounts(self, call: Call, match: re.Match[str]) -> Reply:
        self.require("accounts:read")
        account = {"type": "account", "id": "FAKE01", "attributes": {"contact_information": {}}}
        return Reply(200, {"data": [account]})

    # --- events ---------------------------------------------------------------------------
    def _create_event(self, call: Call, match: re.Match[str]) -> Reply:
        self.require("events:write")
        attrs = call.body["data"]["attributes"]
        profile_attrs = self._checked_profile(attrs["profile"]["data"], PROFILE_POINTER)
        self._checked_event(attrs, "/data/attributes")
        self._record(attrs, profile_attrs, backfill=bool(attrs.get("backfill")))
        return Reply(202)

    def _bulk_events(self, call: Call, match: re.Match[str]) -> Reply:
        self.require("events:write")
        entries = call.body["data"]["attributes"]["events-bulk-create"]["data"]
        checked = []
        for n, entry in enumerate(entries):  # validate all first: one bad entry fails the job
            base = f"/data/attributes/events-bulk-create/data/{n}/attributes"
            attrs = entry["attributes"]
            profile_attrs = self._checked_profile(attrs["profile"]["data"], f"{base}/profile/data/attributes")
            events = attrs["events"]["data"]
            for m, event in enumerate(events):
                self._checked_event(event["attributes"], f"{base}/events/data/{m}/attributes")
            checked.append((attrs, profile_attrs, events))
        for attrs, profile_attrs, events in checked:
            for event in events:
                backfill = bool(event["attributes"].get("backfill", attrs.get("backfill")))
                self._record(event["attributes"], profile_attrs, backfill=backfill)
        job_id = new_id("JOB")
        self.jobs[job_id] = {"status": "complete", "entries": len(entries)}
        return Reply(202, {"data": {"type": "event-bulk-create-job", "id": job_id, "attributes": {"status": "queued"}}})

    def _checked_profile(self, data: dict[str, Any], pointer: str) -> dict[str, Any]:
        attrs = data.get("attributes") or {}
        if data.get("id") and data["id"] in self.profiles:
            return {**attrs, "id": data["id"]}
        if not any(attrs.get(k) for k in IDENTIFIERS):
            raise Invalid(400, "invalid", "One or more identifiers is required", pointer)
        phone = attrs.get("phone_number")
        if phone is not None and not valid_e164(phone):
            detail = "Invalid phone number format (Example of a valid format: +12345678901)"
            raise Invalid(400, "invalid", detail, f"{pointer}/phone_number")
        return attrs

    @staticmethod
    def _checked_event(attrs: dict[str, Any], pointer: str) -> None:
        name = (((attrs.get("metric") or {}).get("data") or {}).get("attributes") or {}).get("name")
        if not name:
            raise Invalid(400, "invalid", "A metric name is required.", f"{pointer}/metric")
        value = attrs.get("value")
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise Invalid(400, "invalid", "'value' must be a number.", f"{pointer}/value")
        properties = attrs.get("properties") or {}
        if len(properties) > 400:  # "must not exceed 400 properties" (spec)
            raise Invalid(400, "invalid", "Too many event properties (max 400).", f"{pointer}/properties")
        for key, prop in properties.items():  # "each string cannot be larger than 100 KB" (spec)
            # (UTF-8 takes at most 4 bytes a character: shorter strings need no encoding to tell)
            if isinstance(prop, str) and len(prop) > 25_000 and len(prop.encode()) > 100_000:
                raise Invalid(400, "invalid", "String is larger than 100 KB.", f"{pointer}/properties/{key}")

    def _record(self, attrs: dict[str, Any], profile_attrs: dict[str, Any], *, backfill: bool) -> None:
        profile = self._resolve_for_event(profile_attrs)
        metric = attrs["metric"]["data"]["attributes"]["name"]
        unique_id = attrs.get("unique_id") or str(attrs.get("time") or "")
        key = (profile.id, metric, unique_id)
        if key in self.seen:
            return  # "only the first processed event will be recorded"
        self.seen.add(key)
        event = Event(
            profile.id,
            metric,
            unique_id,
            attrs.get("time"),
            attrs.get("value"),
            attrs.get("properties") or {},
            backfill,
        )
        self.events.append(event)
        self.events_by_unique_id.setdefault(unique_id, attrs)
        if not backfill:
            self.triggers.append(Trigger(metric, profile.id, profile.email, unique_id))

    # --- profiles -------------------------------------------------------------------------
    def _matches(self, attrs: dict[str, Any]) -> dict[str, str]:
        return {k: self.index[k][attrs[k]] for k in IDENTIFIERS if attrs.get(k) and attrs[k] in self.index[k]}

    def _resolve_for_event(self, attrs: dict[str, Any]) -> Profile:
        if attrs.get("id"):
            profile = self.profiles[attrs["id"]]
        else:
            matches = self._matches(attrs)
            owners = set(matches.values())
            if len(owners) > 1:
                self.conflicts.append({"identifiers": matches, "kept": matches.get("email")})
                profile = self.profiles[matches.get("email") or next(iter(owners))]
            elif owners:
                profile = self.profiles[owners.pop()]
            else:
                return self._create(attrs, created_by="event")
        self._update(profile, attrs)
        return profile

    def _create(self, attrs: dict[str, Any], *, created_by: str) -> Profile:
        profile = Profile(id=new_id("01"), created_by=created_by)
        self.profiles[profile.id] = profile
        self._update(profile, attrs)
        return profile

    def _update(self, profile: Profile, attrs: dict[str, Any]) -> None:
        for kind in IDENTIFIERS:
            value = attrs.get(kind)
            if not value:
                continue
            index = self.index[kind]
            if index.get(value, profile.id) == profile.id:
                old = getattr(profile, kind)
                if old and old != value:
                    index.pop(old, None)
                setattr(profile, kind, value)
                index[value] = profile.id
        profile.attributes.update({k: attrs[k] for k in TRAITS if attrs.get(k)})
        profile.location.update(attrs.get("location") or {})
        profile.properties.update(attrs.get("properties") or {})

    def _profile_import(self, call: Call, match: re.Match[str]) -> Reply:
        self.require("profiles:write")
        data = call.body["data"]
        attrs = data.get("attributes") or {}
        pointer = "/data/attributes"
        if data.get("id"):
            if data["id"] not in self.profiles:
                raise Invalid(404, "not_found", f"A profile with id {data['id']} does not exist.", "/data/")
            owners = set(self._matches(attrs).values()) - {data["id"]}
            if owners:
                raise self._duplicate(owners.pop())
            profile = self.profiles[data["id"]]
            status = 200
        else:
            if not any(attrs.get(k) for k in IDENTIFIERS):
                raise Invalid(400, "invalid", "One or more identifiers is required", pointer)
            owners = set(self._matches(attrs).values())
            if len(owners) > 1:
                raise self._duplicate(self._matches(attrs).get("email") or owners.pop())
            profile = self.profiles[owners.pop()] if owners else None
            status = 200 if profile else 201
        if attrs.get("phone_number") is not None and not valid_e164(attrs["phone_number"]):
            detail = "Invalid phone number format (Example of a valid format: +12345678901)"
            raise Invalid(400, "invalid", detail, f"{pointer}/phone_number")
        if profile is None:
            profile = self._create(attrs, created_by="profile-import")
        else:
            self._update(profile, attrs)
        return Reply(status, {"data": profile.as_resource()})

    @staticmethod
    def _duplicate(profile_id: str) -> Invalid:
        return Invalid(
            409,
            "duplicate_profile",
            "A profile already exists with one of these identifiers.",
            "/data/attributes",
            duplicate_profile_id=profile_id,
        )

    def _get_profiles(self, call: Call, match: re.Match[str]) -> Reply:
        self.require("profiles:read")
        expression = call.param("filter")
        if not expression:  # the first page of all profiles (the Test's profiles:read probe)
            size = int(call.param("page[size]") or 20)
            return Reply(200, {"data": [p.as_resource() for p in self.profiles.values()][:size], "links": {}})
        found = re.fullmatch(r"(equals|any)\((email|phone_number|external_id|_kx|id),(.+)\)", expression)
        if not found:
            raise Invalid(400, "invalid", f"Invalid filter: {expression!r}", "", parameter="filter")
        operator, kind, raw = found.groups()
        values = re.findall(r'"((?:[^"\\]|\\.)*)"', raw)
        if (operator == "equals" and len(values) != 1) or not values:
            raise Invalid(400, "invalid", f"Invalid filter value: {raw!r}", "", parameter="filter")
        if kind == "id":
            ids = [v for v in values if v in self.profiles]
        else:
            ids = [self.index[kind][v] for v in values if v in self.index[kind]]
        size = int(call.param("page[size]") or 20)
        if size > 100:
            raise Invalid(400, "invalid", "page[size] must be at most 100", "", parameter="page[size]")
        data = [self.profiles[i].as_resource() for i in dict.fromkeys(ids)][:size]
        return Reply(200, {"data": data, "links": {"next": None}})

    def _list_add(self, call: Call, match: re.Match[str]) -> Reply:
        self.require("lists:write")
        list_id = match.group("list_id")
        for item in call.body["data"]:
            if item.get("id") not in self.profiles:
                raise Invalid(404, "not_found", f"A profile with id {item.get('id')} does not exist.", "/data/")
        for item in call.body["data"]:
            self.profiles[item["id"]].lists.add(list_id)  # membership, not consent
            self.lists.setdefault(list_id, set()).add(item["id"])
        return Reply(204)

    def _subscribe(self, call: Call, match: re.Match[str]) -> Reply:
        self.require("subscriptions:write")
        attrs = call.body["data"]["attributes"]
        entries = attrs["profiles"]["data"]
        for n, entry in enumerate(entries):
            consent = ((entry["attributes"].get("subscriptions") or {}).get("email") or {}).get("marketing") or {}
            if consent.get("consent") != "SUBSCRIBED":
                pointer = f"/data/attributes/profiles/data/{n}/attributes/subscriptions"
                raise Invalid(400, "invalid", "Consent is required to subscribe a profile.", pointer)
        for entry in entries:
            profile = self._resolve_for_event(self._checked_profile(entry, "/data/attributes/profiles"))
            profile.email_consent = "SUBSCRIBED"
        return Reply(202)
