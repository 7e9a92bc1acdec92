"""Loops: flat JSON payloads, Bearer auth, Idempotency-Key on events.

What Loops does with these requests (modelled in tests/fakes/loops.py):
- ``events/send`` creates the contact it names when there is none, subscribed, and starts
  every workflow listening to the event. Loops has no backfill flag, so a backfill only
  updates the contact (``contacts/update``) and sends no event.
- Contacts are found by ``email`` or ``userId`` (the Shopify customer id); a contact can be
  created only with an email, so a shopper known by customer id alone is sent only when
  Loops already has them.
- Strings are capped at 500 characters; custom contact properties must exist before use,
  so missing ones are created (``POST /v1/contacts/properties``) from a cached list.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from destinations import mapping
from destinations.clients.base import (
    DestinationClient,
    HttpRequest,
    HttpResult,
    Limit,
    OutboundEvent,
    Person,
    StepOutcome,
    Transport,
    outcome_of,
)
from destinations.retry import Verdict

Scalar = str | int | float | bool
MAX_STRING = 500  # "Most text fields ... accept up to 500 characters"
DEFAULT_CONTACT_KEYS = frozenset({"email", "firstName", "lastName", "source", "subscribed", "userGroup", "userId"})
RESERVED_KEYS = frozenset({"id", "listId", "softDeleteAt", "teamId", "updatedAt", "eventName", "mailingLists"})
PROPERTY_CACHE_SECONDS = 600.0
_properties: dict[str, tuple[float, set[str]]] = {}
_properties_lock = threading.Lock()


def forget_properties() -> None:
    """Drop the cached custom-property lists (tests; a key change)."""
    with _properties_lock:
        _properties.clear()


def _scalar(value: Any) -> Scalar | None:
    if isinstance(value, str):
        return value[:MAX_STRING]
    if isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return None


def _joined(values: Sequence[Any]) -> str:
    return ", ".join(str(v) for v in values if _scalar(v) is not None)[:MAX_STRING]


def flat_properties(properties: Mapping[str, Any]) -> dict[str, Scalar]:
    """Loops event properties are flat scalars: Items become names / SKUs / a count."""
    out: dict[str, Scalar] = {}
    for key, value in properties.items():
        name = "value" if key == "$value" else key
        if key == "Items" and isinstance(value, list):
            items = mapping.line_items(properties)
            out["ItemNames"] = _joined([i["ProductName"] for i in items if i.get("ProductName")])
            out["ItemSKUs"] = _joined([i["SKU"] for i in items if i.get("SKU")])
            out.setdefault("ItemCount", len(items))
        elif isinstance(value, list):
            out[name] = _joined(value)
        elif isinstance(value, dict):
            for sub, inner in value.items():
                if _scalar(inner) is not None:
                    out[f"{name}_{sub}"] = _scalar(inner)
        elif _scalar(value) is not None:
            out[name] = _scalar(value)
    return out


def property_key(name: str) -> str:
    """A Loops contact property name: camelCase letters and digits ("accepts_marketing" ->
    "acceptsMarketing"); "" when nothing usable is left or the name is reserved."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", str(name)) if w]
    if not words:
        return ""
    key = words[0][:1].lower() + words[0][1:] + "".join(w[:1].upper() + w[1:] for w in words[1:])
    key = key if key[:1].isalpha() else ""
    return "" if key in RESERVED_KEYS else key[:64]


def contact_properties(person: Person) -> dict[str, Scalar]:
    props: dict[str, Scalar] = {}
    if person.first_name:
        props["firstName"] = person.first_name[:MAX_STRING]
    if person.last_name:
        props["lastName"] = person.last_name[:MAX_STRING]
    for raw_key, value in person.properties.items():
        key = property_key(raw_key)
        if key and key not in DEFAULT_CONTACT_KEYS and _scalar(value) is not None:
            props[key] = _scalar(value)
    return props


def identity(person: Person) -> dict[str, str]:
    body = {"email": person.email} if person.email else {}
    if person.external_id:
        body["userId"] = person.external_id[:MAX_STRING]
    return body


def event_body(
    event: OutboundEvent, *, name: str, with_contact: bool = False, contact: Mapping[str, Scalar] | None = None
) -> dict[str, Any]:
    if contact is None:
        contact = contact_properties(event.person) if with_contact else {}
    properties = mapping.seeded_properties(event.type, {**event.properties, "eventId": event.event_id})
    body: dict[str, Any] = {**identity(event.person), "eventName": name, "eventProperties": flat_properties(properties)}
    body.update({k: v for k, v in contact.items() if k not in body})
    return body


