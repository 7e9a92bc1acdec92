"""Sections of other apps shown on the merchant dashboard, below its cards.

Each provider returns the template to render and its context, or None when the section
does not apply to the merchant. The console sits above every app, so it imports them
directly; adding a section is adding a provider to ``PROVIDERS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse

from destinations.clients import kinds_with
from destinations.selectors import LIFT_DAYS, list_backup_flow_rows
from events.models import Merchant


@dataclass(frozen=True, slots=True)
class DashboardSection:
    template: str
    context: dict[str, Any] = field(default_factory=dict)


def backup_flows_section(merchant: Merchant) -> DashboardSection | None:
    """Shown once the merchant has a destination with backup flows (Klaviyo), with a hint until flows exist."""
    if not merchant.destinations.filter(kind__in=kinds_with("supports_backup_flows")).exists():
        return None
    export = reverse("admin:destinations_backupflow_export") + f"?merchant={merchant.pk}"
    return DashboardSection(
        "admin/destinations/backup_flows_section.html",
        {"rows": list_backup_flow_rows(merchant), "export_url": export, "lift_days": LIFT_DAYS},
    )


PROVIDERS: tuple[Callable[[Merchant], DashboardSection | None], ...] = (backup_flows_section,)


def merchant_sections(merchant: Merchant) -> list[DashboardSection]:
    return [section for provider in PROVIDERS if (section := provider(merchant)) is not None]
