"""What an event's stored identity decision means, in words (pure; the admin shows it).

``Event.identity_decision`` is written by identity resolution (identity.explain): the rule
that attributed the event (or why none did), the identifier type it went through, the
strong identifiers rejected as junk and the links it refused. The texts live here, next to
the field, so the event's page can explain it without reaching into a higher layer.
"""

from __future__ import annotations

from typing import Any

RULES = {
    "native": "The event carries the email or phone itself.",
    "customer_id": "A customer id the shop sent links it to the profile holding that id.",
    "device": "Its device id belongs to one person only, who identified on it.",
    "shared_device_session": "A laptop, desktop or shared device: attributed because the event came in the same "
    "browsing session as the person's own identification on it (no gap longer than the session gap, 30 minutes "
    "by default).",
    "click_handoff": "An ad link opened in an in-app browser and then, minutes later, in the phone's own browser "
    "on the same network and OS family (the in-app browser to phone browser handoff).",
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
