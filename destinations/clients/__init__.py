"""Destination clients, looked up by kind: adding a platform is a module and a registry entry."""

from __future__ import annotations

from destinations.clients.base import ClientConfig, DestinationClient
from destinations.clients.klaviyo import KlaviyoClient
from destinations.clients.loops import LoopsClient

REGISTRY: dict[str, type[DestinationClient]] = {
    KlaviyoClient.kind: KlaviyoClient,
    LoopsClient.kind: LoopsClient,
}


def client_class(kind: str) -> type[DestinationClient]:
    try:
        return REGISTRY[kind]
    except KeyError:
        raise LookupError(f"no destination client for kind {kind!r}") from None


def kind_choices() -> list[tuple[str, str]]:
    """(kind, label) of every platform, in registry order: DestinationKind's choices."""
    return [(cls.kind, cls.label) for cls in REGISTRY.values()]


def kinds_with(capability: str) -> list[str]:
    """The kinds whose client declares ``capability`` (a boolean class attribute), e.g. "backup_flows"."""
    return [kind for kind, cls in REGISTRY.items() if getattr(cls, capability)]


__all__ = ["REGISTRY", "ClientConfig", "DestinationClient", "client_class", "kind_choices", "kinds_with"]
