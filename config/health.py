"""Liveness and readiness probes for load balancers and orchestrators.

`/readyz` checks what ingest and the workers need: the database with every migration
applied (the ORM broker's tables, the events table), the shared cache (rate limits,
token buckets; on the database cache a missing table fails every ingest request) and,
with Q_BROKER=redis, the broker. A Redis cache outage is reported but does not make the
instance unready: ingest then runs without rate limits rather than not at all.
"""

from __future__ import annotations

import threading

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.db import BaseDatabaseCache
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponseRedirect, JsonResponse
from django.templatetags.static import static

_migrated = threading.Event()  # once every migration is applied, this process stops asking


def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """Browsers ask for /favicon.ico whatever the page says: send them to the static icon."""
    return HttpResponseRedirect(static("recapture/favicon.svg"))


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return type(exc).__name__
    return None


def _check_migrations() -> str | None:
    if _migrated.is_set():
        return None
    try:
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:  # noqa: BLE001
        return type(exc).__name__
    if pending:
        return f"{len(pending)} unapplied migrations (run manage.py migrate)"
    _migrated.set()
    return None


def _check_cache() -> str | None:
    cache = caches["default"]
    try:
        cache.set("readyz:probe", "1", 30)
        if cache.get("readyz:probe") != "1":
            return "cache does not keep values"
    except Exception as exc:  # noqa: BLE001
        if isinstance(cache, BaseDatabaseCache):
            return f"{type(exc).__name__} (database cache table {cache._table!r}: run manage.py migrate)"
        return type(exc).__name__
    return None


def _check_broker() -> str | None:
    if settings.Q_BROKER != "redis":
        return None  # the ORM broker is the database checked above
    try:
        from django_q.brokers import get_broker

        get_broker().ping()
    except Exception as exc:  # noqa: BLE001
        return type(exc).__name__
    return None


def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _check_database()}
    if checks["database"] is None:
        checks["migrations"] = _check_migrations()
    checks["cache"] = _check_cache()
    checks["broker"] = _check_broker()
    tolerated = set() if isinstance(caches["default"], BaseDatabaseCache) else {"cache"}
    ok = all(v is None for k, v in checks.items() if k not in tolerated)
    body = {"status": "ok" if ok else "unavailable", "checks": {k: v or "ok" for k, v in checks.items()}}
    return JsonResponse(body, status=200 if ok else 503)
