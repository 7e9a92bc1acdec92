"""Suite-wide fixtures: the network is blocked except loopback."""

from __future__ import annotations

import ipaddress
import socket

import pytest

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_loopback(address) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0]
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self, address):
    if not _is_loopback(address):
        raise OSError(f"tests must not touch the network (tried {address!r})")
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    if not _is_loopback(address):
        raise OSError(f"tests must not touch the network (tried {address!r})")
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True, scope="session")
def _block_network():
    socket.socket.connect = _guarded_connect
    socket.socket.connect_ex = _guarded_connect_ex
    yield
    socket.socket.connect = _real_connect
    socket.socket.connect_ex = _real_connect_ex


@pytest.fixture(autouse=True)
def _forget_process_memory():
    """Write-key lookups and rate-limit tallies live per process: never across tests."""
    from config.request_limits import forget_tallies
    from destinations.clients.loops import forget_properties
    from destinations.services.existence import forget_existence
    from events import problems
    from events.api.problems import forget_origins
    from events.selectors import forget_cached_merchants
    from identity.services.resolve import forget_profile_reservations

    forgets = (forget_cached_merchants, forget_tallies, problems.reset, forget_origins)
    forgets += (forget_existence, forget_properties, forget_profile_reservations)
    for forget in forgets:
        forget()
    yield
    for forget in forgets:
        forget()


@pytest.fixture
def merchant(db):
    from tests.factories import MerchantFactory

    return MerchantFactory()


@pytest.fixture
def redis_location():
    """A scratch Redis database on 127.0.0.1 for cache tests (their keys expire by themselves)."""
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            pass
    except OSError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    return "redis://127.0.0.1:6379/15"
