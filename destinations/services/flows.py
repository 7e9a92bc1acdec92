"""Backup abandonment flows in a merchant's Klaviyo: provision them (as drafts), report on them.

Safe by construction: a flow we know of (stored id, or a flow of the same name) is only
read and compared, never changed or re-created; nothing is ever set live (the Flows API
creates every message as a draft, and no PATCH is ever sent). In a dry run only reads go
out; the writes are returned as a plan with their bodies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from config.errors import ApplicationError
from destinations import mapping
from destinations.clients import client_class, kinds_with
from destinations.clients.base import FeatureCheck, HttpRequest, check_feature, outcome_of, probe_key
from destinations.clients.klaviyo import KlaviyoClient, klaviyo_time
from destinations.clients.klaviyo_flows import (
    DRY_RUN_METRIC_ID,
    DRY_RUN_TEMPLATE_ID,
    PLACED_ORDER,
    RECEIVED_EMAIL,
    SPECS,
    FlowInputs,
    FlowKind,
    FlowSpec,
    backup_flow_definition,
    cloned_definition,
    definition_digest,
    differences,
    flow_body,
    flow_values_body,
    live_actions,
    seed_event_body,
    sum_flow_values,
    template_body,
)
from destinations.clients.klaviyo_flows_api import FlowsApiError, KlaviyoFlowsApi
from destinations.models import BackupFlow, Destination
from destinations.services.operations import scope_summary
from destinations.services.outbound import client_for
from destinations.services.queueing import queue_flow_report
from destinations.services.transport import Recorder
from events.models import EventType

FLOW_FEATURES = ("flows", "metrics", "reports")  # of the destination Test's per-feature scope check
WRITE_SCOPES_NOTE = "Creating also needs templates:write (and events:write for a missing metric)."


class FlowProvisioningError(ApplicationError):
    code = "flow_provisioning_failed"


@dataclass(slots=True)
class FlowLine:
    kind: str
    name: str
    outcome: str  # created | exists | differs | planned | waiting | failed
    message: str
    flow_id: str = ""


@dataclass(slots=True)
class ProvisionReport:
    destination: str
    dry_run: bool
    lines: list[FlowLine] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    planned: list[HttpRequest] = field(default_factory=list)


@dataclass(slots=True)
class Discovery:
    """What the account has: our metrics, the conversion metrics, the merchant's own flows."""

    trigger_metric_ids: dict[FlowKind, str]
    native_metric_ids: dict[FlowKind, str]
    native_flows: dict[FlowKind, list[dict[str, Any]]]
    placed_order_ids: tuple[str, ...]
    received_email_id: str


def _api(destination: Destination, *, dry_run: bool) -> KlaviyoFlowsApi:
    if not client_class(destination.kind).supports_backup_flows:
        raise FlowProvisioningError(f"{destination}: backup flows are a Klaviyo feature.", fields={"kind": ["klaviyo"]})
    client = client_for(destination)
    assert isinstance(client, KlaviyoClient)
    return KlaviyoFlowsApi(client, read=Recorder(client, dry_run=False), write=Recorder(client, dry_run=dry_run))


def our_metric_name(destination: Destination, event_type: str) -> str:
    return mapping.metric_name(event_type, overrides=destination.name_overrides, suffix=destination.metric_suffix)


def flow_name(destination: Destination, spec: FlowSpec) -> str:
    return f"{spec.name}{destination.metric_suffix}"


def provision_backup_flows(
    destination: Destination, *, dry_run: bool = False, clone_native: bool = False
) -> ProvisionReport:
    """Create the three backup flows that do not exist yet; report on the ones that do.

    A destination in dry-run mode (requests recorded, never sent) only ever gets a plan.
    """
    dry_run = dry_run or destination.dry_run
    api = _api(destination, dry_run=dry_run)
    report = ProvisionReport(str(destination), dry_run)
    if destination.dry_run:
        report.notes.append("The destination is in dry-run mode: nothing was created, here is the plan.")
    checks = check_flow_scopes(api)
    if any(c.status == "missing" for c in checks):
        report.lines.append(FlowLine("", "", "failed", scope_summary([c for c in checks if c.status == "missing"])))
        return report
    verdicts = ", ".join(f"{c.name} {c.status}" for c in checks)
    report.notes.append(f"Scopes: {verdicts}. {scope_summary(checks)} {WRITE_SCOPES_NOTE}".replace("  ", " "))
    try:
        found = _discover(api, destination, report, dry_run=dry_run)
    except FlowsApiError as exc:
        report.lines.append(FlowLine("", "", "failed", str(exc)))
        return report
    for spec in SPECS.values():
        try:
            report.lines.append(_provision_one(api, destination, spec, found, clone_native=clone_native))
        except FlowsApiError as exc:  # this flow failed; the others are still tried
            report.lines.append(FlowLine(spec.kind, flow_name(destination, spec), "failed", str(exc)))
    report.planned = list(api.planned)
    return report


