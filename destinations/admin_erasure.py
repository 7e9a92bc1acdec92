"""The erasure record's page shows each platform deletion request (identity's admin, extended
from here: identity never imports destinations)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Prefetch

from config.admin import chip
from destinations.models import PlatformErasure, PlatformErasureStatus
from identity.admin import ErasureRecordAdmin
from identity.models import ErasureRecord


class PlatformErasureInline(admin.TabularInline):
    """Read-only; the identifier itself is never shown (only its type)."""

    model = PlatformErasure
    extra = 0
    can_delete = False
    verbose_name = "platform deletion request"
    fields = ["destination", "identifier_type", "status_chip", "attempts", "last_status_code", "next_attempt_at"]
    fields += ["completed_at", "last_error"]
    readonly_fields = fields

    @admin.display(description="Status")
    def status_chip(self, obj: PlatformErasure):
        return chip(obj.get_status_display(), status=obj.status)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ErasureRecordWithPlatformsAdmin(ErasureRecordAdmin):
    inlines = [*ErasureRecordAdmin.inlines, PlatformErasureInline]
    list_display = [*ErasureRecordAdmin.list_display, "platforms"]

    def get_queryset(self, request):
        rows = PlatformErasure.objects.select_related("destination").only(
            "erasure_id", "status", "destination__name", "destination__kind"
        )
        return super().get_queryset(request).prefetch_related(Prefetch("platform_requests", queryset=rows))

    @admin.display(description="On the platforms")
    def platforms(self, obj: ErasureRecord) -> str:
        requests = list(obj.platform_requests.all())
        if not requests:
            return "no destinations"
        done = sum(r.status == PlatformErasureStatus.SUCCEEDED for r in requests)
        failed = sum(r.status == PlatformErasureStatus.DEAD for r in requests)
        return f"{done}/{len(requests)} done" + (f", {failed} failed" if failed else "")


admin.site.unregister(ErasureRecord)
admin.site.register(ErasureRecord, ErasureRecordWithPlatformsAdmin)