def contact_update_body(person: Person, *, list_id: str = "", contact: Mapping[str, Scalar] | None = None) -> dict:
    props = contact_properties(person) if contact is None else contact
    body: dict[str, Any] = {**identity(person), **props}
    if person.subscribe_email:  # a yes subscribes; without one nothing is sent (never an unsubscribe)
        body["subscribed"] = True
        if list_id:
            body["mailingLists"] = {list_id: True}
    return body


def _value_type(value: Scalar) -> str:
    return "boolean" if isinstance(value, bool) else "number" if isinstance(value, (int, float)) else "string"


class LoopsClient(DestinationClient):
    kind = "loops"
    label = "Loops"
    base_url_setting = "LOOPS_API_URL"
    limits: ClassVar[dict[str, tuple[Limit, ...]]] = {"default": (Limit("team", 10, 10),)}

    def headers(self, *, json: bool = True) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.config.api_key}"}
        if json:
            headers["Content-Type"] = "application/json"
        return headers

    def can_deliver(self, event: OutboundEvent) -> bool:
        return bool(event.person.email or event.person.external_id)

    def should_sync_profile(self, person: Person) -> bool:
        return self.config.profile_sync != "off" and bool(person.email or person.external_id)

    def needs_existing(self, person: Person) -> bool:
        """events/send creates contacts: update only sends only to contacts Loops has, and a
        shopper known by customer id alone can only be reached if Loops already knows them."""
        return self.config.profile_sync == "update_only" or not person.email

    def lookup_key(self, person: Person) -> str:
        return (
            f"email:{person.email}" if person.email else (f"userId:{person.external_id}" if person.external_id else "")
        )

    def find_existing(self, persons: Sequence[Person], send: Transport) -> tuple[StepOutcome, dict[str, str]]:
        found: dict[str, str] = {}
        outcome = StepOutcome(Verdict.SUCCESS)
        for key in dict.fromkeys(self.lookup_key(p) for p in persons if self.lookup_key(p)):
            field, value = key.split(":", 1)
            request = HttpRequest(
                step="profile-find",
                method="GET",
                url=self.url("/api/v1/contacts/find"),
                headers=self.headers(json=False),
                params={field: value},
            )
            outcome = outcome_of(request, send(request))
            if not outcome.ok:
                return outcome, found
            data = outcome.result.json() if not outcome.result.dry_run else [{"id": ""}]
            if isinstance(data, list) and data and isinstance(data[0], dict):
                found[key] = str(data[0].get("id") or "")
        return outcome, found

    # --- custom contact properties ----------------------------------------------------------
    def known_properties(self, send: Transport) -> tuple[StepOutcome, set[str]]:
        cache_key = f"{self.config.base_url}|{self.config.api_key}"
        with _properties_lock:
            cached = _properties.get(cache_key)
        if cached and cached[0] > time.monotonic():
            return StepOutcome(Verdict.SUCCESS), cached[1]
        request = HttpRequest(
            step="properties",
            method="GET",
            url=self.url("/api/v1/contacts/properties"),
            headers=self.headers(json=False),
            params={"list": "custom"},
        )
        outcome = outcome_of(request, send(request))
        if not outcome.ok or outcome.result.dry_run:
            return outcome, set()
        data = outcome.result.json()
        keys = {str(p.get("key")) for p in data if isinstance(p, dict)} if isinstance(data, list) else set()
        with _properties_lock:
            _properties[cache_key] = (time.monotonic() + PROPERTY_CACHE_SECONDS, keys)
        return outcome, keys

    def usable_contact(self, person: Person, send: Transport) -> tuple[StepOutcome, dict[str, Scalar]]:
        """The person's contact properties, creating missing custom ones first; a property
        Loops refuses to create is left out (and noted)."""
        wanted = contact_properties(person)
        custom = {k: v for k, v in wanted.items() if k not in DEFAULT_CONTACT_KEYS}
        if not custom:
            return StepOutcome(Verdict.SUCCESS), wanted
        listed, known = self.known_properties(send)
        if not listed.ok:
            return listed, {}
        if listed.result is not None and listed.result.dry_run:
            return listed, wanted
        notes = []
        for key in [k for k in custom if k not in known]:
            request = HttpRequest(
                step="property",
                method="POST",
                url=self.url("/api/v1/contacts/properties"),
                headers=self.headers(),
                json={"name": key, "type": _value_type(custom[key])},
            )
            created = outcome_of(request, send(request))
            if created.verdict in (Verdict.RETRY, Verdict.AUTH):
                return created, {}
            if created.ok or "already exists" in created.message.lower():
                known.add(key)
            else:
                wanted.pop(key)
                notes.append(f"left out contact property {key!r}: {created.message}"[:200])
        done = StepOutcome(Verdict.SUCCESS)
        done.notes = notes
        return done, wanted

    # --- delivery ---------------------------------------------------------------------------
    def event_request(
        self, event: OutboundEvent, *, idempotency_key: str, contact: Mapping[str, Scalar] | None = None
    ) -> HttpRequest:
        name = mapping.metric_name(event.type, overrides=self.config.name_overrides, suffix=self.config.metric_suffix)
        if contact is None:
            contact = contact_properties(event.person) if self.config.profile_sync == "create_update" else {}
        return HttpRequest(
            step="event",
            method="POST",
            url=self.url("/api/v1/events/send"),
            headers={**self.headers(), "Idempotency-Key": idempotency_key},
            json=event_body(event, name=name, contact=contact),
            success_statuses=frozenset({409}),  # the key was used: Loops already has this event
        )

    def deliver(
        self, event: OutboundEvent, send: Transport, *, idempotency_key: str, sync_profile: bool
    ) -> StepOutcome:
        if event.backfill:  # no backfill flag on Loops: any events/send may start a workflow
            return self._backfill(event, send)
        synced = StepOutcome(Verdict.SUCCESS)
        if sync_profile:
            synced = self.sync_profile(event.person, send)
            if not synced.ok:
                return synced
        contact: Mapping[str, Scalar] = {}
        if self.config.profile_sync == "create_update":
            prepared, contact = self.usable_contact(event.person, send)
            if not prepared.ok:
                return prepared.carrying(synced)
            synced.notes = synced.notes + prepared.notes
        request = self.event_request(event, idempotency_key=idempotency_key, contact=contact)
        outcome = outcome_of(request, send(request))
        if not outcome.ok:
            return outcome.carrying(synced)
        return synced

    def _backfill(self, event: OutboundEvent, send: Transport) -> StepOutcome:
        note = "backfill: Loops has no backfill flag, so the contact was updated and no event sent"
        if self.config.profile_sync == "off":
            done = StepOutcome(Verdict.SUCCESS)
            done.notes = ["backfill: Loops has no backfill flag and profile sync is off: nothing sent"]
            return done
        outcome = self.sync_profile(event.person, send)
        if outcome.ok:
            outcome.notes = [*outcome.notes, note]
        return outcome

    def sync_profile(self, person: Person, send: Transport) -> StepOutcome:
        if self.config.profile_sync == "update_only" and not person.remote_id:
            found, ids = self.find_existing([person], send)
            if not found.ok:
                return found
            if not found.result.dry_run and self.lookup_key(person) not in ids:
                return StepOutcome(Verdict.SUCCESS)  # no such contact: update only never creates
        prepared, contact = self.usable_contact(person, send)
        if not prepared.ok:
            return prepared
        request = HttpRequest(
            step="profile",
            method="PUT",
            url=self.url("/api/v1/contacts/update"),
            headers=self.headers(),
            json=contact_update_body(person, list_id=self.config.list_id, contact=contact),
        )
        outcome = outcome_of(request, send(request))
        if not outcome.ok:
            return outcome
        remote_id = "" if outcome.result.dry_run else str((outcome.result.json() or {}).get("id", ""))
        done = StepOutcome(Verdict.SUCCESS, outcome.result, remote_profile_id=remote_id, profile_synced=True)
        done.notes = prepared.notes
        return done

    def key_check_request(self) -> HttpRequest:
        """GET /api/v1/api-key: "Test your API key and get team context." Loops keys carry no scopes."""
        return HttpRequest(step="test", method="GET", url=self.url("/api/v1/api-key"), headers=self.headers(json=False))

    def describe_key(self, result: HttpResult) -> str:
        data = result.json()
        return (
            f"team {data['teamName']}"
            if isinstance(data, dict) and data.get("teamName")
            else super().describe_key(result)
        )

    def erasure_requests(self, identifiers: Sequence[tuple[str, str]]) -> list[HttpRequest]:
        """POST /api/v1/contacts/delete by email and by userId ("Include only one of email or userId");
        404 "Contact not found" means there is nothing left to delete."""
        fields = {"email": "email", "external_id": "userId"}
        return [
            HttpRequest(
                step="erasure",
                method="POST",
                url=self.url("/api/v1/contacts/delete"),
                headers=self.headers(),
                json={fields[kind]: value},
                success_statuses=frozenset({404}),
            )
            for kind, value in identifiers
            if kind in fields and value
        ]
