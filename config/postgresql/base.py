"""PostgreSQL backend whose connection health check costs no round trip.

Django's check (CONN_HEALTH_CHECKS) runs ``SELECT 1`` before the first query of every
request that reuses a connection: for a single-event ingest request that is a second
round trip next to the INSERT itself, and on two cores it took a quarter of a web
worker's time under load (py-spy). Here an idle connection is usable unless psycopg
knows it is closed or broken, or its socket is readable: a server that shuts down,
restarts or drops the session sends a termination message or closes the socket, so it
is seen without asking. A connection that fails anyway (a silent network partition)
fails that request's query; Django then closes it and the next request reconnects.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql.base import Database
from django.db.backends.postgresql.base import DatabaseWrapper as PostgreSQLDatabaseWrapper


def socket_idle(fileno: int) -> bool:
    """True when nothing is waiting to be read on an idle connection's socket (no EOF, no message)."""
    try:
        readable, _, _ = select.select([fileno], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


class DatabaseWrapper(PostgreSQLDatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        try:
            return socket_idle(connection.fileno())
        except Database.Error:  # psycopg refuses fileno() on a closed connection
            return False
