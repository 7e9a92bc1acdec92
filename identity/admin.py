"""Admin for profiles: identifiers, traits, timeline, merge history and erasure (the console adds re-send)."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from config.admin import EstimatedCountPaginator, LogTableAdminMixin, ReadOnlyAdminMixin, chip
from events.consent import describe as describe_consent
from events.models import Event
from identity import selectors, services
from identity.models import ErasureRecord, Identifier, Profile, ProfileMerge, RefusedLink

TIMELINE_LIMIT = 50
MERGES_LIMIT = 50


class IdentifierInline(admin.TabularInline):
    model = Identifier
    extra = 0
    can_delete = False
    fields = ["type", "value", "source", "first_seen", "last_seen"]
    readonly_fields = fields
    ordering = ["type", "-last_seen"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Profile)
class ProfileAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["__str__", "merchant", "email", "phone", "reidentified_at", "updated_at"]
    list_filter = ["merchant"]
    list_select_related = ["merchant"]
    search_fields = ["=email", "=phone", "=identifiers__value"]
    ordering = ["-id"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    inlines = [IdentifierInline]
    actions = ["forget"]
    fields = [
        "merchant",
        "email",
        "phone",
        "traits_pretty",
        "consent_summary",
        "reidentified_at",
        "created_at",
        "updated_at",
        "timeline",
        "merge_history",
        "refused_links",
    ]
    readonly_fields = fields

    def has_forget_permission(self, request) -> bool:
        return request.user.has_perm("identity.delete_profile")

    @admin.display(description="Consent (latest event that said)")
    def consent_summary(self, obj: Profile) -> str:
        latest = (
            Event.objects.filter(profile=obj, context__has_key="consent").order_by("-timestamp").only("context").first()
        )
        return describe_consent(latest.context.get("consent")) if latest else "not sent by the pixel"

    @admin.display(description="Traits")
    def traits_pretty(self, obj: Profile):
        return format_html(
            '<pre style="white-space:pre-wrap">{}</pre>', json.dumps(obj.traits, indent=2, sort_keys=True)
        )

    @admin.display(description=f"Timeline (newest {TIMELINE_LIMIT} events)")
    def timeline(self, obj: Profile):
        events = Event.objects.filter(profile=obj).order_by("-timestamp")[:TIMELINE_LIMIT]
        rows = format_html_join(
            "",
            '<tr><td>{}</td><td><a href="{}">{}</a></td><td>{}</td><td>{}</td></tr>',
            (
                (
                    e.timestamp.strftime("%Y-%m-%d %H:%M:%S"),
                    reverse("admin:events_event_change", args=[e.pk]),
                    e.type,
                    e.source,
                    chip(e.get_identification_display(), status=e.identification, title=e.resolved_by),
                )
                for e in events
            ),
        )
        if not rows:
            return "No events."
        return format_html(
            "<table class='rc-timeline'><thead><tr><th>When</th><th>Type</th><th>Source</th><th>Identified</th>"
            "</tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    @admin.display(description="Merge history")
    def merge_history(self, obj: Profile):
        merges = selectors.list_profile_merges(obj)[:MERGES_LIMIT]
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>#{} → #{}</td><td>{}</td></tr>",
            (
                (m.merged_at.strftime("%Y-%m-%d %H:%M:%S"), m.from_profile_id, m.into_profile_id, m.identifier_type)
                for m in merges
            ),
        )
        if not rows:
            return "No merges."
        return format_html(
            "<table class='rc-merges'><thead><tr><th>When</th><th>Merge</th><th>Linked by</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            rows,
        )

    @admin.display(description=f"Links refused (newest {MERGES_LIMIT})")
    def refused_links(self, obj: Profile):
        """Links identity resolution did not make for this profile, and why (shared device, shared click id...)."""
        refusals = RefusedLink.objects.filter(merchant_id=obj.merchant_id, profile_id=obj.pk)[:MERGES_LIMIT]
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    r.refused_at.strftime("%Y-%m-%d %H:%M:%S"),
                    r.identifier_type,
                    r.get_reason_display(),
                    f"#{r.other_profile_id}" if r.other_profile_id else "-",
                )
                for r in refusals
            ),
        )
        if not rows:
            return "No refused links."
        return format_html(
            "<table class='rc-refusals'><thead><tr><th>When</th><th>Through</th><th>Why not</th><th>Other profile</th>"
            "</tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    @admin.action(description="Forget selected profiles (erasure, cannot be undone)", permissions=["forget"])
    def forget(self, request, queryset) -> None:
        count = 0
        for profile in queryset:
            record = services.forget_profile(profile, actor=request.user.get_username())
            self.log_addition(request, record, f"Forgot profile #{record.profile_id} from the admin.")
            _scrub_history(record.profile_id)
            count += 1
        self.message_user(request, f"{count} profiles erased; erasure records kept.", messages.SUCCESS)


def _scrub_history(profile_id: int) -> None:
    """The admin's own history named the profile by its email: keep the entries, drop the name."""
    LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Profile), object_id=str(profile_id)).update(
        object_repr=f"profile #{profile_id} (erased)"
    )


@admin.register(ProfileMerge)
class ProfileMergeAdmin(LogTableAdminMixin, admin.ModelAdmin):
    list_display = ["merged_at", "merchant", "from_profile_id", "into_profile_id", "identifier_type"]
    list_filter = ["identifier_type", "merchant"]
    list_select_related = ["merchant"]
    search_fields = ["=from_profile_id", "=into_profile_id"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False


@admin.register(ErasureRecord)
class ErasureRecordAdmin(LogTableAdminMixin, admin.ModelAdmin):
    list_display = ["erased_at", "merchant", "profile_id", "identifiers_deleted", "events_deleted", "actor"]
    list_filter = ["merchant"]
    list_select_related = ["merchant"]
