"""The backup-flow table on the merchant dashboard (registered through events' section hook)."""

from __future__ import annotations

from django.urls import reverse

from destinations.models import DestinationKind
from destinations.selectors import LIFT_DAYS, list_backup_flow_rows
from events.dashboard_sections import DashboardSection, register_section
from events.models import Merchant


@register_section
def backup_flows_section(merchant: Merchant) -> DashboardSection | None:
    """Shown once the merchant has a Klaviyo destination (with a hint until flows exist)."""
    if not merchant.destinations.filter(kind=DestinationKind.KLAVIYO).exists():
        return None
    export = reverse("admin:destinations_backupflow_export") + f"?merchant={merchant.pk}"
    return DashboardSection(
        "admin/destinations/backup_flows_section.html",
        {"rows": list_backup_flow_rows(merchant), "export_url": export, "lift_days": LIFT_DAYS},
    )
