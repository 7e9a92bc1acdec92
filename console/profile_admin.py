"""The profile page's re-send action: identity's admin, extended from the console, because
re-sending schedules deliveries (the pipeline) and identity never imports what is above it."""

from __future__ import annotations

from django.contrib import admin, messages

from identity.admin import ProfileAdmin
from identity.models import Profile
from pipeline.processing import resend_recent_events


class ProfileConsoleAdmin(ProfileAdmin):
    actions = [*ProfileAdmin.actions, "resend_recent"]

    def has_resend_permission(self, request) -> bool:
        return request.user.has_perm("identity.change_profile")

    @admin.action(description="Re-send recent events to destinations", permissions=["resend"])
    def resend_recent(self, request, queryset) -> None:
        for profile in queryset:
            count = resend_recent_events(profile)
            self.log_change(request, profile, f"Re-sent {count} recent events.")
            self.message_user(request, f"{profile}: {count} events queued again.", messages.SUCCESS)


admin.site.unregister(Profile)
admin.site.register(Profile, ProfileConsoleAdmin)
