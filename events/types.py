"""The internal event shape shared by ingest, returns and the services (no ORM here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from events.models import EventSource


@dataclass(slots=True)
class NewEvent:
    """A validated, normalised event ready to be stored (the internal event shape)."""

    event_id: str
    type: str
    anonymous_id: str
    timestamp: datetime
    context: dict[str, Any] = field(default_factory=dict)
    identifiers: dict[str, Any] = field(default_factory=dict)
    traits: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    source: str = EventSource.PIXEL
    client_hint: str = ""  # events.hints: network prefix + OS family, keyed-hashed
