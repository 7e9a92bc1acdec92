"""Klaviyo: JSON:API payloads (revision from settings) and the delivery steps."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from destinations import mapping
from destinations.clients.base import (
    ClientConfig,
    DestinationClient,
    HttpRequest,
    HttpResult,
    Limit,
    OutboundEvent,
    Person,
    StepOutcome,
    Transport,
    outcome_of,
    send_forgiving,
)
from destinations.clients.klaviyo_account import KlaviyoAccountMixin
from destinations.retry import Verdict
from events.models import EventType

DRY_RUN_PROFILE_ID = "<profile id from profile-import>"
# Klaviyo ids (lists: "Y6nRLr", profiles: "01GDDKASAP8TKDDA2GRZDSVP4H") are letters and digits.
PLATFORM_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_FILTER_FIELD = re.compile(r"[A-Za-z_$][A-Za-z0-9_.$]*")


def _literal(value: str) -> str:
    if "\\" in value or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("filter value holds a backslash or a control character")
    quote_char = "'" if '"' in value else '"'
    if quote_char in value:
        raise ValueError("filter value holds both quote characters")
    return f"{quote_char}{value}{quote_char}"


def filter_any(field: str, values: Sequence[str]) -> str:
    """``any(field,["a","b"])``: one Get Profiles request finds up to 100 profiles (spec:
    "`email`: `any`, `equals`"). Values that cannot be quoted safely raise ValueError."""
    if not _FILTER_FIELD.fullmatch(field):
        raise ValueError(f"not a filter field name: {field!r}")
    return f"any({field},[{','.join(_literal(v) for v in values)}])"


def filter_equals(field: str, value: str) -> str:
    """``equals(field,"value")`` for Klaviyo's ``filter=`` with ``value`` kept one string literal.

    Klaviyo's filter syntax quotes strings with double or single quotes and documents no
    escape sequence (https://developers.klaviyo.com/en/docs/filtering_), so a value is quoted
    with the quote it does not contain; one holding both quotes, a backslash or a control
    character cannot be expressed safely and raises ValueError (the caller skips the lookup).
    """
    if not _FILTER_FIELD.fullmatch(field):
        raise ValueError(f"not a filter field name: {field!r}")
    if "\\" in value or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("filter value holds a backslash or a control character")
    quote_char = "'" if '"' in value else '"'
    if quote_char in value:
        raise ValueError("filter value holds both quote characters")
    return f"equals({field},{quote_char}{value}{quote_char})"


def is_platform_id(value: str) -> bool:
    """A Klaviyo id (list id ...) safe to put in a request path."""
    return bool(PLATFORM_ID.fullmatch(value))


def klaviyo_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def profile_attributes(person: Person, *, with_traits: bool, anonymous: bool = True) -> dict[str, Any]:
    identifiers = {"email": person.email, "phone_number": person.phone, "external_id": person.external_id}
    if anonymous:
        identifiers["anonymous_id"] = person.anonymous_id
    identifiers["_kx"] = person.kx
    attrs: dict[str, Any] = {k: v for k, v in identifiers.items() if v}
    if not with_traits:
        return attrs
    attrs.update({k: v for k, v in (("first_name", person.first_name), ("last_name", person.last_name)) if v})
    location = {k: getattr(person, k) for k in ("city", "region", "country", "zip") if getattr(person, k)}
    if location:
        attrs["location"] = location
    if person.properties:
        attrs["properties"] = dict(person.properties)
    return attrs


def event_properties(event: OutboundEvent) -> dict[str, Any]:
    seeded = mapping.seeded_properties(event.type, event.properties)
    props = {k: v for k, v in seeded.items() if k != "$value"}
    items = mapping.line_items(event.properties)
    if items:
        props["ItemNames"] = [str(i.get("ProductName", "")) for i in items if i.get("ProductName")]
    utm = event.context.get("utm") or {}
    for key in ("source", "medium", "campaign", "term", "content"):
        if utm.get(key):
            props[f"utm_{key}"] = utm[key]
    if event.context.get("url") and "$url" not in props:
        props["$url"] = event.context["url"]
    props["$event_id"] = event.event_id
    return props


def event_attributes(
    *,
    name: str,
    properties: dict[str, Any],
    time: str,
    unique_id: str,
    value: float | None,
    currency: Any,
    backfill: bool = False,
) -> dict[str, Any]:
    """One event's attributes; ``backfill: true`` records history without triggering flows (spec)."""
    attrs: dict[str, Any] = {
        "properties": properties,
        "time": time,
        "unique_id": unique_id,
        "metric": {"data": {"type": "metric", "attributes": {"name": name}}},
    }
    if backfill:
        attrs["backfill"] = True
    if value is not None:
        attrs["value"] = value
        if isinstance(currency, str) and currency:
            attrs["value_currency"] = currency
    return attrs


def main_event_attributes(event: OutboundEvent, config: ClientConfig) -> dict[str, Any]:
    """A Placed Order's unique_id is the order id (``mapping.ORDER_ID_PROPERTY``): Klaviyo keeps
    one per profile and metric, so every report of one order is one Placed Order."""
    properties = event_properties(event)
    return event_attributes(
        name=mapping.metric_name(
            event.type,
            overrides=config.name_overrides,
            suffix=config.metric_suffix,
            active_on_site=config.active_on_site,
        ),
        properties=properties,
        time=klaviyo_time(event.timestamp),
        unique_id=mapping.order_id(event.type, event.properties) or event.event_id,
        value=mapping.event_value(event.type, mapping.seeded_properties(event.type, event.properties)),
        currency=event.properties.get("Currency"),
        backfill=event.backfill,
    )


def ordered_product_attributes(event: OutboundEvent, config: ClientConfig) -> list[dict[str, Any]]:
    """One "Ordered Product" per line item of a Placed Order; unique_id = order id + line item id."""
    if event.type != EventType.PURCHASE:
        return []
    order_id = mapping.order_id(event.type, event.properties) or event.event_id
    name = mapping.metric_name(mapping.ORDERED_PRODUCT, overrides=config.name_overrides, suffix=config.metric_suffix)
    out = []
    for index, item in enumerate(mapping.line_items(event.properties)):
        line_id = str(item.get("LineItemID") or item.get("VariantID") or index)
        unique_id = f"{order_id}:{line_id}"
        value = mapping.line_value(item)  # the final line price, after discounts
        props = {**item, mapping.ORDER_ID_PROPERTY: order_id, "$event_id": unique_id}
        currency = event.properties.get("Currency")
        out.append(
            event_attributes(
                name=name,
                properties=props,
                time=klaviyo_time(event.timestamp),
                unique_id=unique_id,
                value=value,
                currency=currency,
                backfill=event.backfill,
            )
        )
    return out


def event_bodies(event: OutboundEvent, config: ClientConfig) -> list[dict[str, Any]]:
    """Bodies for POST /api/events (EventCreateQueryV2): the event, then any Ordered Product events."""
    profile = {"data": event_profile(event.person, config)}
    attrs = [main_event_attributes(event, config), *ordered_product_attributes(event, config)]
    return [{"data": {"type": "event", "attributes": {**a, "profile": profile}}} for a in attrs]


def event_profile(person: Person, config: ClientConfig) -> dict[str, Any]:
    """The event's profile: traits only in create-and-update; "off" sends identifiers alone.
    With the profile's Klaviyo id (update only looked it up) the event attaches to it."""
    data: dict[str, Any] = {
        "type": "profile",
        "attributes": profile_attributes(person, with_traits=config.profile_sync == "create_update"),
    }
    if person.remote_id and is_platform_id(person.remote_id):
        data["id"] = person.remote_id
    return data


def profile_import_body(person: Person, *, profile_id: str = "") -> dict[str, Any]:
    data: dict[str, Any] = {
        "type": "profile",
        "attributes": profile_attributes(person, with_traits=True, anonymous=False),
    }
    if profile_id:
        data["id"] = profile_id
    return {"data": data}


def list_add_body(profile_id: str) -> dict[str, Any]:
    return {"data": [{"type": "profile", "id": profile_id}]}


def subscription_job_body(person: Person, *, list_id: str = "") -> dict[str, Any]:
    """Subscribe Profiles (POST /api/profile-subscription-bulk-create-jobs), only on a yes.

    Klaviyo: "If the provided list has double opt-in enabled, profiles will receive a message
    requiring their confirmation before subscribing." Nothing here ever unsubscribes.
    """
    attributes: dict[str, Any] = {"subscriptions": {}}
    if person.subscribe_email and person.email:
        attributes["email"] = person.email
        attributes["subscriptions"]["email"] = {"marketing": {"consent": "SUBSCRIBED"}}
    if person.subscribe_sms and person.phone:
        attributes["phone_number"] = person.phone
        attributes["subscriptions"]["sms"] = {"marketing": {"consent": "SUBSCRIBED"}}
    data: dict[str, Any] = {
        "type": "profile-subscription-bulk-create-job",
        "attributes": {
            "custom_source": "Recapture",
            "profiles": {"data": [{"type": "profile", "attributes": attributes}]},
        },
    }
    if list_id:
        data["relationships"] = {"list": {"data": {"type": "list", "id": list_id}}}
    return {"data": data}


def bulk_job_body(events: Sequence[OutboundEvent], config: ClientConfig) -> dict[str, Any]:
    """EventsBulkCreateJob: one entry per person, each with that person's events."""
    groups: dict[str, tuple[Person, list[dict[str, Any]]]] = {}
    for event in events:
        person = event.person
        key = "|".join((person.digest(), person.anonymous_id, person.kx, person.external_id, person.remote_id))
        _, entries = groups.setdefault(key, (event.person, []))
        for attrs in (main_event_attributes(event, config), *ordered_product_attributes(event, config)):
            entries.append({"type": "event", "attributes": attrs})
    data = [
        {
            "type": "event-bulk-create",
            "attributes": {
                "profile": {"data": event_profile(person, config)},
                "events": {"data": entries},
            },
        }
        for person, entries in groups.values()
    ]
    return {"data": {"type": "event-bulk-create-job", "attributes": {"events-bulk-create": {"data": data}}}}


def profile_lookup_key(person: Person) -> str:
    """How a person is looked up on Klaviyo: ``field:value`` (email, else phone, else external id)."""
    for field, value in (("email", person.email), ("phone_number", person.phone), ("external_id", person.external_id)):
        if value:
            return f"{field}:{value}"
    return ""


def _quotable(value: str) -> bool:
    try:
        _literal(value)
    except ValueError:
        return False
    return True


def _data_id(document: Any) -> str:
    data = document.get("data") if isinstance(document, dict) else None
    return str(data.get("id", "")) if isinstance(data, dict) else ""


class KlaviyoClient(KlaviyoAccountMixin, DestinationClient):
    kind = "klaviyo"
    label = "Klaviyo"
    base_url_setting = "KLAVIYO_API_URL"
    revision_setting = "KLAVIYO_API_REVISION"
    supports_click_lookup = True
    supports_backup_flows = True
    supports_active_on_site = True
    supports_bulk = True
    bulk_max_events = 1000
    bulk_max_bytes = 5 * 1024 * 1024
    limits: ClassVar[dict[str, tuple[Limit, ...]]] = {
        "default": (Limit("burst", 350, 350), Limit("steady", 3500, 3500 / 60)),
        "bulk": (Limit("burst", 10, 10), Limit("steady", 150, 150 / 60)),
    }

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Klaviyo-API-Key {self.config.api_key}",
            "revision": self.config.revision,
            "accept": "application/vnd.api+json",
            "content-type": "application/vnd.api+json",
        }

    def can_deliver(self, event: OutboundEvent) -> bool:
        person = event.person
        return person.identified or bool(person.kx or person.external_id)

    def needs_existing(self, person: Person) -> bool:
        """Update only: an event creates the profile it names, so it is sent only for profiles
        Klaviyo already has (looked up first, in batches, and remembered)."""
        return self.config.profile_sync == "update_only"

    def lookup_key(self, person: Person) -> str:
        return profile_lookup_key(person)

    def find_existing(self, persons: Sequence[Person], send: Transport) -> tuple[StepOutcome, dict[str, str]]:
        """Klaviyo ids of the persons Klaviyo has, by ``lookup_key``: Get Profiles with
        ``any(field,[...])``, 100 values a request (the page size)."""
        by_field: dict[str, list[str]] = {}
        for person in persons:
            key = profile_lookup_key(person)
            field, value = key.split(":", 1) if key else ("", "")
            if field and value not in by_field.setdefault(field, []):
                by_field[field].append(value)
        found: dict[str, str] = {}
        outcome = StepOutcome(Verdict.SUCCESS)
        for field, values in by_field.items():
            for start in range(0, len(values), 100):
                chunk = [v for v in values[start : start + 100] if _quotable(v)]
                if not chunk:
                    continue
                outcome = self._find_chunk(field, chunk, send, found)
                if not outcome.ok:
                    return outcome, found
        return outcome, found

    def _find_chunk(self, field: str, values: list[str], send: Transport, found: dict[str, str]) -> StepOutcome:
        request = HttpRequest(
            step="profile-find",
            method="GET",
            url=self.url("/api/profiles"),
            headers={k: v for k, v in self.headers().items() if k != "content-type"},
            params={"filter": filter_any(field, values), "page[size]": "100"},
        )
        outcome = outcome_of(request, send(request))
        if outcome.ok and outcome.result and outcome.result.dry_run:
            found.update({f"{field}:{v}": "" for v in values})  # dry run: assume they exist
        elif outcome.ok and outcome.result:
            wanted = {v.lower() if field == "email" else v: v for v in values}
            for item in (outcome.result.json() or {}).get("data") or []:
                value = str(((item or {}).get("attributes") or {}).get(field) or "")
                value = value.lower() if field == "email" else value
                if value in wanted and is_platform_id(str(item.get("id", ""))):
                    found[f"{field}:{wanted[value]}"] = str(item["id"])
        return outcome

    def should_sync_profile(self, person: Person) -> bool:
        """A separate profile-import only when the events cannot do it themselves.

        Events, single and bulk, create the profile or update it with the traits they carry
        (``profile_attributes(with_traits=True)`` in create_update mode), so that mode needs
        profile-import (75/s, 750/min) only to get Klaviyo's profile id for the list
        subscription. update_only finds the profile first and never creates one.
        """
        if not super().should_sync_profile(person):
            return False
        return person.subscribes or self.config.profile_sync == "update_only"

    def estimate_requests(self, event: OutboundEvent, *, sync_profile: bool) -> int:
        extra = len(mapping.line_items(event.properties)) if event.type == EventType.PURCHASE else 0
        return 1 + extra + (2 if sync_profile else 0)

    def post(self, step: str, path: str, body: Any) -> HttpRequest:
        return HttpRequest(step=step, method="POST", url=self.url(path), headers=self.headers(), json=body)

    def event_requests(self, event: OutboundEvent) -> list[HttpRequest]:
        return [self.post("event", "/api/events", body) for body in event_bodies(event, self.config)]

    def deliver(
        self, event: OutboundEvent, send: Transport, *, idempotency_key: str, sync_profile: bool
    ) -> StepOutcome:
        synced = StepOutcome(Verdict.SUCCESS)
        if sync_profile:
            synced = self.sync_profile(event.person, send)
            if not synced.ok:
                return synced
        notes: list[str] = []
        for request in self.event_requests(event):
            outcome = send_forgiving(request, send)
            notes += outcome.notes
            if not outcome.ok:
                outcome.notes = notes
                return outcome.carrying(synced)
        synced.notes = synced.notes + notes
        return synced

    def bulk_requests(self, events: Sequence[OutboundEvent]) -> list[HttpRequest]:
        return [self.post("bulk", "/api/event-bulk-create-jobs", bulk_job_body(events, self.config))]

    def deliver_bulk(self, events: Sequence[OutboundEvent], send: Transport) -> StepOutcome:
        outcome = StepOutcome(Verdict.SUCCESS)
        for request in self.bulk_requests(events):
            outcome = send_forgiving(request, send)  # one bad entry fails the job: drop its field once
            if not outcome.ok:
                return outcome
        return outcome

    def find_profile_id(self, person: Person, send: Transport) -> tuple[StepOutcome, str]:
        field, value = ("email", person.email) if person.email else ("phone_number", person.phone)
        try:
            expression = filter_equals(field, value)
        except ValueError as exc:  # not expressible as one value: never sent as a filter
            return StepOutcome(Verdict.DEAD, message=f"Cannot look the profile up: {exc}."), ""
        request = HttpRequest(
            step="profile-find",
            method="GET",
            url=self.url("/api/profiles"),
            headers={k: v for k, v in self.headers().items() if k != "content-type"},
            params={"filter": expression},
        )
        outcome = outcome_of(request, send(request))
        data = (outcome.result.json() or {}).get("data") if outcome.ok and outcome.result else None
        return outcome, (data[0].get("id", "") if isinstance(data, list) and data else "")

    def sync_profile(self, person: Person, send: Transport) -> StepOutcome:
        profile_id = person.remote_id
        if self.config.profile_sync == "update_only" and not profile_id:
            found, profile_id = self.find_profile_id(person, send)
            if not found.ok or (not profile_id and not found.result.dry_run):
                return found if not found.ok else StepOutcome(Verdict.SUCCESS)
        request = self.post("profile", "/api/profile-import", profile_import_body(person, profile_id=profile_id))
        outcome = send_forgiving(request, send)
        if not outcome.ok:
            return outcome
        remote_id = DRY_RUN_PROFILE_ID if outcome.result.dry_run else _data_id(outcome.result.json())
        if self.config.list_id and not is_platform_id(self.config.list_id):
            return StepOutcome(Verdict.DEAD, message="The list id is not a Klaviyo id; fix it in the destination.")
        if person.subscribes:  # only a consent subscribes (to the list when one is set); none never unsubscribes
            body = subscription_job_body(person, list_id=self.config.list_id)
            job = self.post("subscribe", "/api/profile-subscription-bulk-create-jobs", body)
            subscribed = outcome_of(job, send(job))
            if not subscribed.ok:
                return subscribed
        done = StepOutcome(Verdict.SUCCESS, outcome.result, remote_profile_id=remote_id, profile_synced=True)
        done.notes = outcome.notes
        return done


