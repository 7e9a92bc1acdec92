"""The merchant console: merchants (onboarding, snippets, secrets, dashboard) and events (live stream).

Top layer: it shows what every app holds about a merchant (destinations inline, returns
actions, deliveries per event), so no app below imports it.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q
from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from config.admin import (
    CHIP_COLOURS,
    DELIVERY_STATES,
    IDENTIFICATION_WORDS,
    EstimatedCountPaginator,
    LogTableAdminMixin,
    chip,
    delivery_state_q,
    identification_chip,
)
from config.forms import LinesField
from console import (
    dashboard,
    profile_admin,  # noqa: F401  (registers the profile page with its re-send action)
    stream,
)
from console.charts import dashboard_charts
from console.sections import merchant_sections
from destinations.admin import DestinationInline, apply_new_api_keys, render_event_deliveries
from destinations.models import Delivery, Destination
from events import problems, selectors, services
from events.consent import describe as describe_consent
from events.decisions import describe as describe_decision
from events.models import Event, EventType, Identification, Merchant, MerchantAlert
from identity.models import Profile
from returns.services import send_test_return_events, set_loop_webhook_secret

admin.site.site_header = "Recapture console"
admin.site.site_title = "Recapture"
admin.site.index_title = "Merchants, events, identities and deliveries"
admin.site.enable_nav_sidebar = False  # 300 px more for the lists at 1440 px; the console nav bar links the main pages

# --- Merchants ---------------------------------------------------------------------


def copyable(text: str, *, element_id: str):
    if not text:
        return "-"
    return format_html(
        '<pre id="{}" class="rc-copy" style="white-space:pre-wrap;max-width:720px;max-height:220px;overflow:auto">{}'
        '</pre><button type="button" class="button rc-copy-btn" data-target="{}">Copy</button>',
        element_id,
        text,
        element_id,
    )


class MerchantForm(forms.ModelForm):
    allowed_origins = LinesField(
        required=False,
        help_text="One per line: the store's addresses the pixel runs on, e.g. https://acme.com and "
        "https://www.acme.com (scheme and host, no path). Add <code>null</code> for Shopify's custom-pixel sandbox.",
    )
    blocked_identifier_values = LinesField(
        required=False,
        label="Blocked identifier values",
        help_text="One per line: values that never link profiles (a shared test email, a placeholder phone).",
    )
    forwarded_traits = LinesField(
        required=False,
        help_text="One per line: custom trait names forwarded to Klaviyo and Loops besides the standard ones "
        "(first_name, last_name, phone, city, region, country, zip). Others are stored, not sent.",
    )
    loop_webhook_secret = forms.CharField(
        label="Set Loop webhook secret",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Write-only. Paste the secret Loop shows for the webhook; leave blank to keep the current one.",
    )

    class Meta:
        model = Merchant
        fields = [
            "name",
            "shop_domain",
            "allowed_origins",
            "timezone",
            "phone_region",
            "is_active",
            "blocked_identifier_values",
            "reidentify_lookback_hours",
            "forwarded_traits",
            "consent_policy",
            "attribution_window_days",
        ]

    def clean_allowed_origins(self) -> list[str]:
        origins = self.cleaned_data["allowed_origins"]
        bad = [o for o in origins if o != "null" and not ORIGIN_RE.match(o)]
        if bad:
            raise forms.ValidationError(
                f"Not an origin (scheme://host[:port], no path): {', '.join(bad)}. Example: https://acme.com"
            )
        return [o.rstrip("/") for o in origins]


ORIGIN_RE = re.compile(r"^https?://[^/\s?#]+/?$", re.IGNORECASE)


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    form = MerchantForm
    list_display = ["name", "shop_domain", "is_active", "write_key_hint", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "=shop_domain"]
    ordering = ["name"]
    readonly_fields = [
        "write_key",
        "write_key_rotated_at",
        "pixel_snippet",
        "shopify_pixel_code",
        "returns_webhook_url",
        "returns_webhook_secret_hint",
        "created_at",
    ]
    fieldsets = [
        (None, {"fields": ["name", "shop_domain", "allowed_origins", "timezone", "phone_region", "is_active"]}),
        ("Pixel", {"fields": ["write_key", "write_key_rotated_at", "pixel_snippet", "shopify_pixel_code"]}),
        (
            "Loop Returns webhook",
            {"fields": ["returns_webhook_url", "returns_webhook_secret_hint", "loop_webhook_secret"]},
        ),
        ("Identity", {"fields": ["blocked_identifier_values", "reidentify_lookback_hours", "forwarded_traits"]}),
        ("Consent and attribution", {"fields": ["consent_policy", "attribution_window_days"]}),
        (None, {"fields": ["created_at"]}),
    ]
    actions = ["rotate_write_key", "rotate_returns_webhook_secret", "send_test_return_events"]
    inlines = [DestinationInline]
    change_form_template = "admin/events/merchant/change_form.html"

    @admin.display(description="Write key")
    def write_key_hint(self, obj: Merchant) -> str:
        return f"{obj.write_key[:7]}…{obj.write_key[-4:]}"

    @admin.display(description="Pixel <script> snippet")
    def pixel_snippet(self, obj: Merchant):
        return copyable(selectors.get_pixel_snippet(obj) if obj.pk else "", element_id="rc-pixel-snippet")

    @admin.display(description="Shopify Custom Pixel code")
    def shopify_pixel_code(self, obj: Merchant):
        code = selectors.get_shopify_custom_pixel_code(obj) if obj.pk else ""
        return copyable(code, element_id="rc-shopify-pixel")

    @admin.display(description="Webhook URL")
    def returns_webhook_url(self, obj: Merchant):
        if obj.pk is None:
            return "-"
        return copyable(selectors.get_returns_webhook_url(obj), element_id="rc-webhook-url")

    @admin.display(description="Webhook secret")
    def returns_webhook_secret_hint(self, obj: Merchant) -> str:
        return (
            "Hidden. A generated secret is shown once, after creation or rotation (action “Rotate returns "
            "webhook secret”); or paste the secret Loop shows below."
        )

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    def has_rotate_secret_permission(self, request) -> bool:
        return request.user.is_superuser

    def get_fieldsets(self, request, obj=None):
        """The Loop webhook secret (which signs return webhooks) is seen and set by superusers only."""
        fieldsets = super().get_fieldsets(request, obj)
        if self.has_rotate_secret_permission(request):
            return fieldsets
        return [
            (name, {**opts, "fields": [f for f in opts["fields"] if f != "loop_webhook_secret"]})
            for name, opts in fieldsets
        ]

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        secret = form.cleaned_data.get("loop_webhook_secret", "")
        if secret and self.has_rotate_secret_permission(request):
            set_loop_webhook_secret(obj, secret=secret)
            obj.secret_from_loop = True

    def construct_change_message(self, request, form, formsets, add=False):
        message = super().construct_change_message(request, form, formsets, add)
        if form.cleaned_data.get("loop_webhook_secret"):
            message.append({"changed": {"fields": ["Loop webhook secret (value not logged)"]}})
        return message

    def response_add(self, request, obj, post_url_continue=None):
        if not getattr(obj, "secret_from_loop", False) and self.has_rotate_secret_permission(request):
            self._show_secret(request, obj, "created")  # Support is not shown it: a superuser rotates it
        return super().response_add(request, obj, post_url_continue)

    def _show_secret(self, request, obj: Merchant, verb: str) -> None:
        """Shown once through the messages framework, stored server-side (MESSAGE_STORAGE is the
        session, in the database): never in the signed-but-readable messages cookie."""
        self.message_user(
            request,
            format_html(
                "{}: returns webhook secret {} {} — copy it now, it will not be shown again.",
                obj,
                verb,
                format_html("<code class='rc-secret'>{}</code>", obj.returns_webhook_secret),
            ),
            messages.WARNING,
        )

    def _confirm_first(self, request, queryset, *, action: str, title: str, consequences: list[str]):
        """Destructive actions ask first (as Django's delete does): a page saying what happens; None once confirmed."""
        if request.POST.get("confirmed") == "yes":
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "objects": list(queryset),
            "action": action,
            "consequences": consequences,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/confirm_action.html", context)

    @admin.action(description="Rotate write key (the old key stops working)…", permissions=["change"])
    def rotate_write_key(self, request, queryset):
        page = self._confirm_first(
            request,
            queryset,
            action="rotate_write_key",
            title="Rotate the write key?",
            consequences=[
                "The current write key is refused at once: the store stops tracking until the new snippet is live.",
                "Re-install the pixel <script> snippet in the theme and the Shopify Custom Pixel code "
                "(both on the merchant page, with Copy buttons) right after rotating.",
            ],
        )
        if page is not None:
            return page
        for merchant in queryset:
            services.rotate_write_key(merchant)
            self.log_change(request, merchant, "Rotated the write key.")
            url = reverse("admin:events_merchant_change", args=[merchant.pk])
            self.message_user(
                request,
                format_html(
                    "{}: new write key <code>{}</code>. The old key is refused from now on: "
                    '<a href="{}#rc-pixel-snippet">re-install the pixel snippet and the Shopify Custom Pixel code</a>.',
                    merchant.name,
                    merchant.write_key,
                    url,
                ),
                messages.WARNING,
            )
        return None

    @admin.action(description="Rotate returns webhook secret (shown once)…", permissions=["rotate_secret"])
    def rotate_returns_webhook_secret(self, request, queryset):
        page = self._confirm_first(
            request,
            queryset,
            action="rotate_returns_webhook_secret",
            title="Rotate the Loop Returns webhook secret?",
            consequences=[
                "Webhooks Loop signs with the current secret are refused (401) from now on.",
                "The new secret is shown once: paste it into Loop (Settings > Developers > Webhooks) right away.",
            ],
        )
        if page is not None:
            return page
        for merchant in queryset:
            services.rotate_returns_webhook_secret(merchant)
            self.log_change(request, merchant, "Rotated the returns webhook secret.")
            self._show_secret(request, merchant, "rotated")
        return None

    def save_formset(self, request, form, formset, change) -> None:
        super().save_formset(request, form, formset, change)
        if formset.model is Destination:
            apply_new_api_keys(formset.forms)

    @admin.action(description="Send test return events (sample of every return metric)", permissions=["change"])
    def send_test_return_events(self, request, queryset) -> None:
        for merchant in queryset:
            count = send_test_return_events(merchant)
            self.log_change(request, merchant, f"Sent {count} test return events.")
            self.message_user(request, f"{merchant}: {count} test return events recorded.", messages.SUCCESS)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        merchant = self.get_object(request, object_id) if request.method == "GET" else None
        if merchant is not None:  # the dashboard is for reading; a save does not pay for it
            extra_context["dashboard"] = dashboard_charts(dashboard.get_merchant_dashboard(merchant))
            extra_context["problem_count"] = sum(p.count for p in problems.list_problems(merchant.pk))
            extra_context["dashboard_sections"] = merchant_sections(merchant)
            for alert in selectors.list_open_alerts(merchant):
                self.message_user(request, f"Alert: {alert.message} (x{alert.count})", messages.WARNING)
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/ingest-problems/", view(self.ingest_problems_view), name="events_merchant_ingest_problems"),
            *super().get_urls(),
        ]

    def ingest_problems_view(self, request, pk: int):
        """Refused requests and unknown event types of the last 24 h, grouped by reason."""
        merchant = get_object_or_404(Merchant, pk=pk)
        if not self.has_view_permission(request, merchant):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": f"Ingest problems: {merchant.name}",
            "opts": self.model._meta,
            "merchant": merchant,
            "problems": [problem_row(p) for p in problems.list_problems(merchant.pk)],
            "hours": problems.KEEP_HOURS,
        }
        return TemplateResponse(request, "admin/events/merchant/ingest_problems.html", context)


