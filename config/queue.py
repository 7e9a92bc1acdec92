"""Enqueue django-q2 tasks only once the surrounding transaction commits."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.db import transaction
from django_q.brokers import Broker, get_broker
from django_q.tasks import async_task


@cache
def shared_broker() -> Broker:
    """One broker per process. django-q2's async_task otherwise builds a broker per call, which on
    Redis is a new connection pool, a new TCP connection and a client handshake for every task."""
    return get_broker()


def enqueue_on_commit(func: str, *args: Any, **kwargs: Any) -> None:
    """Queue ``func(*args)`` after commit, so a worker never sees uncommitted rows."""
    transaction.on_commit(lambda: async_task(func, *args, broker=shared_broker(), **kwargs))
