"""Klaviyo backup abandonment flows: pure payload builders (Flows, Templates, Events, Reporting APIs).

Everything here is data in, JSON:API body out: no ORM, no I/O. The HTTP calls are in
``klaviyo_flows_api.py``; the orchestration (what exists, what to create) in
``destinations/services/flows.py``. Every body validates against the stable Klaviyo
OpenAPI spec (``tests/destinations/test_flow_payloads.py``). docs/FLOWS.md describes the
flows these builders produce.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from events.models import EventType

PLACED_ORDER = "Placed Order"
RECEIVED_EMAIL = "Received Email"
NATIVE_EXCLUSION_DAYS = 7
REPORT_STATISTICS = ("recipients", "conversions", "conversion_value")
DRY_RUN_TEMPLATE_ID = "<template id from POST /api/templates>"
DRY_RUN_METRIC_ID = "<metric id once the seed event is processed>"
SEED_EXTERNAL_ID = "recapture-internal-metric-seed"
UTM_SOURCE, UTM_MEDIUM = "klaviyo", "email"


class FlowKind(StrEnum):
    BROWSE = "browse_abandonment"
    CART = "abandoned_cart"
    CHECKOUT = "abandoned_checkout"


@dataclass(frozen=True, slots=True)
class FlowSpec:
    kind: FlowKind
    title: str
    event_type: str
    native_metric_names: tuple[str, ...]  # what the merchant's own flow of this kind triggers on
    delay_hours: int
    reentry_days: int
    subject: str
    link_property: str  # the event property the email's button links to

    @property
    def name(self) -> str:
        return f"Recapture backup: {self.title}"

    @property
    def campaign(self) -> str:
        """utm_campaign: the flow, as a slug."""
        return "recapture-backup-" + self.kind.value.replace("_", "-")


SPECS: dict[FlowKind, FlowSpec] = {
    FlowKind.BROWSE: FlowSpec(
        FlowKind.BROWSE,
        "Browse Abandonment",
        EventType.VIEW_CONTENT,
        ("Viewed Product",),
        delay_hours=2,
        reentry_days=14,
        subject="Still thinking about {{ event.ProductName|default:'it' }}?",
        link_property="URL",
    ),
    FlowKind.CART: FlowSpec(
        FlowKind.CART,
        "Abandoned Cart",
        EventType.ADD_TO_CART,
        ("Added to Cart",),
        delay_hours=4,
        reentry_days=7,
        subject="You left {{ event.ProductName|default:'something' }} in your cart",
        link_property="URL",
    ),
    FlowKind.CHECKOUT: FlowSpec(
        FlowKind.CHECKOUT,
        "Abandoned Checkout",
        EventType.INITIATE_CHECKOUT,
        ("Checkout Started", "Started Checkout"),
        delay_hours=4,
        reentry_days=7,
        subject="Your checkout is waiting",
        link_property="CheckoutURL",
    ),
}


@dataclass(frozen=True, slots=True)
class FlowInputs:
    """The remote ids one backup flow definition refers to."""

    trigger_metric_id: str
    template_id: str
    placed_order_metric_ids: tuple[str, ...] = ()
    received_email_metric_id: str = ""
    native_flow_ids: tuple[str, ...] = ()


# --- Filters -------------------------------------------------------------------------


def no_order_since_start(metric_id: str) -> dict[str, Any]:
    """Placed Order zero times since starting this flow (checked before every email)."""
    return {
        "type": "profile-metric",
        "metric_id": metric_id,
        "measurement": "count",
        "measurement_filter": {"type": "numeric", "operator": "equals", "value": 0},
        "timeframe_filter": {"type": "date", "operator": "flow-start"},
    }


def no_email_from_flow(received_email_metric_id: str, flow_id: str) -> dict[str, Any]:
    """Received Email zero times in the last 7 days where $flow (the flow's id) equals ``flow_id``."""
    return {
        "type": "profile-metric",
        "metric_id": received_email_metric_id,
        "measurement": "count",
        "measurement_filter": {"type": "numeric", "operator": "equals", "value": 0},
        "timeframe_filter": {
            "type": "date",
            "operator": "in-the-last",
            "unit": "day",
            "quantity": NATIVE_EXCLUSION_DAYS,
        },
        "metric_filters": [{"property": "$flow", "filter": {"type": "string", "operator": "equals", "value": flow_id}}],
    }


def exclusion_groups(inputs: FlowInputs) -> list[dict[str, Any]]:
    """One condition group per condition: Klaviyo ANDs groups (and ORs the conditions inside one)."""
    conditions = [no_order_since_start(m) for m in inputs.placed_order_metric_ids]
    if inputs.received_email_metric_id:
        conditions += [no_email_from_flow(inputs.received_email_metric_id, f) for f in inputs.native_flow_ids]
    return [{"conditions": [c]} for c in conditions]


# --- Flow definitions ----------------------------------------------------------------


def tracking_params(spec: FlowSpec) -> list[dict[str, str]]:
    return [
        {"param": "utm_source", "value": UTM_SOURCE},
        {"param": "utm_medium", "value": UTM_MEDIUM},
        {"param": "utm_campaign", "value": spec.campaign},
    ]


def email_message(spec: FlowSpec, *, template_id: str) -> dict[str, Any]:
    return {
        "name": f"{spec.title} (Recapture backup) email 1",
        "subject_line": spec.subject,
        "preview_text": "We saved it for you.",
        "template_id": template_id,
        "smart_sending_enabled": True,
        "transactional": False,
        "add_tracking_params": True,
        "custom_tracking_params": tracking_params(spec),
    }


def backup_flow_definition(spec: FlowSpec, inputs: FlowInputs) -> dict[str, Any]:
    """Trigger on our metric, wait, then one draft email; the flow filter excludes buyers and native recipients."""
    groups = exclusion_groups(inputs)
    definition: dict[str, Any] = {
        "triggers": [{"type": "metric", "id": inputs.trigger_metric_id}],
        "actions": [
            {
                "temporary_id": "delay",
                "type": "time-delay",
                "links": {"next": "email"},
                "data": {"unit": "hours", "value": spec.delay_hours},
            },
            {
                "temporary_id": "email",
                "type": "send-email",
                "data": {"status": "draft", "message": email_message(spec, template_id=inputs.template_id)},
            },
        ],
        "entry_action_id": "delay",
        "reentry_criteria": {"duration": spec.reentry_days, "unit": "day"},
    }
    if groups:  # nullable fields are left out rather than sent as null
        definition["profile_filter"] = {"condition_groups": groups}
    return definition


def flow_body(name: str, definition: dict[str, Any]) -> dict[str, Any]:
    """POST /api/flows (FlowCreateQuery)."""
    return {"data": {"type": "flow", "attributes": {"name": name, "definition": definition}}}


# --- Cloning a native flow -----------------------------------------------------------

_LINK_KEYS = ("next", "next_if_true", "next_if_false")


def cloned_definition(native: dict[str, Any], inputs: FlowInputs, *, native_metric_id: str) -> dict[str, Any]:
    """A native flow's definition made creatable: our trigger, temporary ids, every message a draft.

    Ids are not allowed on create (actions and messages get ``temporary_id``s); links and the
    entry point follow the renaming; the native metric's trigger filter conditions are
    re-pointed at our metric; our exclusion groups are added to the native flow filter.
    """
    definition = copy.deepcopy(native)
    renamed = {str(a.get("id")): f"action-{n}" for n, a in enumerate(definition.get("actions") or []) if a.get("id")}
    for action in definition.get("actions") or []:
        if action.get("id"):
            action["temporary_id"] = renamed[str(action.pop("id"))]
        for key in _LINK_KEYS:
            if isinstance(action.get("links"), dict) and action["links"].get(key) is not None:
                action["links"][key] = renamed.get(str(action["links"][key]), action["links"][key])
        _draft_messages(action.get("data"))
    definition["entry_action_id"] = renamed.get(
        str(definition.get("entry_action_id")), definition.get("entry_action_id")
    )
    definition["triggers"] = [
        _our_trigger(definition.get("triggers") or [], inputs.trigger_metric_id, native_metric_id)
    ]
    groups = list(((definition.get("profile_filter") or {}).get("condition_groups")) or [])
    groups += [g for g in exclusion_groups(inputs) if g not in groups]
    if groups:
        definition["profile_filter"] = {"condition_groups": groups}
    else:
        definition.pop("profile_filter", None)
    return definition


def _draft_messages(data: Any) -> None:
    if not isinstance(data, dict):
        return
    if "status" in data:
        data["status"] = "draft"
    message = data.get("message")
    if isinstance(message, dict):
        message.pop("id", None)


def _our_trigger(triggers: list[dict[str, Any]], metric_id: str, native_metric_id: str) -> dict[str, Any]:
    trigger: dict[str, Any] = {"type": "metric", "id": metric_id}
    native = next((t for t in triggers if t.get("type") == "metric"), None)
    trigger_filter = copy.deepcopy((native or {}).get("trigger_filter"))
    if trigger_filter:
        for group in trigger_filter.get("condition_groups") or []:
            for condition in group.get("conditions") or []:
                if condition.get("metric_id") == native_metric_id:
                    condition["metric_id"] = metric_id
        trigger["trigger_filter"] = trigger_filter
    return trigger


# --- Comparing what exists with what we would create ---------------------------------


def definition_digest(definition: dict[str, Any]) -> str:
    """A stable digest of the parts we own (ids and message content aside)."""
    return hashlib.sha256(json.dumps(comparable(definition), sort_keys=True).encode()).hexdigest()[:16]


def comparable(definition: dict[str, Any]) -> dict[str, Any]:
    return {
        "triggers": [{"type": t.get("type"), "id": t.get("id")} for t in definition.get("triggers") or []],
        "profile_filter": definition.get("profile_filter") or None,
        "reentry_criteria": definition.get("reentry_criteria") or None,
        "delays": [(a.get("data") or {}).get("value") for a in _actions(definition, "time-delay")],
        "emails": len(_actions(definition, "send-email")),
    }


def _actions(definition: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [a for a in definition.get("actions") or [] if a.get("type") == kind]


def differences(wanted: dict[str, Any], remote: dict[str, Any]) -> list[str]:
    """What differs between the definition we would create and the remote one (names of the parts)."""
    ours, theirs = comparable(wanted), comparable(remote)
    labels = {
        "triggers": "trigger metric",
        "profile_filter": "flow filter",
        "reentry_criteria": "re-entry criteria",
        "delays": "time delay",
        "emails": "email actions",
    }
    return [labels[key] for key in labels if ours[key] != theirs[key]]


def live_actions(definition: dict[str, Any]) -> list[str]:
    """Message actions that are not drafts (the merchant turned them on: we never do)."""
    return [
        str(a.get("id") or a.get("temporary_id"))
        for a in definition.get("actions") or []
        if isinstance(a.get("data"), dict) and a["data"].get("status") not in (None, "draft")
    ]


# --- Templates, seed events, reports -------------------------------------------------


def template_html(spec: FlowSpec) -> str:
    """A minimal email that uses the trigger event's properties (Klaviyo template variables)."""
    link = "{{ event." + spec.link_property + "|default:organization.url }}"
    return (
        "<html><body style='font-family:sans-serif'>"
        "<h1>{{ event.ProductName|default:'Your picks' }}</h1>"
        "{% if event.ImageURL %}<img src='{{ event.ImageURL }}' alt='{{ event.ProductName }}' width='300'>{% endif %}"
        f"<p><a href='{link}' style='padding:10px 16px;background:#111;color:#fff'>Pick up where you left off</a></p>"
        "<p>{% unsubscribe %}</p></body></html>"
    )


def template_body(spec: FlowSpec) -> dict[str, Any]:
    """POST /api/templates: a CODE template (custom HTML)."""
    return {
        "data": {
            "type": "template",
            "attributes": {"name": f"{spec.name} email", "editor_type": "CODE", "html": template_html(spec)},
        }
    }


def seed_event_body(metric_name: str, *, time: str, destination_id: int) -> dict[str, Any]:
    """POST /api/events: one internal event that makes Klaviyo create the metric.

    ``backfill``: "When true, the event is recorded but does NOT trigger flows" (spec), so no
    flow fires on it, ours or the merchant's. The profile has an external_id only (no email,
    no phone), so nothing could message it anyway; the properties say what it is, so a
    merchant who sees it in the metric's feed knows.
    """
    return {
        "data": {
            "type": "event",
            "attributes": {
                "properties": {"RecaptureInternal": True, "Purpose": "creates the metric for backup flows"},
                "time": time,
                "unique_id": f"recapture-metric-seed:{destination_id}:{metric_name}",
                "backfill": True,
                "metric": {"data": {"type": "metric", "attributes": {"name": metric_name}}},
                "profile": {
                    "data": {"type": "profile", "attributes": {"external_id": f"{SEED_EXTERNAL_ID}-{destination_id}"}}
                },
            },
        }
    }


def flow_values_body(
    flow_ids: Sequence[str], *, conversion_metric_id: str, timeframe: str = "last_30_days"
) -> dict[str, Any]:
    """POST /api/flow-values-reports for our flows (grouped by flow, message and channel by default)."""
    quoted = ",".join(json.dumps(str(f)) for f in flow_ids)
    return {
        "data": {
            "type": "flow-values-report",
            "attributes": {
                "statistics": list(REPORT_STATISTICS),
                "timeframe": {"key": timeframe},
                "conversion_metric_id": conversion_metric_id,
                "filter": f"contains-any(flow_id,[{quoted}])",
            },
        }
    }


def sum_flow_values(results: Iterable[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """flow id -> statistic -> total over the flow's messages and channels."""
    totals: dict[str, dict[str, float]] = {}
    for row in results:
        flow_id = str((row.get("groupings") or {}).get("flow_id", ""))
        if not flow_id:
            continue
        flow = totals.setdefault(flow_id, dict.fromkeys(REPORT_STATISTICS, 0.0))
        for name in REPORT_STATISTICS:
            value = (row.get("statistics") or {}).get(name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                flow[name] += float(value)
    return totals