def check_flow_scopes(api: KlaviyoFlowsApi) -> list[FeatureCheck]:
    """The destination Test's scope probes for the features backup flows use (reads only)."""
    features = [f for f in api.client.features() if f.name in FLOW_FEATURES]
    results = {}
    for feature in features:
        for _, request in feature.probes:
            results.setdefault(probe_key(request), outcome_of(request, api.read(request)))
    return [check_feature(f, results, denied=api.client.scope_denied) for f in features]


def _discover(api: KlaviyoFlowsApi, destination: Destination, report: ProvisionReport, *, dry_run: bool) -> Discovery:
    by_name: dict[str, list[str]] = {}
    for metric in api.metrics():
        by_name.setdefault(str((metric.get("attributes") or {}).get("name")), []).append(str(metric["id"]))
    ours = {
        kind: (by_name.get(our_metric_name(destination, spec.event_type)) or [""])[0] for kind, spec in SPECS.items()
    }
    missing = [kind for kind, metric_id in ours.items() if not metric_id]
    if missing:
        ours.update(_seed_metrics(api, destination, missing, report, dry_run=dry_run))
    stored = set(BackupFlow.objects.filter(destination=destination).values_list("remote_flow_id", flat=True))
    native_ids = {
        kind: next((m for n in spec.native_metric_names for m in by_name.get(n, []) if m != ours[kind]), "")
        for kind, spec in SPECS.items()
    }
    native_flows = {
        kind: [f for f in api.flows_triggered_by(metric_id) if _is_native(f, stored)] if metric_id else []
        for kind, metric_id in native_ids.items()
    }
    placed = by_name.get(PLACED_ORDER, []) + by_name.get(our_metric_name(destination, EventType.PURCHASE), [])
    received = (by_name.get(RECEIVED_EMAIL) or [""])[0]
    if not received:
        report.notes.append("No Received Email metric yet (no email sent from this account): no native exclusion.")
    return Discovery(ours, native_ids, native_flows, tuple(dict.fromkeys(placed)), received)


def _is_native(flow: dict[str, Any], ours: set[str]) -> bool:
    attributes = flow.get("attributes") or {}
    return str(flow.get("id")) not in ours and not attributes.get("archived")


def _seed_metrics(
    api: KlaviyoFlowsApi, destination: Destination, kinds: list[FlowKind], report: ProvisionReport, *, dry_run: bool
) -> dict[FlowKind, str]:
    """One internal event per missing metric (Klaviyo creates a metric from its first event)."""
    now = klaviyo_time(datetime.now(UTC))
    for kind in kinds:
        name = our_metric_name(destination, SPECS[kind].event_type)
        api.send_seed_event(seed_event_body(name, time=now, destination_id=destination.pk))
        report.notes.append(f"Metric {name!r} was missing: {'would send' if dry_run else 'sent'} one internal event.")
    if dry_run:
        return dict.fromkeys(kinds, DRY_RUN_METRIC_ID)
    by_name = {str((m.get("attributes") or {}).get("name")): str(m["id"]) for m in api.metrics()}
    return {kind: by_name.get(our_metric_name(destination, SPECS[kind].event_type), "") for kind in kinds}


def _inputs(found: Discovery, kind: FlowKind, template_id: str) -> FlowInputs:
    return FlowInputs(
        trigger_metric_id=found.trigger_metric_ids[kind],
        template_id=template_id,
        placed_order_metric_ids=found.placed_order_ids,
        received_email_metric_id=found.received_email_id,
        native_flow_ids=tuple(str(f["id"]) for f in found.native_flows[kind]),
    )


def _provision_one(
    api: KlaviyoFlowsApi, destination: Destination, spec: FlowSpec, found: Discovery, *, clone_native: bool
) -> FlowLine:
    name = flow_name(destination, spec)
    row = BackupFlow.objects.filter(destination=destination, kind=spec.kind).first()
    remote = api.flow(row.remote_flow_id) if row and row.remote_flow_id else None
    if remote is None:
        same_name = [f for f in api.flows_named(name) if not (f.get("attributes") or {}).get("archived")]
        remote = api.flow(str(same_name[0]["id"])) if same_name else None
    if remote is not None:
        source = api.flow(row.cloned_from) if row and row.cloned_from else None
        wanted = _definition(spec, found, (row.remote_template_id if row else "") or DRY_RUN_TEMPLATE_ID, source)
        return _report_existing(destination, spec, name, remote, wanted)
    if not found.trigger_metric_ids[spec.kind]:
        metric = our_metric_name(destination, spec.event_type)
        return FlowLine(spec.kind, name, "waiting", f"metric {metric!r} is being created; run again in a minute")
    source = _clone_source(api, found, spec.kind) if clone_native else None
    return _create(api, destination, spec, name, found, source, row)


def _clone_source(api: KlaviyoFlowsApi, found: Discovery, kind: FlowKind) -> dict[str, Any] | None:
    natives = found.native_flows[kind]
    return api.flow(str(natives[0]["id"])) if natives else None


def _definition(spec: FlowSpec, found: Discovery, template_id: str, source: dict[str, Any] | None) -> dict[str, Any]:
    inputs = _inputs(found, spec.kind, template_id)
    if source is None:
        return backup_flow_definition(spec, inputs)
    native = (source.get("attributes") or {}).get("definition") or {}
    return cloned_definition(native, inputs, native_metric_id=found.native_metric_ids[spec.kind])


