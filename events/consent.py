"""Visitor consent on events, and the merchant's policy without analytics consent (pure).

Shopify exposes the same four purposes to both kinds of pixel. The Web Pixels API gives
``init.customerPrivacy`` and ``customerPrivacy.subscribe('visitorConsentCollected', ...)``
whose status is ``{analyticsProcessingAllowed, marketingAllowed, preferencesProcessingAllowed,
saleOfDataAllowed}`` (Web Pixels API, customerPrivacy); the storefront's
``window.Shopify.customerPrivacy`` has the same-named methods, and its
``visitorConsentCollected`` document event carries ``{analyticsAllowed, marketingAllowed,
preferencesAllowed, saleOfDataAllowed}``. The Allowed methods "combine ... The current merchant
settings: Is consent required in this region? User location ... User consent given" (Customer
Privacy API): Shopify decides whether consent is needed, so only an explicit ``false`` counts
as a refusal here. Checkout adds ``buyerAcceptsEmailMarketing`` / ``buyerAcceptsSmsMarketing``.

Every event carries ``context.consent`` = {analytics, marketing, preferences, sale_of_data,
email_marketing, sms_marketing}, each true, false or null (not said).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from events.types import NewEvent

PURPOSES = ("analytics", "marketing", "preferences", "sale_of_data", "email_marketing", "sms_marketing")
ALIASES = {
    "analyticsProcessingAllowed": "analytics",
    "analyticsAllowed": "analytics",
    "marketingAllowed": "marketing",
    "preferencesProcessingAllowed": "preferences",
    "preferencesAllowed": "preferences",
    "saleOfDataAllowed": "sale_of_data",
    "buyerAcceptsEmailMarketing": "email_marketing",
    "buyerAcceptsSmsMarketing": "sms_marketing",
    "saleOfData": "sale_of_data",
}
POLICY_ANONYMISE = "anonymise"
POLICY_DROP = "drop"
# Properties that point back at one shopper's cart or checkout: not kept without consent.
TRACEABLE_PROPERTIES = frozenset({"CheckoutToken", "CartToken", "CheckoutURL", "CartURL", "OrderID"})


def read_consent(*sources: Any) -> dict[str, bool | None]:
    """Merge consent objects (our names or Shopify's); later sources win; non-booleans are "not said"."""
    out: dict[str, bool | None] = {}
    for source in sources:
        if not isinstance(source, dict):
            continue
        for key, value in source.items():
            name = ALIASES.get(key, key)
            if name in PURPOSES and isinstance(value, bool):
                out[name] = value
    return out


def refuses_analytics(consent: dict[str, Any]) -> bool:
    return consent.get("analytics") is False


def subscribes_email(consent: dict[str, Any]) -> bool:
    """Only a yes subscribes: checkout's email opt-in, or the visitor's marketing consent."""
    return consent.get("email_marketing") is True or (
        consent.get("marketing") is True and consent.get("email_marketing") is not False
    )


def subscribes_sms(consent: dict[str, Any]) -> bool:
    return consent.get("sms_marketing") is True


def refuses_marketing(consent: dict[str, Any]) -> bool:
    """An explicit no to marketing and no email opt-in: nothing may subscribe this person."""
    said_no = consent.get("marketing") is False or consent.get("email_marketing") is False
    return said_no and not subscribes_email(consent)


def apply_policy(event: NewEvent, *, policy: str) -> NewEvent | None:
    """The event as stored under the merchant's policy; None when nothing may be stored.

    Without analytics consent: ``drop`` stores nothing; ``anonymise`` stores the event with
    nothing that identifies the visitor (no identifiers, traits, device id, user agent, referrer,
    query string, cart/checkout tokens, nor the raw body).
    """
    consent = event.context.get("consent") or {}
    if not refuses_analytics(consent):
        return event
    if policy == POLICY_DROP:
        return None
    context = {"consent": consent}
    if event.context.get("utm"):
        context["utm"] = event.context["utm"]
    if isinstance(event.context.get("url"), str):
        context["url"] = _without_query(event.context["url"])
    properties = {k: v for k, v in event.properties.items() if k not in TRACEABLE_PROPERTIES}
    return replace(
        event,
        anonymous_id="",
        identifiers={},
        traits={},
        context=context,
        properties=properties,
        raw={"anonymised": True, "consent": consent},
    )


def _without_query(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


LABELS = {
    "analytics": "analytics",
    "marketing": "marketing",
    "preferences": "preferences",
    "sale_of_data": "sale of data",
    "email_marketing": "email opt-in",
    "sms_marketing": "SMS opt-in",
}


def describe(consent: Any) -> str:
    """ "analytics yes · marketing no · ..." for the console; "not sent" when nothing was."""
    if not isinstance(consent, dict) or not consent:
        return "not sent by the pixel"
    words = {True: "yes", False: "no"}
    return " · ".join(f"{LABELS[k]} {words[consent[k]]}" for k in PURPOSES if isinstance(consent.get(k), bool))
