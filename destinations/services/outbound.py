"""From stored rows to the client's pure inputs: Person, OutboundEvent, ClientConfig."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.conf import settings

from destinations import mapping
from destinations.clients import ClientConfig, DestinationClient, client_class
from destinations.clients.base import OutboundEvent, Person
from destinations.models import Destination
from events.consent import subscribes_email, subscribes_sms
from events.models import Event
from events.untrusted import MARKUP, strip_unsafe_urls

STANDARD_TRAITS = ("first_name", "last_name", "phone", "city", "region", "country", "zip")
_NAMESPACE = uuid.UUID("6f1b2e4c-8a57-4c1e-9a55-2f3d7c0b9e11")

# Filled by higher apps (shopify: a Started Checkout's recovery URL from its checkout webhook):
# given the events about to be sent, event pk -> properties that replace the stored ones in what
# is sent. Called once per delivery batch when the payloads are built, so data that arrived after
# the event (a webhook) still counts; the stored event is left as it was.
PROPERTY_HOOKS: list[Callable[[Sequence[Event]], Mapping[int, Mapping[str, Any]]]] = []


def property_overlays(events: Sequence[Event]) -> dict[int, dict[str, Any]]:
    overlays: dict[int, dict[str, Any]] = {}
    for hook in PROPERTY_HOOKS:
        for pk, properties in hook(events).items():
            overlays.setdefault(pk, {}).update(properties)
    return overlays


def _text(value: Any) -> str:
    """A trimmed string; one holding markup is dropped (whatever stored it, it is never forwarded)."""
    if value is None or value == "":  # most fields of most events: skip the str/strip/regex
        return ""
    text = str(value).strip()
    return "" if MARKUP.search(text) else text


def _forwarded_custom(event: Event, traits: dict[str, Any]) -> dict[str, Any]:
    """Custom traits the merchant enabled (Merchant.forwarded_traits); the rest stay with us."""
    enabled = getattr(event.merchant, "forwarded_traits", None) or []
    if not enabled:
        return {}
    return strip_unsafe_urls({k: traits[k] for k in enabled if k in traits and k not in STANDARD_TRAITS})


def person_of(event: Event) -> Person:
    """The profile identity resolution linked (when it has the field), else the event's own data."""
    return Person(**_person_fields(event))


def _person_fields(event: Event) -> dict[str, Any]:
    profile = event.profile if event.profile_id else None
    ids, traits = event.identifiers or {}, event.traits or {}
    profile_traits = getattr(profile, "traits", None)
    profile_traits = profile_traits if isinstance(profile_traits, dict) else {}

    def pick(field: str, *fallbacks: Any) -> str:
        if profile is not None:
            value = _text(getattr(profile, field, "")) or _text(profile_traits.get(field))
            if value:
                return value
        for fallback in fallbacks:
            value = _text(fallback)
            if value:
                return value
        return ""

    profile_props = getattr(profile, "properties", None)
    profile_props = profile_props if isinstance(profile_props, dict) else {}
    custom = _forwarded_custom(event, {**traits, **profile_traits, **profile_props})
    # Resolved events carry only what identity resolution kept: a junk email or an invalid
    # phone on the event itself (identity.junk) is never sent. Unresolved ones keep their own.
    own_email, own_phone = (None, None) if profile is not None else (ids.get("email"), ids.get("phone"))
    return {
        "email": pick("email", own_email).lower(),
        "phone": pick("phone", own_phone, None if profile is not None else traits.get("phone")),
        "external_id": _text(ids.get("shopify_customer_id")) or _text(ids.get("external_id")),
        "anonymous_id": _text(event.anonymous_id),
        "kx": _text(ids.get("kx")) or _text(getattr(profile, "klaviyo_kx", "")),
        "first_name": pick("first_name", traits.get("first_name")),
        "last_name": pick("last_name", traits.get("last_name")),
        "city": pick("city", traits.get("city")),
        "region": pick("region", traits.get("region")),
        "country": pick("country", traits.get("country")),
        "zip": pick("zip", traits.get("zip")),
        "properties": custom,
        "profile_id": event.profile_id,
    }


def phone_region(merchant: Any) -> str:
    """The merchant's default phone region (numbers typed without +), else the site default."""
    region = getattr(merchant, "phone_region", "") if merchant is not None else ""
    return (region or settings.IDENTITY_DEFAULT_PHONE_REGION or "US").upper()


def outbound_event(
    event: Event, *, backfill: bool = False, region: str = "", overlay: Mapping[str, Any] | None = None
) -> OutboundEvent:
    """The event as the payload builders see it; a phone that is no valid number is dropped
    (and noted) here, so an invalid phone never costs the event (Klaviyo 400s the request).
    ``overlay`` (property_overlays) replaces stored properties in what is sent."""
    fields, notes = _person_fields(event), []
    typed = fields["phone"]
    if typed:
        fields["phone"] = mapping.e164(typed, region=region or phone_region(None)) or ""
        if not fields["phone"]:
            notes.append(f"dropped invalid phone {typed[:32]!r}")
    context = dict(event.context or {})
    consent = context.get("consent") if isinstance(context.get("consent"), dict) else {}
    fields.update(subscribe_email=subscribes_email(consent), subscribe_sms=subscribes_sms(consent))
    person = Person(**fields)  # built once (dataclasses.replace per change was a share of a bulk batch)
    return OutboundEvent(
        event_id=event.event_id,
        type=event.type,
        source=event.source,
        timestamp=event.timestamp,
        person=person,
        properties=strip_unsafe_urls({**(event.properties or {}), **(overlay or {})}),
        context=strip_unsafe_urls(context),
        backfill=backfill or bool(context.get("backfill")),
        notes=tuple(notes),
    )


def client_for(destination: Destination) -> DestinationClient:
    cls = client_class(destination.kind)
    base_url = getattr(settings, cls.base_url_setting)
    revision = getattr(settings, cls.revision_setting) if cls.revision_setting else ""
    return cls(
        ClientConfig(
            api_key=destination.api_key,
            base_url=base_url,
            profile_sync=destination.profile_sync,
            metric_suffix=destination.metric_suffix,
            list_id=destination.list_id,
            name_overrides=dict(destination.name_overrides or {}),
            revision=revision,
            active_on_site=destination.active_on_site,
        )
    )


def idempotency_key(*, merchant_id: int, event_id: str, destination_id: int) -> str:
    """Stable per event x destination, so a retry or a re-send carries the same key."""
    return str(uuid.uuid5(_NAMESPACE, f"{merchant_id}:{event_id}:{destination_id}"))
