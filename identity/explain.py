"""Why an event was attributed (or not): the identity decision shown on the event's page (pure).

Stored on ``Event.identity_decision`` as a small dict::

    {"rule": "shared_device_session", "identifier": "anonymous_id",
     "junk": [["email", "placeholder"]], "refused": [["fbclid", "uncorroborated_click"]]}

``rule`` names the rule that attributed it (or why nothing did); ``identifier`` the type of
the identifier it went through; ``junk`` the event's strong identifiers rejected as junk and
why; ``refused`` the links this event did not make and why.
"""

from __future__ import annotations

from typing import Any

from identity.policy import CONTACT_TYPES, EVIDENCE_TYPES, STRONG_TYPES, Decision, Key

RULES = {
    "native": "The event carries the email or phone itself.",
    "customer_id": "A customer id the shop sent links it to the profile holding that id.",
    "device": "Its device id belongs to one person only, who identified on it.",
    "shared_device_session": "A shared, laptop or desktop device, in the same session as an explicit "
    "identification (gaps within IDENTITY_SESSION_GAP_MINUTES).",
    "click_handoff": "An ad click id first seen in an in-app browser on the same network and OS family, within "
    "IDENTITY_HANDOFF_WINDOW_MINUTES (the in-app browser to phone browser handoff).",
    "kx": "A Klaviyo email click (_kx) names the recipient.",
    "click_same_browser": "A click id seen before in this same browser.",
    "reidentified": "Anonymous before; its profile was then identified (same device and session, or a safe link).",
    "no_identity": "Nothing known identifies who sent it (yet).",
    "new_session": "A shared device (identified by two different people), or a laptop or desktop, in a new "
    "session: nobody is attributed until someone identifies in this session.",
    "junk": "Its only identity was junk (placeholder, invalid, disposable or role address, or invalid phone).",
}
REASONS = {
    "conflict": "another person's identity",
    "limit": "over the per-type identifier limit",
    "shared_click": "click id shared between people",
    "uncorroborated_click": "click id on another network or OS, or outside the handoff window",
    "invalid": "not a plain valid address",
    "placeholder": "placeholder value",
    "reserved_domain": "reserved or placeholder domain",
    "disposable": "disposable inbox",
    "role": "role address (not a person)",
    "merchant_blocked": "blocked by the merchant",
    "invalid_phone": "not a valid number for the region",
}


def decision_record(
    *,
    keys: list[Key],
    decision: Decision | None,
    junk: list[tuple[str, str]],
    identified: bool,
    linked_by: str,
    shared_device: bool,
) -> dict[str, Any]:
    """The stored decision of one event just resolved."""
    record: dict[str, Any] = {"rule": _rule(keys, decision, junk, identified, linked_by, shared_device)}
    if identified and record["rule"] != "native":
        record["identifier"] = linked_by
    elif record["rule"] == "native":
        record["identifier"] = next(k.type for k in keys if k.type in CONTACT_TYPES)
    if junk:
        record["junk"] = [list(pair) for pair in junk]
    if decision is not None and decision.ignored:
        record["refused"] = sorted({(key.type, reason) for key, reason, _pid in decision.ignored})
        record["refused"] = [list(pair) for pair in record["refused"]]
    return record


def _rule(
    keys: list[Key],
    decision: Decision | None,
    junk: list[tuple[str, str]],
    identified: bool,
    linked_by: str,
    shared_device: bool,
) -> str:
    if any(k.type in CONTACT_TYPES for k in keys):
        return "native"
    if not identified:
        if decision is not None and decision.new_session:
            return "new_session"
        return "junk" if junk else "no_identity"
    if linked_by in STRONG_TYPES:
        return "customer_id"
    if linked_by == "kx":
        return "kx"
    if linked_by in EVIDENCE_TYPES:
        return "click_handoff" if decision is not None and decision.handoff else "click_same_browser"
    return "shared_device_session" if shared_device else "device"


def describe(record: dict[str, Any]) -> str:
    """One paragraph for the admin: the rule, the identifier, the junk and the refused links."""
    if not record:
        return "Not resolved yet."
    parts = [RULES.get(record.get("rule", ""), record.get("rule", ""))]
    if record.get("identifier"):
        parts.append(f"Identifier: {record['identifier']}.")
    for kind, reason in record.get("junk", []):
        parts.append(f"Junk {kind} ignored: {REASONS.get(reason, reason)}.")
    for kind, reason in record.get("refused", []):
        parts.append(f"Not linked through {kind}: {REASONS.get(reason, reason)}.")
    return " ".join(parts)
