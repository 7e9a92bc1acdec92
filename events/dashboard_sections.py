"""Sections a higher app adds to the merchant dashboard: a hook, so events never imports them.

An app registers a provider in its ``AppConfig.ready``; the merchant page renders each
provider's template with its context, below the dashboard cards.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from events.models import Merchant


@dataclass(frozen=True, slots=True)
class DashboardSection:
    template: str
    context: dict[str, Any] = field(default_factory=dict)


Provider = Callable[[Merchant], DashboardSection | None]
_PROVIDERS: list[Provider] = []


def register_section(provider: Provider) -> Provider:
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)
    return provider


def merchant_sections(merchant: Merchant) -> list[DashboardSection]:
    return [section for provider in _PROVIDERS if (section := provider(merchant)) is not None]
