"""Why an event was attributed (or not): the identity decision shown on the event's page (pure).

Stored on ``Event.identity_decision`` as a small dict::

    {"rule": "shared_device_session", "identifier": "anonymous_id",
     "junk": [["email", "placeholder"]], "refused": [["fbclid", "uncorroborated_click"]]}

``rule`` names the rule that attributed it (or why nothing did); ``identifier`` the type of
the identifier it went through; ``junk`` the event's strong identifiers rejected as junk and
why; ``refused`` the links this event did not make and why. Their texts: events.decisions.
"""

from __future__ import annotations

from typing import Any

from identity.policy import CONTACT_TYPES, EVIDENCE_TYPES, STRONG_TYPES, Decision, Key


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
