"""Pure validation and normalisation of ingest payloads (no ORM, no settings).

`split_payload` turns a parsed body into a list of raw events (or raises a whole-request
error); `parse_event` turns one raw event, native or Shopify Web Pixel, into a `NewEvent`
(or raises `EventInvalidError`, reported per event).
"""

from __future__ import annotations

import difflib
from datetime import UTC, datetime, timedelta
from typing import Any

from events import shopify
from events.consent import read_consent
from events.exceptions import BatchTooLargeError, EventInvalidError, PayloadInvalidError
from events.models import EventSource, EventType, is_server_event_id
from events.types import NewEvent
from events.untrusted import check_event_content

NATIVE_KEYS = frozenset(
    {"event_id", "type", "anonymous_id", "timestamp", "context", "identifiers", "traits", "properties"}
)
DICT_FIELDS = ("context", "identifiers", "traits", "properties")
MAX_ID_LENGTH = 128
MAX_DEPTH = 12
MAX_STRING_LENGTH = 8192


def unknown_type_warning(event_type: str) -> str | None:
    """A warning for a type that is not a standard one (a custom event, or a typo such as AddToKart)."""
    standard = [t.value for t in EventType]
    if event_type in standard:
        return None
    close = difflib.get_close_matches(event_type, standard, n=1, cutoff=0.7)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return (
        f"{event_type!r} is not a standard event type{hint}: it is stored, and forwarded only to destinations "
        "that list it as a custom event."
    )


def split_payload(payload: Any, *, max_events: int) -> list[Any]:
    """The raw events of a body: one event object or ``{"batch": [...]}`` (writeKey removed)."""
    if not isinstance(payload, dict):
        raise PayloadInvalidError('The body must be a JSON object: one event or {"batch": [...]}.')
    body = {k: v for k, v in payload.items() if k != "writeKey"}
    if "batch" not in body:
        return [body]
    extra = sorted(set(body) - {"batch"})
    if extra:
        raise PayloadInvalidError(f"Unknown keys next to batch: {', '.join(extra)}.", fields={"unknown": extra})
    batch = body["batch"]
    if not isinstance(batch, list):
        raise PayloadInvalidError("batch must be a list of events.")
    if len(batch) > max_events:
        raise BatchTooLargeError(f"A batch holds at most {max_events} events; this one has {len(batch)}.")
    return batch


def parse_event(raw: Any, *, now: datetime, max_future: timedelta) -> NewEvent:
    """Validate and normalise one event; raises EventInvalidError with a clear message."""
    if not isinstance(raw, dict):
        raise EventInvalidError("invalid_event", "Each event must be a JSON object.")
    check_json_value(raw)
    _refuse_reserved_id(raw)
    if shopify.is_shopify_event(raw):
        fields = shopify.normalise_event(raw)
        source = EventSource.SHOPIFY
    else:
        fields = _native_fields(raw)
        source = EventSource.PIXEL
    _normalise_consent(fields, raw)
    fields["timestamp"] = parse_timestamp(fields.get("timestamp"), now=now, max_future=max_future)
    for name in ("event_id", "type", "anonymous_id"):
        fields[name] = _required_id(fields.get(name), name)
    check_event_content(fields)
    return NewEvent(**fields, raw=raw, source=source)


def _normalise_consent(fields: dict[str, Any], raw: dict[str, Any]) -> None:
    """context.consent in our names: a Web Pixel event's ``consent`` (the Custom Pixel adds
    init.customerPrivacy), checkout's buyerAccepts* flags, or a native event's context.consent."""
    checkout = (raw.get("data") or {}).get("checkout") if isinstance(raw.get("data"), dict) else None
    consent = read_consent(raw.get("consent"), fields["context"].get("consent"), checkout)
    fields["context"].pop("consent", None)
    if consent:
        fields["context"]["consent"] = consent


def _refuse_reserved_id(raw: dict[str, Any]) -> None:
    """Ids in a server-made namespace are ours (a return, an order webhook's Placed Order): a client
    sending one could pre-empt the real event, which the unique event id would then drop.

    The check is on the id the client sent (``event_id``, or a Web Pixel event's ``id``), not on
    the normalised one: the one Placed Order id of a Shopify order is derived by the server from
    the checkout it names (``events.shopify.placed_order_event_id``), for the pixel and the
    webhook alike.
    """
    for key in ("event_id", "id"):
        value = raw.get(key)
        if isinstance(value, str) and is_server_event_id(value):
            raise EventInvalidError("reserved_event_id", "event_id uses a namespace reserved for server-made events.")


def _native_fields(raw: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(raw) - NATIVE_KEYS)
    if unknown:
        raise EventInvalidError("unknown_keys", f"Unknown keys: {', '.join(unknown)}.")
    fields: dict[str, Any] = {k: raw.get(k) for k in ("event_id", "type", "anonymous_id", "timestamp")}
    for name in DICT_FIELDS:
        value = raw.get(name, {})
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise EventInvalidError("invalid_field", f"{name} must be an object.")
        fields[name] = value
    fields["identifiers"] = clean_identifiers(fields["identifiers"])
    return fields


def clean_identifiers(identifiers: dict[str, Any]) -> dict[str, str]:
    """Identifier values as trimmed strings; empty values dropped; objects rejected."""
    out: dict[str, str] = {}
    for key, value in identifiers.items():
        if value is None or isinstance(value, bool):
            continue
        if not isinstance(value, str | int | float):
            raise EventInvalidError("invalid_field", f"identifiers.{key} must be a string.")
        text = str(value).strip()
        if text:
            out[key] = text
    return out


def _required_id(value: Any, name: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise EventInvalidError("missing_field", f"{name} is required and must be a non-empty string.")
    value = value.strip()
    if len(value) > MAX_ID_LENGTH:
        raise EventInvalidError("invalid_field", f"{name} is longer than {MAX_ID_LENGTH} characters.")
    return value


def parse_timestamp(value: Any, *, now: datetime, max_future: timedelta) -> datetime:
    """ISO 8601 (naive means UTC); missing means now; beyond now + max_future is rejected."""
    if value is None:
        return now
    if not isinstance(value, str):
        raise EventInvalidError("invalid_timestamp", "timestamp must be an ISO 8601 string.")
    try:
        parsed = datetime.fromisoformat(value.strip())
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        parsed = parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise EventInvalidError("invalid_timestamp", "timestamp is not a valid ISO 8601 date-time.")
    if parsed > now + max_future:
        raise EventInvalidError("timestamp_in_future", "timestamp is too far in the future.")
    return parsed


def check_json_value(value: Any, depth: int = 0) -> None:
    """Reject what the databases cannot store or we will not: deep nesting, NUL, huge strings."""
    if depth > MAX_DEPTH:
        raise EventInvalidError("too_deep", f"The event is nested deeper than {MAX_DEPTH} levels.")
    if isinstance(value, str):
        _check_string(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_string(key)
            check_json_value(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_json_value(item, depth + 1)


def _check_string(text: str) -> None:
    if "\x00" in text:
        raise EventInvalidError("invalid_string", "Strings must not contain NUL characters.")
    if len(text) > MAX_STRING_LENGTH:
        raise EventInvalidError("string_too_long", f"Strings are limited to {MAX_STRING_LENGTH} characters.")
