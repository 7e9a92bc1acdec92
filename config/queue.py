"""Enqueue django-q2 tasks only once the surrounding transaction commits."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django_q.tasks import async_task


def enqueue_on_commit(func: str, *args: Any, **kwargs: Any) -> None:
    """Queue ``func(*args)`` after commit, so a worker never sees uncommitted rows."""
    transaction.on_commit(lambda: async_task(func, *args, **kwargs))
