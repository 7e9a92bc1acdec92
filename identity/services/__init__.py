"""Identity services: resolution and erasure, the writes of the identity app."""

from identity.services.erasure import forget_profile, register_erasure_hook
from identity.services.resolve import ResolutionOutcome, attach_contact, resolve_events

__all__ = [
    "ResolutionOutcome",
    "attach_contact",
    "forget_profile",
    "register_erasure_hook",
    "resolve_events",
]
