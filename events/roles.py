"""Staff roles. "Support": configure destinations and replay, never read secrets or delete merchants.

Destination API keys are write-only for everyone (the admin never renders them), the
Loop webhook secret is seen and set by superusers only (generated on creation, rotation
action, the "Set Loop webhook secret" field), and deleting merchants is withheld by
permission. Support sees and resolves abuse alerts. docs/SECURITY.md has the full table.
"""

from __future__ import annotations

SUPPORT_GROUP = "Support"

# app_label -> codenames. change_delivery is the "replay" right (deliveries are read-only).
SUPPORT_PERMISSIONS: dict[str, list[str]] = {
    "events": [
        "add_merchant",
        "change_merchant",
        "view_merchant",
        "view_event",
        "view_merchantalert",
        "change_merchantalert",
    ],
    "destinations": [
        "add_destination",
        "change_destination",
        "view_destination",
        "view_delivery",
        "change_delivery",
        "view_deliveryattempt",
        "view_platformerasure",  # the erasure record's platform deletion requests
    ],
    "identity": ["view_profile", "change_profile", "view_identifier", "view_profilemerge", "view_erasurerecord"],
    "returns": ["view_loopwebhook", "change_loopwebhook", "view_loopreturn"],
    "admin": ["view_logentry"],
}


def ensure_support_group(apps=None, using: str = "default") -> int:
    """Create or update the Support group; returns how many permissions it holds.

    Permissions are created first (they normally appear post-migrate), so this works
    inside a data migration on a fresh database. Safe to run again after new models land.
    """
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    apps = apps or global_apps
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using, apps=global_apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.using(using).get_or_create(name=SUPPORT_GROUP)
    wanted = Permission.objects.using(using).none()
    for app_label, codenames in SUPPORT_PERMISSIONS.items():
        wanted |= Permission.objects.using(using).filter(content_type__app_label=app_label, codename__in=codenames)
    group.permissions.set(wanted)
    return group.permissions.count()