def problem_row(problem: problems.Problem) -> dict:
    return {
        "problem": problem,
        "last_seen": datetime.fromtimestamp(problem.last_at, tz=UTC) if problem.last_at else None,
        "sample": [(k, v) for k, v in (problem.sample or {}).items() if v and k != "code"],
    }


# --- Events ------------------------------------------------------------------------


class TypeFilter(admin.SimpleListFilter):
    """Standard types without a DISTINCT over the whole table (1M rows)."""

    title = "type"
    parameter_name = "type"

    def lookups(self, request, model_admin):
        return [(t.value, t.value) for t in EventType] + [
            ("Return Created", "Return Created"),
            ("Return Label Created", "Return Label Created"),
        ]

    def queryset(self, request, queryset):
        return queryset.filter(type=self.value()) if self.value() else queryset


def delivery_status_choices() -> list[tuple[str, str]]:
    """The console's delivery states: the same words on every page (their meaning is the chips' tooltip)."""
    return [(state, state) for state in DELIVERY_STATES]


class IdentificationFilter(admin.SimpleListFilter):
    """Who the shopper is, in the words the chips use (identified / resolved / anonymous / processing)."""

    title = "who the shopper is"
    parameter_name = "identification__exact"

    def lookups(self, request, model_admin):
        return [(value, word) for value, (word, _) in IDENTIFICATION_WORDS.items()]

    def queryset(self, request, queryset):
        return queryset.filter(identification=self.value()) if self.value() else queryset


