"""Loops: flat JSON payloads, Bearer auth, Idempotency-Key on events."""

from __future__ import annotations

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


def _scalar(value: Any) -> Scalar | None:
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return None


def flat_properties(properties: Mapping[str, Any]) -> dict[str, Scalar]:
    """Loops event properties are flat scalars: Items become names / SKUs / a count."""
    out: dict[str, Scalar] = {}
    for key, value in properties.items():
        name = "value" if key == "$value" else key
        if key == "Items" and isinstance(value, list):
            items = mapping.line_items(properties)
            out["ItemNames"] = ", ".join(str(i["ProductName"]) for i in items if i.get("ProductName"))
            out["ItemSKUs"] = ", ".join(str(i["SKU"]) for i in items if i.get("SKU"))
            out.setdefault("ItemCount", len(items))
        elif isinstance(value, list):
            out[name] = ", ".join(str(v) for v in value if _scalar(v) is not None)
        elif isinstance(value, dict):
            for sub, inner in value.items():
                if _scalar(inner) is not None:
                    out[f"{name}_{sub}"] = _scalar(inner)
        elif _scalar(value) is not None:
            out[name] = _scalar(value)
    return out


def contact_properties(person: Person) -> dict[str, Scalar]:
    props: dict[str, Scalar] = {}
    if person.first_name:
        props["firstName"] = person.first_name
    if person.last_name:
        props["lastName"] = person.last_name
    for key, value in person.properties.items():
        if _scalar(value) is not None and key not in ("email", "userId", "eventName"):
            props[key] = _scalar(value)
    return props


def event_body(event: OutboundEvent, *, name: str, with_contact: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "email": event.person.email,
        "eventName": name,
        "eventProperties": flat_properties({**event.properties, "eventId": event.event_id}),
    }
    if with_contact:
        body.update({k: v for k, v in contact_properties(event.person).items() if k not in body})
    return body


def contact_update_body(person: Person, *, list_id: str = "") -> dict[str, Any]:
    body: dict[str, Any] = {"email": person.email, **contact_properties(person)}
    if list_id:
        body["mailingLists"] = {list_id: True}
    return body


class LoopsClient(DestinationClient):
    kind = "loops"
    limits: ClassVar[dict[str, tuple[Limit, ...]]] = {"default": (Limit("team", 10, 10),)}

    def headers(self, *, json: bool = True) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.config.api_key}"}
        if json:
            headers["Content-Type"] = "application/json"
        return headers

    def can_deliver(self, event: OutboundEvent) -> bool:
        return bool(event.person.email)

    def should_sync_profile(self, person: Person) -> bool:
        return self.config.profile_sync != "off" and bool(person.email)

    def event_request(self, event: OutboundEvent, *, idempotency_key: str) -> HttpRequest:
        name = mapping.metric_name(event.type, overrides=self.config.name_overrides, suffix=self.config.metric_suffix)
        body = event_body(event, name=name, with_contact=self.config.profile_sync == "create_update")
        return HttpRequest(
            step="event",
            method="POST",
            url=self.url("/api/v1/events/send"),
            headers={**self.headers(), "Idempotency-Key": idempotency_key},
            json=body,
            success_statuses=frozenset({409}),  # the key was used: Loops already has this event
        )

    def deliver(
        self, event: OutboundEvent, send: Transport, *, idempotency_key: str, sync_profile: bool
    ) -> StepOutcome:
        synced = StepOutcome(Verdict.SUCCESS)
        if sync_profile:
            synced = self.sync_profile(event.person, send)
            if not synced.ok:
                return synced
        request = self.event_request(event, idempotency_key=idempotency_key)
        outcome = outcome_of(request, send(request))
        return synced if outcome.ok else outcome.carrying(synced)

    def sync_profile(self, person: Person, send: Transport) -> StepOutcome:
        if self.config.profile_sync == "update_only":
            find = HttpRequest(
                step="profile-find",
                method="GET",
                url=self.url("/api/v1/contacts/find"),
                headers=self.headers(json=False),
                params={"email": person.email},
            )
            found = outcome_of(find, send(find))
            if not found.ok:
                return found
            if not found.result.dry_run and not found.result.json():
                return StepOutcome(Verdict.SUCCESS)  # no such contact: update only never creates
        request = HttpRequest(
            step="profile",
            method="PUT",
            url=self.url("/api/v1/contacts/update"),
            headers=self.headers(),
            json=contact_update_body(person, list_id=self.config.list_id),
        )
        outcome = outcome_of(request, send(request))
        if not outcome.ok:
            return outcome
        remote_id = "" if outcome.result.dry_run else str((outcome.result.json() or {}).get("id", ""))
        return StepOutcome(Verdict.SUCCESS, outcome.result, remote_profile_id=remote_id, profile_synced=True)

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
