"""Enqueue django-q2 tasks only once the surrounding transaction commits."""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

from django.core.cache import cache as shared_cache
from django.db import transaction
from django_q.brokers import Broker, get_broker
from django_q.tasks import async_task

logger = logging.getLogger(__name__)


@cache
def shared_broker() -> Broker:
    """One broker per process. django-q2's async_task otherwise builds a broker per call, which on
    Redis is a new connection pool, a new TCP connection and a client handshake for every task."""
    return get_broker()


def enqueue_on_commit(func: str, *args: Any, **kwargs: Any) -> None:
    """Queue ``func(*args)`` after commit, so a worker never sees uncommitted rows."""
    transaction.on_commit(lambda: async_task(func, *args, broker=shared_broker(), **kwargs))


def enqueue_once_on_commit(func: str, *args: Any, pending_key: str, pending_seconds: int) -> None:
    """Queue ``func(*args)`` after commit, unless a task queued under ``pending_key`` has not started.

    For work a task picks up in bulk: the task calls ``task_started(pending_key)`` first, then
    takes everything committed so far, so the requests that found a task pending need no task
    of their own. One queued task per key at a time: at peak the batches grow instead of the
    queue. The key expires after ``pending_seconds`` in case the task is lost; a cache outage
    queues the task anyway.
    """

    def enqueue() -> None:
        try:
            if not shared_cache.add(pending_key, 1, timeout=pending_seconds):
                return
        except Exception:
            logger.warning("pending-task marker unavailable; task queued anyway", exc_info=True)
        try:
            async_task(func, *args, broker=shared_broker())
        except Exception:
            task_started(pending_key)  # nothing is queued: the next request must queue it
            raise

    transaction.on_commit(enqueue)


def task_started(pending_key: str) -> None:
    """A task of ``enqueue_once_on_commit`` starts: work committed from now on queues a new one."""
    try:
        shared_cache.delete(pending_key)
    except Exception:
        logger.warning("pending-task marker unavailable", exc_info=True)
