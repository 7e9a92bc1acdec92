"""Identity resolution services (see issue 3). Placeholder until resolution lands."""

from __future__ import annotations

from dataclasses import dataclass, field

from events.models import Event


@dataclass(slots=True)
class ResolutionOutcome:
    events: list[Event]
    reidentified: list[Event] = field(default_factory=list)


def resolve_events(*, events: list[Event]) -> ResolutionOutcome:
    return ResolutionOutcome(events=events)