# --- Klaviyo email clicks (_kx): who clicked ---------------------------------------------
# Get Profiles accepts ``filter=equals(_kx,"…")`` ("`_kx`: `equals`", the filter parameter
# of GET /api/profiles in the OpenAPI spec); it needs a private key with ``profiles:read``.
# Klaviyo limits Get Profiles to 75/s burst and 750/min steady.
KX_LOOKUP_LIMITS = (Limit("burst", 75, 75), Limit("steady", 750, 750 / 60))


def kx_lookup_request(config: ClientConfig, kx: str) -> HttpRequest:
    """GET /api/profiles for the profile a _kx names; only its email and phone are asked for.

    Raises ValueError when the value cannot be one filter string (``filter_equals``)."""
    client = KlaviyoClient(config)
    return HttpRequest(
        step="profile-kx",
        method="GET",
        url=client.url("/api/profiles"),
        headers={k: v for k, v in client.headers().items() if k != "content-type"},
        params={"filter": filter_equals("_kx", kx), "fields[profile]": "email,phone_number"},
    )


def kx_lookup_contact(result: HttpResult) -> tuple[str, str] | None:
    """(email, phone) of the one profile found; ("", "") when none; None when the lookup failed."""
    if result.status_code != 200:
        return None
    body = result.json()
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return None
    if len(data) != 1:
        return "", ""  # no profile, or more than one: nothing safe to learn
    attributes = data[0].get("attributes") or {} if isinstance(data[0], dict) else {}
    return str(attributes.get("email") or ""), str(attributes.get("phone_number") or "")
