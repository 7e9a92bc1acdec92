"""Admin for Loop Returns: the raw webhook log (read-only, reprocess) and known returns."""

from __future__ import annotations

from django.contrib import admin

from config.admin import EstimatedCountPaginator, ReadOnlyAdminMixin, WebhookLogAdminMixin
from returns import services
from returns.models import LoopReturn, LoopWebhook, WebhookState

STATE_COLOURS = {  # state -> chip colour
    WebhookState.PROCESSED: "succeeded",
    WebhookState.WAITING: "held",
    WebhookState.FAILED: "dead",
    WebhookState.RECEIVED: "pending",
}


@admin.register(LoopWebhook)
class LoopWebhookAdmin(WebhookLogAdminMixin, admin.ModelAdmin):
    list_display = ["received_at", "merchant", "trigger", "return_id", "state_chip", "signature_valid", "error"]
    list_filter = ["state", "trigger", "merchant", "signature_valid"]
    list_select_related = ["merchant"]
    search_fields = ["=return_id", "=body_sha256"]
    ordering = ["-id"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    state_colours = STATE_COLOURS
    reprocess_perm = "returns.change_loopwebhook"
    reprocess_webhook = staticmethod(services.reprocess_loop_webhook)
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
