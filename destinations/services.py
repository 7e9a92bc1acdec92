"""Delivery services (see issue 4). Placeholder until delivery lands."""

from __future__ import annotations

from events.models import Event


def schedule_deliveries(*, events: list[Event], reidentified: bool = False) -> None:
    return None
