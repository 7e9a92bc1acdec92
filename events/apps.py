from django.apps import AppConfig
from django.db.backends.signals import connection_created


def _use_sqlite_runtime_param_limit(sender, connection, **kwargs) -> None:
    """Let bulk inserts use SQLite's real bound-parameter limit (usually 250000), not 999.

    Django 5.2 assumes the old 999-variable default, which splits a 500-event ingest
    batch into ~30 INSERTs on SQLite; the runtime limit keeps it at one (as Django 6 does).
    """
    if connection.vendor != "sqlite":
        return
    import sqlite3

    limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    connection.features.max_query_params = max(999, limit)


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Merchants and events"

    def ready(self) -> None:
        connection_created.connect(_use_sqlite_runtime_param_limit, dispatch_uid="events.sqlite_param_limit")
