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


__all__ = ["REGISTRY", "ClientConfig", "DestinationClient", "client_class"]
