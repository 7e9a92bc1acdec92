"""Admin for destinations (write-only keys, health badge, test) and deliveries (replay)."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme

from config.admin import (
    DELIVERY_STATES,
    EstimatedCountPaginator,
    LogTableAdminMixin,
    chip,
    delivery_chip,
    delivery_state_q,
)
from config.forms import MappingField
from destinations import services
from destinations.admin_flows import FLOW_ACTIONS
from destinations.admin_test import describe_test, health_block, report_html
from destinations.models import Delivery, DeliveryAttempt, DeliveryStatus, Destination
from events.models import Event, EventType

EXCERPT_CHARS = 300


class DestinationForm(forms.ModelForm):
    """The API key is write-only: never rendered back, left blank keeps the stored key."""

    api_key = forms.CharField(
        label="API key",
        widget=forms.PasswordInput(render_value=False),
        required=False,
        strip=True,
        help_text="Write-only. Leave blank to keep the current key.",
    )
    event_types = forms.MultipleChoiceField(
        choices=[(t.value, t.value) for t in EventType],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Standard event types to forward.",
    )
    custom_event_types = forms.CharField(
        required=False, help_text="Custom event names to forward too, comma separated (opt-in)."
    )
    name_overrides = MappingField(
        required=False,
        label="Metric name overrides",
        help_text="One per line: event type = the name it gets in the platform, e.g. Purchase = Order Placed.",
    )

    class Meta:
        model = Destination
        fields = [
            "name",
            "kind",
            "api_key",
            "enabled",
            "dry_run",
            "event_types",
            "custom_event_types",
            "forward_reidentified",
            "forward_returns",
            "profile_sync",
            "metric_suffix",
            "list_id",
            "name_overrides",
            "active_on_site",
        ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._stored_key = self.instance.api_key if self.instance.pk else ""
        selected = list(self.instance.event_types or [])  # a new destination shows the model default
        standard = {t.value for t in EventType}
        self.initial["event_types"] = [t for t in selected if t in standard]
        self.initial["custom_event_types"] = ", ".join(t for t in selected if t not in standard)

    def clean_api_key(self) -> str:
        key = self.cleaned_data.get("api_key", "")
        if not key and not self._stored_key:
            raise forms.ValidationError("An API key is required for a new destination.")
        return key or self._stored_key

    def clean(self):
        data = super().clean()
        custom = [name.strip() for name in data.get("custom_event_types", "").split(",") if name.strip()]
        data["event_types"] = list(data.get("event_types") or []) + custom
        return data

    @property
    def new_api_key(self) -> str:
        """The key typed in this submission ("" when the stored key is kept)."""
        key = self.cleaned_data.get("api_key", "")
        return key if key != self._stored_key else ""

    def save(self, commit: bool = True):
        self.instance.event_types = self.cleaned_data["event_types"]
        return super().save(commit)


def apply_new_api_keys(forms_: list[forms.Form]) -> None:
    """After saving: a typed key goes through set_api_key (last 4 shown, a paused destination resumes)."""
    for form in forms_:
        if getattr(form, "new_api_key", "") and form.instance.pk and not form.cleaned_data.get("DELETE"):
            services.set_api_key(form.instance, api_key=form.new_api_key)


def status_badge(destination: Destination):
    return health_block(destination)


def test_button(destination: Destination):
    if destination.pk is None:
        return "Save first, then test."
    url = reverse("admin:destinations_destination_test", args=[destination.pk])
    return format_html(
        '<button type="button" class="button rc-test-destination" data-url="{}" data-destination="{}">Test</button>'
        ' <span class="rc-test-result" data-destination="{}" role="status"></span>',
        url,
        destination.pk,
        destination.pk,
    )


class KeyEndingMixin:
    @admin.display(description="Saved key ends in")
    def key_ending(self, obj: Destination) -> str:
        return f"…{obj.api_key_last4}" if obj.api_key_last4 else "-"


class DestinationInline(KeyEndingMixin, admin.StackedInline):
    model = Destination
    form = DestinationForm
    extra = 0
    readonly_fields = ["key_ending", "health", "test"]
    fields = [*DestinationForm.Meta.fields[:3], "key_ending", *DestinationForm.Meta.fields[3:], "health", "test"]

    @admin.display(description="Status")
    def health(self, obj: Destination):
        return status_badge(obj)

    @admin.display(description="Test")
    def test(self, obj: Destination):
        return test_button(obj)


@admin.register(Destination)
class DestinationAdmin(KeyEndingMixin, admin.ModelAdmin):
    form = DestinationForm
    list_display = ["name", "merchant", "kind", "key_hint", "enabled", "dry_run", "health"]
    list_filter = ["kind", "status", "enabled", "dry_run"]
    list_select_related = ["merchant"]
    search_fields = ["name", "merchant__name", "=merchant__shop_domain"]
    readonly_fields = ["key_ending", "health", "test"]

    actions = ["test_destinations", "replay_dead", "backfill_7_days", *FLOW_ACTIONS]

    def get_fields(self, request, obj=None):
        return ["merchant", *DestinationInline.fields]

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        apply_new_api_keys([form])

    @admin.display(description="API key")
    def key_hint(self, obj: Destination) -> str:
        return f"…{obj.api_key_last4}" if obj.api_key_last4 else "-"

    @admin.display(description="Status", ordering="status")
    def health(self, obj: Destination):
        return status_badge(obj)

    @admin.display(description="Test")
    def test(self, obj: Destination):
        return test_button(obj)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [path("<int:pk>/test/", view(self.test_view), name="destinations_destination_test"), *super().get_urls()]

    def test_view(self, request, pk: int):
        """POST: test one destination, report the platform's answer, go back where we came from."""
        destination = get_object_or_404(Destination.objects.select_related("merchant"), pk=pk)
        if request.method != "POST" or not self.has_change_permission(request, destination):
            raise PermissionDenied
        if "application/json" in request.headers.get("Accept", ""):  # the in-place button: edits on the page stay
            report, result = self._run_test(request, destination)
            destination.refresh_from_db()
            return JsonResponse(
                {
                    "ok": report.ok,
                    "text": report.text,
                    "html": report_html(report, result),
                    "badge": report.badge,
                    "badge_html": format_html(
                        "{} <small>just now</small>", chip(report.badge, status=report.badge_status)
                    ),
                }
            )
        self._test(request, destination)
        back = request.headers.get("referer", "")
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = reverse("admin:destinations_destination_change", args=[pk])
        return HttpResponseRedirect(back)

    def _run_test(self, request, destination: Destination):
        result = services.test_destination(destination)
        report = describe_test(destination.get_kind_display(), result)
        status = f"HTTP {result.status_code}" if result.status_code else "no response"
        self.log_change(request, destination, f"Tested: {'ok' if result.ok else 'failed'} ({status}).")
        return report, result

    def _test(self, request, destination: Destination) -> None:
        report, _ = self._run_test(request, destination)
        self.message_user(
            request, f"{destination.name}: {report.text}", messages.SUCCESS if report.ok else messages.ERROR
        )

    @admin.action(description="Test selected destinations", permissions=["change"])
    def test_destinations(self, request, queryset) -> None:
        for destination in queryset.select_related("merchant"):
            self._test(request, destination)

    @admin.action(description="Replay all dead deliveries", permissions=["change"])
    def replay_dead(self, request, queryset) -> None:
        for destination in queryset:
            count = services.replay_dead_deliveries(destination=destination)
            self.log_change(request, destination, f"Replayed {count} dead deliveries.")
            self.message_user(request, f"{destination}: {count} dead deliveries queued again.", messages.SUCCESS)

    @admin.action(description="Backfill the last 7 days of events", permissions=["change"])
    def backfill_7_days(self, request, queryset) -> None:
        for destination in queryset:
            count = services.backfill_destination(destination, days=7)
            self.log_change(request, destination, f"Backfilled 7 days ({count} deliveries).")
            self.message_user(request, f"{destination}: {count} events queued for backfill.", messages.SUCCESS)