def _create(
    api: KlaviyoFlowsApi,
    destination: Destination,
    spec: FlowSpec,
    name: str,
    found: Discovery,
    source: dict[str, Any] | None,
    row: BackupFlow | None,
) -> FlowLine:
    template_id = row.remote_template_id if row else ""
    if not template_id and source is None:
        template_id = api.create_template(template_body(spec)) or DRY_RUN_TEMPLATE_ID
    definition = _definition(spec, found, template_id or DRY_RUN_TEMPLATE_ID, source)
    created = api.create_flow(flow_body(name, definition))
    if created is None:
        what = f"cloned from native flow {source['id']}" if source else "from Recapture's definition"
        return FlowLine(spec.kind, name, "planned", f"would create a draft flow ({what})")
    flow_id = str(created.get("id", ""))
    BackupFlow.objects.update_or_create(
        destination=destination,
        kind=spec.kind,
        defaults={
            "name": name,
            "remote_flow_id": flow_id,
            "remote_template_id": "" if template_id == DRY_RUN_TEMPLATE_ID else template_id,
            "trigger_metric_id": found.trigger_metric_ids[spec.kind],
            "native_flow_ids": list(_inputs(found, spec.kind, "").native_flow_ids),
            "cloned_from": str(source["id"]) if source else "",
            "definition_digest": definition_digest(definition),
            "remote_status": str((created.get("attributes") or {}).get("status") or ""),
            "checked_at": timezone.now(),
        },
    )
    return FlowLine(spec.kind, name, "created", "created as a draft", flow_id)


def _report_existing(
    destination: Destination, spec: FlowSpec, name: str, remote: dict[str, Any], wanted: dict[str, Any]
) -> FlowLine:
    attributes = remote.get("attributes") or {}
    definition = attributes.get("definition") or {}
    flow_id, status = str(remote.get("id", "")), str(attributes.get("status") or "")
    BackupFlow.objects.update_or_create(
        destination=destination,
        kind=spec.kind,
        defaults={
            "name": str(attributes.get("name") or name),
            "remote_flow_id": flow_id,
            "remote_status": status,
            "checked_at": timezone.now(),
        },
    )
    changed = differences(wanted, definition)
    live = live_actions(definition)
    parts = [f"exists ({status or 'unknown status'})"]
    if changed:
        parts.append("differs from Recapture's definition in: " + ", ".join(changed))
    if live:
        parts.append(f"{len(live)} message(s) not in draft (set by the merchant; left as they are)")
    return FlowLine(spec.kind, name, "differs" if changed else "exists", "; ".join(parts), flow_id)


# --- Reporting -----------------------------------------------------------------------


def refresh_backup_flow_reports(destination: Destination, *, timeframe: str = "last_30_days") -> int:
    """Recipients, conversions and revenue per backup flow from Klaviyo's flow-values report."""
    rows = list(BackupFlow.objects.filter(destination=destination).exclude(remote_flow_id=""))
    if not rows:
        return 0
    api = _api(destination, dry_run=False)
    try:
        conversion = _conversion_metric_id(api, destination)
        results = api.flow_values(
            flow_values_body([r.remote_flow_id for r in rows], conversion_metric_id=conversion, timeframe=timeframe)
        )
    except FlowsApiError as exc:
        raise FlowProvisioningError(str(exc), http_status=502) from exc
    totals, now = sum_flow_values(results), timezone.now()
    for row in rows:
        values = totals.get(row.remote_flow_id, {})
        row.recipients = int(values.get("recipients", 0))
        row.conversions = int(values.get("conversions", 0))
        row.revenue = Decimal(str(round(values.get("conversion_value", 0.0), 2)))
        row.report_timeframe, row.reported_at = timeframe, now
        row.save(
            update_fields=["recipients", "conversions", "revenue", "report_timeframe", "reported_at", "updated_at"]
        )
    return len(rows)


def _conversion_metric_id(api: KlaviyoFlowsApi, destination: Destination) -> str:
    """The account's Placed Order (the merchant's store integration) first, else Recapture's."""
    names = {str((m.get("attributes") or {}).get("name")): str(m["id"]) for m in reversed(api.metrics())}
    metric_id = names.get(PLACED_ORDER) or names.get(our_metric_name(destination, EventType.PURCHASE))
    if not metric_id:
        raise FlowProvisioningError("No Placed Order metric in this Klaviyo account to count conversions with.")
    return metric_id


def schedule_backup_flow_reports() -> int:
    """The daily refresh: one task per enabled Klaviyo destination that has backup flows.

    One flow-values query per destination a day (each Klaviyo account allows 225 a day).
    """
    ids = list(
        BackupFlow.objects.exclude(remote_flow_id="")
        .filter(destination__enabled=True, destination__kind__in=kinds_with("supports_backup_flows"))
        .values_list("destination_id", flat=True)
        .distinct()
        .order_by("destination_id")
    )
    for destination_id in ids:
        queue_flow_report(destination_id)
    return len(ids)
