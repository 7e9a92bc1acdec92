"""Admin for Loop Returns: the raw webhook log (read-only, reprocess) and known returns."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.utils.html import format_html

from config.admin import EstimatedCountPaginator, LogTableAdminMixin, ReadOnlyAdminMixin, chip
from returns import services
from returns.models import LoopReturn, LoopWebhook

STATE_COLOURS = {"processed": "succeeded", "waiting": "held", "failed": "dead", "received": "pending"}


@admin.register(LoopWebhook)
class LoopWebhookAdmin(LogTableAdminMixin, admin.ModelAdmin):
    list_display = ["received_at", "merchant", "trigger", "return_id", "state_chip", "signature_valid", "error"]
    list_filter = ["state", "trigger", "merchant", "signature_valid"]
    list_select_related = ["merchant"]
    search_fields = ["=return_id", "=body_sha256"]
    ordering = ["-id"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    actions = ["reprocess"]
    fields = [
        "merchant",
        "topic",
        "trigger",
        "return_id",
        "state",
        "error",
        "signature_valid",
        "body_sha256",
        "received_at",
        "processed_at",
        "body_pretty",
    ]
    readonly_fields = fields

    def has_reprocess_permission(self, request) -> bool:
        return request.user.has_perm("returns.change_loopwebhook")

    @admin.display(description="State", ordering="state")
    def state_chip(self, obj: LoopWebhook):
        return chip(obj.get_state_display(), status=STATE_COLOURS.get(obj.state, obj.state))

    @admin.display(description="Body")
    def body_pretty(self, obj: LoopWebhook):
        try:
            text = json.dumps(json.loads(obj.body), indent=2, sort_keys=True)
        except ValueError:
            text = obj.body
        return format_html('<pre style="white-space:pre-wrap;max-width:900px">{}</pre>', text)

    @admin.action(description="Reprocess selected webhooks", permissions=["reprocess"])
    def reprocess(self, request, queryset) -> None:
        count = 0
        for webhook in queryset:
            services.reprocess_loop_webhook(webhook)
            self.log_change(request, webhook, "Queued for reprocessing.")
            count += 1
        self.message_user(request, f"{count} webhooks queued for reprocessing.", messages.SUCCESS)


@admin.register(LoopReturn)
class LoopReturnAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["return_id", "merchant", "state", "email", "loop_updated_at", "updated_at"]
    list_filter = ["state", "merchant"]
    list_select_related = ["merchant"]
    search_fields = ["=return_id", "=email"]
    ordering = ["-id"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    readonly_fields = [
        "merchant",
        "return_id",
        "state",
        "email",
        "customer",
        "payload",
        "loop_updated_at",
        "created_at",
        "updated_at",
    ]