# --- Deliveries (a log table: read-only, replay is the one thing staff do) -----------


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def request_body_block(attempt: DeliveryAttempt):
    """The recorded request body (dry-run attempts), folded: what would have been sent."""
    if attempt.request_body is None:
        return ""
    return format_html(
        '<details class="rc-request-body"><summary>Request body</summary>'
        '<pre style="white-space:pre-wrap;max-width:900px;max-height:400px;overflow:auto">{}</pre></details>',
        json.dumps(attempt.request_body, indent=2, sort_keys=True),
    )


class DeliveryStateFilter(admin.SimpleListFilter):
    """The console's delivery states (retrying and dry run apart), the same words as every other page."""

    title = "status"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [(state, state) for state in DELIVERY_STATES]

    def queryset(self, request, queryset):
        return queryset.filter(delivery_state_q(self.value())) if self.value() else queryset


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ["created_at", "attempt", "step", "method", "url", "status_code", "duration_ms", "error_kind", "excerpt"]
    readonly_fields = fields
    ordering = ["-created_at", "-id"]

    @admin.display(description="Response / request")
    def excerpt(self, obj: DeliveryAttempt):
        if obj.dry_run:
            return format_html("dry run: not sent {}", request_body_block(obj))
        return excerpt(obj.response_body or obj.error)

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(LogTableAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "event_link",
        "merchant",
        "destination_name",
        "status_chip",
        "attempts",
        "when",
        "error_excerpt",
    ]
    list_filter = [DeliveryStateFilter, "destination__kind", "destination", "destination__merchant", "reidentified"]
    list_select_related = ["event", "destination", "destination__merchant"]
    search_fields = ["=event__event_id", "=idempotency_key"]
    ordering = ["-id"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50
    inlines = [DeliveryAttemptInline]
    actions = ["replay"]
    change_list_template = "admin/destinations/delivery/change_list.html"
    readonly_fields = [
        "event_link",
        "destination",
        "status",
        "attempts",
        "next_attempt_at",
        "leased_until",
        "idempotency_key",
        "reidentified",
        "backfill",
        "dry_run",
        "last_error",
        "note",
        "created_at",
        "updated_at",
        "delivered_at",
    ]
    fields = readonly_fields

    def has_replay_permission(self, request) -> bool:
        return request.user.has_perm("destinations.change_delivery")

    @admin.display(description="Event")
    def event_link(self, obj: Delivery):
        url = reverse("admin:events_event_change", args=[obj.event_id])
        return format_html('<a href="{}" title="{}">{}</a>', url, obj.event.event_id, obj.event.type)

    @admin.display(description="Merchant")
    def merchant(self, obj: Delivery) -> str:
        return obj.destination.merchant.name

    @admin.display(description="Destination", ordering="destination__name")
    def destination_name(self, obj: Delivery) -> str:
        return obj.destination.name

    @admin.display(description="Status", ordering="status")
    def status_chip(self, obj: Delivery):
        return delivery_chip(obj.status, attempts=obj.attempts, dry_run=obj.dry_run)

    @admin.display(description="Delivered / next try")
    def when(self, obj: Delivery) -> str:
        if obj.delivered_at:
            return obj.delivered_at.strftime("%b %d, %H:%M:%S")
        if obj.status in (DeliveryStatus.PENDING, DeliveryStatus.SENDING):
            return "next " + obj.next_attempt_at.strftime("%b %d, %H:%M:%S")
        return "-"

    @admin.display(description="Last error")
    def error_excerpt(self, obj: Delivery) -> str:
        return excerpt(obj.last_error, 120)

    @admin.action(description="Replay selected deliveries", permissions=["replay"])
    def replay(self, request, queryset) -> None:
        count = 0
        for delivery in queryset.select_related("destination", "event"):
            services.replay_delivery(delivery)
            self.log_change(request, delivery, "Replayed.")
            count += 1
        self.message_user(request, f"{count} deliveries queued for replay.", messages.SUCCESS)


def render_event_deliveries(event: Event):
    """Every delivery of one event with its attempts (two queries), for the event page."""
    deliveries = list(
        Delivery.objects.filter(event=event).select_related("destination").prefetch_related("attempt_log")
    )
    if not deliveries:
        return "No deliveries (yet)."
    return format_html_join("", "{}", ((_delivery_block(d),) for d in deliveries))


def _delivery_block(d: Delivery):
    attempts = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{} {}</td><td class='rc-status-code'>{}</td><td>{} ms</td><td>{}</td>"
        "<td><code style='white-space:pre-wrap;word-break:break-all'>{}</code></td></tr>",
        (
            (
                a.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                a.step,
                a.method,
                a.url,
                a.status_code or ("dry run: not sent" if a.dry_run else a.error_kind or "-"),
                a.duration_ms,
                a.error_kind,
                request_body_block(a) if a.dry_run else excerpt(a.response_body or a.error),
            )
            for a in d.attempt_log.all()
        ),
    )
    url = reverse("admin:destinations_delivery_change", args=[d.pk])
    return format_html(
        '<div class="rc-delivery"><p><a href="{}">{}</a> {} attempts: {}</p>'
        "<table><thead><tr><th>When</th><th>Step</th><th>Request</th><th>Status</th><th>Duration</th>"
        "<th>Error</th><th>Response / request</th></tr></thead><tbody>{}</tbody></table></div>",
        url,
        d.destination.name,
        delivery_chip(d.status, attempts=d.attempts, dry_run=d.dry_run),
        d.attempts,
        attempts,
    )


from destinations import admin_erasure  # noqa: E402, F401  (the erasure record's platform requests)
