"""The PostgreSQL backend's health check: no round trip, yet a dropped session is noticed."""

from __future__ import annotations

import socket
import time

import pytest
from django.db import connection

from config.postgresql.base import socket_idle


def test_socket_idle_until_the_peer_speaks_or_closes():
    ours, peer = socket.socketpair()
    with ours, peer:
        assert socket_idle(ours.fileno())
        peer.sendall(b"E")  # e.g. the server's termination message
        assert not socket_idle(ours.fileno())
    other, gone = socket.socketpair()
    with other:
        gone.close()
        assert not socket_idle(other.fileno())  # EOF is readable


def test_socket_idle_on_a_closed_descriptor_is_false():
    sock = socket.socket()
    fileno = sock.fileno()
    sock.close()
    assert not socket_idle(fileno)


@pytest.mark.django_db(transaction=True)
def test_health_check_sends_no_query_and_notices_a_terminated_session(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL backend only")
    import psycopg

    connection.ensure_connection()
    pid = connection.connection.info.backend_pid

    def no_query(*args, **kwargs):
        raise AssertionError("the health check sent a query")

    with monkeypatch.context() as patch:
        patch.setattr(connection.connection, "cursor", no_query)
        patch.setattr(connection.connection, "execute", no_query)
        assert connection.is_usable()
    params = connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in params.items() if k != "cursor_factory"}, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    deadline = time.monotonic() + 5
    while connection.is_usable() and time.monotonic() < deadline:
        time.sleep(0.05)  # test only: the termination message travels asynchronously
    assert not connection.is_usable()
    connection.close()
    connection.ensure_connection()  # the next request reconnects
    assert connection.is_usable()