class DeliveryStatusFilter(admin.SimpleListFilter):
    title = "delivery status"
    parameter_name = "delivery_status"

    def lookups(self, request, model_admin):
        return [(state, state) for state in DELIVERY_STATES]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        in_state = Delivery.objects.filter(delivery_state_q(self.value()), event_id=OuterRef("pk"))
        return queryset.filter(Exists(in_state))


def pretty_json(value) -> str:
    return format_html(
        '<pre style="white-space:pre-wrap;max-width:900px">{}</pre>', json.dumps(value, indent=2, sort_keys=True)
    )


def json_display(field: str, description: str):
    """A read-only admin field showing one JSON field of the row, pretty-printed."""

    @admin.display(description=description)
    def show(self, obj):
        return pretty_json(getattr(obj, field))

    return show


@admin.register(Event)
class EventAdmin(LogTableAdminMixin, admin.ModelAdmin):
    list_display = [
        "received",
        "merchant_name",
        "type",
        "profile_label",
        "identification_chip",
        "delivery_chips",
        "source",
    ]
    list_filter = ["merchant", TypeFilter, IdentificationFilter, "source", DeliveryStatusFilter]
    list_select_related = ["merchant", "profile"]
    search_fields = ["=event_id", "=anonymous_id", "=profile__email"]
    ordering = ["-id"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50
    change_list_template = "admin/events/event/change_list.html"
    readonly_fields = [
        "merchant",
        "event_id",
        "type",
        "source",
        "timestamp",
        "received_at",
        "processed_at",
        "anonymous_id",
        "profile_link",
        "identification",
        "resolved_by",
        "decision_explained",
        "consent_summary",
        "identifiers_json",
        "traits_json",
        "properties_json",
        "context_json",
        "raw_json",
        "deliveries_table",
    ]
    fieldsets = [
        (None, {"fields": ["merchant", "event_id", "type", "source", "timestamp", "received_at", "processed_at"]}),
        (
            "Identity decision",
            {
                "fields": [
                    "anonymous_id",
                    "profile_link",
                    "identification",
                    "resolved_by",
                    "decision_explained",
                    "consent_summary",
                ]
            },
        ),
        (
            "Normalised payload",
            {"fields": ["identifiers_json", "traits_json", "properties_json", "context_json"]},
        ),
        ("Raw payload (as received)", {"fields": ["raw_json"], "classes": ["collapse"]}),
        ("Deliveries and attempts", {"fields": ["deliveries_table"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("merchant", "profile")

    @admin.display(description="Why")
    def decision_explained(self, obj: Event):
        """Which identifier and rule attributed the event, or why not (shared device, shared click id, junk)."""
        return describe_decision(obj.identity_decision or {})

    @admin.display(description="Consent")
    def consent_summary(self, obj: Event) -> str:
        return describe_consent((obj.context or {}).get("consent"))

    def get_search_results(self, request, queryset, search_term):
        """An email finds the shopper's events through the indexed Profile.email (no table scan)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        if "@" in term:
            profiles = Profile.objects.filter(email__in={term, term.lower()}).values("id")
            return queryset.filter(profile_id__in=profiles), False
        # Spelling out every merchant id lets PostgreSQL use the (merchant, event_id) and
        # (merchant, anonymous_id) indexes instead of scanning the table.
        merchant_ids = list(Merchant.objects.values_list("id", flat=True))
        return queryset.filter(Q(event_id=term) | Q(anonymous_id=term), merchant_id__in=merchant_ids), False

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        ids = [e.id for e in changelist.result_list]
        self._chips = stream.deliveries_by_event(ids)  # one query for the whole page
        return changelist

    @admin.display(description="Received", ordering="-id")
    def received(self, obj: Event) -> str:
        return obj.received_at.strftime("%b %d, %H:%M:%S")

    @admin.display(description="Merchant", ordering="merchant__name")
    def merchant_name(self, obj: Event) -> str:
        return obj.merchant.name

    @admin.display(description="Profile")
    def profile_label(self, obj: Event) -> str:
        if obj.profile is None:
            return "anonymous"
        return obj.profile.email or f"profile #{obj.profile_id}"

    @admin.display(description="Identified", ordering="identification")
    def identification_chip(self, obj: Event):
        return identification_chip(obj.identification, detail=obj.resolved_by)

    @admin.display(description="Deliveries")
    def delivery_chips(self, obj: Event):
        rows = getattr(self, "_chips", {}).get(obj.id, [])
        if not rows:
            return "-"
        return format_html_join("", "{}", ((stream_chip(r),) for r in rows))

    @admin.display(description="Profile")
    def profile_link(self, obj: Event):
        if obj.profile is None:
            return "anonymous"
        url = reverse("admin:identity_profile_change", args=[obj.profile_id])
        return format_html('<a href="{}">{}</a>', url, self.profile_label(obj))

    identifiers_json = json_display("identifiers", "Identifiers")
    traits_json = json_display("traits", "Traits")
    properties_json = json_display("properties", "Properties")
    context_json = json_display("context", "Context")
    raw_json = json_display("raw", "Raw")

    @admin.display(description="Deliveries")
    def deliveries_table(self, obj: Event):
        return render_event_deliveries(obj)

    # --- Live stream ------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("live/", view(self.live_view), name="events_event_live"),
            path("live.json", view(self.live_json), name="events_event_live_json"),
            *super().get_urls(),
        ]

    def live_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Live event stream",
            "opts": self.model._meta,
            "merchants": Merchant.objects.order_by("name").values_list("id", "name"),
            "types": [t.value for t in EventType],
            "identifications": [(v, IDENTIFICATION_WORDS[v][0]) for v in Identification.values],
            "delivery_statuses": delivery_status_choices(),
            "chip_colours": json.dumps(CHIP_COLOURS),
            "json_url": reverse("admin:events_event_live_json"),
        }
        return TemplateResponse(request, "admin/events/event/live.html", context)

    def live_json(self, request):
        if not self.has_view_permission(request):
            return JsonResponse({"error": {"code": "permission_denied", "message": "Permission denied."}}, status=403)
        rows = stream.list_stream_events(stream.StreamFilters.from_query(request.GET))
        for row in rows:
            row["url"] = reverse("admin:events_event_change", args=[row["id"]])
            row["identification_label"], row["identification_title"] = IDENTIFICATION_WORDS[row["identification"]]
            for delivery in row["deliveries"]:
                delivery["url"] = reverse("admin:destinations_delivery_change", args=[delivery["id"]])
                delivery["title"] = DELIVERY_STATES.get(delivery["state"], "")
        return JsonResponse({"events": rows})


def stream_chip(row: dict):
    """A delivery chip named after its destination, linking to the delivery (event list, live stream)."""
    url = reverse("admin:destinations_delivery_change", args=[row["id"]])
    state = row["state"]
    return chip(f"{row['destination']}: {state}", status=state, title=DELIVERY_STATES.get(state, ""), url=url)


# --- Alerts ------------------------------------------------------------------------


@admin.register(MerchantAlert)
class MerchantAlertAdmin(admin.ModelAdmin):
    """Abuse and flood alerts (ingest over quota, profile ceiling): read-only, staff resolve them."""

    list_display = ["last_seen", "merchant", "kind", "count", "message", "resolved_at"]
    list_filter = ["kind", ("resolved_at", admin.EmptyFieldListFilter), "merchant"]
    list_select_related = ["merchant"]
    ordering = ["-last_seen"]
    readonly_fields = ["merchant", "kind", "message", "count", "first_seen", "last_seen", "resolved_at"]
    actions = ["resolve"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Mark selected alerts resolved", permissions=["change"])
    def resolve(self, request, queryset) -> None:
        count = services.resolve_alerts(queryset)
        self.message_user(request, f"{count} alerts resolved.", messages.SUCCESS)
