"""Admin for backup abandonment flows: the destination actions and the read-only flow table (CSV)."""

from __future__ import annotations

import csv
import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import path

from destinations.clients import kinds_with
from destinations.models import BackupFlow
from destinations.selectors import list_backup_flow_rows
from destinations.services.flows import FlowProvisioningError, provision_backup_flows, refresh_backup_flow_reports
from events.models import Merchant

LEVELS = {
    "created": messages.SUCCESS,
    "exists": messages.SUCCESS,
    "planned": messages.INFO,
    "differs": messages.WARNING,
    "waiting": messages.WARNING,
    "failed": messages.ERROR,
}
CSV_COLUMNS = [
    "merchant",
    "destination",
    "flow",
    "klaviyo_flow_id",
    "klaviyo_status",
    "recipients",
    "conversions",
    "revenue",
    "report_timeframe",
    "reported_at",
    "resolved_deliveries",
    "native_deliveries",
    "identification_lift_percent",
]


def _klaviyo_only(modeladmin, request, queryset):
    chosen = list(queryset.select_related("merchant"))
    able = set(kinds_with("supports_backup_flows"))
    for destination in (d for d in chosen if d.kind not in able):
        modeladmin.message_user(request, f"{destination}: backup flows are a Klaviyo feature.", messages.ERROR)
    return [d for d in chosen if d.kind in able]


def _provision(modeladmin, request, queryset, *, clone_native: bool) -> None:
    for destination in _klaviyo_only(modeladmin, request, queryset):
        report = provision_backup_flows(destination, clone_native=clone_native)
        summary = ", ".join(f"{line.kind or 'request'}: {line.outcome}" for line in report.lines)
        modeladmin.log_change(request, destination, f"Provisioned backup flows ({summary}).")
        for note in report.notes:
            modeladmin.message_user(request, f"{destination}: {note}", messages.INFO)
        for line in report.lines:
            label = f"{line.name} [{line.flow_id}]" if line.flow_id else (line.name or "Klaviyo")
            modeladmin.message_user(request, f"{destination}: {label}: {line.message}", LEVELS[line.outcome])


@admin.action(description="Provision backup flows in Klaviyo (drafts; never duplicates)", permissions=["change"])
def provision_flows(modeladmin, request, queryset) -> None:
    _provision(modeladmin, request, queryset, clone_native=False)


@admin.action(description="Provision backup flows, cloning the merchant's own flows", permissions=["change"])
def provision_flows_cloned(modeladmin, request, queryset) -> None:
    _provision(modeladmin, request, queryset, clone_native=True)


@admin.action(description="Dry run: show the backup flow bodies (nothing is created)", permissions=["change"])
def plan_flows(modeladmin, request, queryset):
    plans = []
    for destination in _klaviyo_only(modeladmin, request, queryset):
        report = provision_backup_flows(destination, dry_run=True)
        bodies = [
            {"step": r.step, "method": r.method, "url": r.url, "body": json.dumps(r.json, indent=2)}
            for r in report.planned
        ]
        plans.append({"destination": destination, "report": report, "bodies": bodies})
    if not plans:
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": "Backup flows: dry run",
        "opts": modeladmin.model._meta,
        "plans": plans,
        "selected": [p["destination"].pk for p in plans],
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/destinations/destination/backup_flows_plan.html", context)


@admin.action(description="Refresh backup flow reports (Klaviyo reporting API)", permissions=["change"])
def refresh_flow_reports(modeladmin, request, queryset) -> None:
    for destination in _klaviyo_only(modeladmin, request, queryset):
        try:
            count = refresh_backup_flow_reports(destination)
        except FlowProvisioningError as exc:
            modeladmin.message_user(request, f"{destination}: report failed: {exc.message}", messages.ERROR)
            continue
        modeladmin.message_user(request, f"{destination}: {count} backup flow reports refreshed.", messages.SUCCESS)


FLOW_ACTIONS = [plan_flows, provision_flows, provision_flows_cloned, refresh_flow_reports]


@admin.register(BackupFlow)
class BackupFlowAdmin(admin.ModelAdmin):
    list_display = ["name", "destination", "kind", "remote_flow_id", "remote_status", "recipients", "conversions",
                    "revenue", "reported_at"]  # fmt: skip
    list_filter = ["kind", "remote_status", "destination__merchant"]
    list_select_related = ["destination", "destination__merchant"]
    search_fields = ["=remote_flow_id", "name", "destination__merchant__name"]
    readonly_fields = [f.name for f in BackupFlow._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        view = self.admin_site.admin_view(self.export_view)
        return [path("export.csv", view, name="destinations_backupflow_export"), *super().get_urls()]

    def export_view(self, request):
        """CSV of the merchant dashboard's flow table (?merchant=<id>)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            merchant = Merchant.objects.get(pk=int(request.GET.get("merchant", "")))
        except (ValueError, Merchant.DoesNotExist):
            return HttpResponse("?merchant=<id> of an existing merchant is required.", status=400)
        response = HttpResponse(content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="backup-flows-{merchant.pk}.csv"'
        writer = csv.writer(response)
        writer.writerow(CSV_COLUMNS)
        for row in list_backup_flow_rows(merchant):
            flow = row.flow
            writer.writerow([merchant.name, flow.destination.name, flow.name, flow.remote_flow_id, flow.remote_status,
                             flow.recipients, flow.conversions, flow.revenue, flow.report_timeframe,
                             flow.reported_at.isoformat() if flow.reported_at else "", row.resolved, row.native,
                             "" if row.lift_percent is None else row.lift_percent])  # fmt: skip
        return response
