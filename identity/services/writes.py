"""One-statement bulk updates for the resolver's hot path.

Django's ``bulk_update`` builds a ``CASE WHEN pk = … THEN …`` per row and field, which
costs more Python time than the whole rest of a resolution batch. On PostgreSQL the
same rows are written with ``UPDATE … FROM (VALUES …)``; other databases keep
``bulk_update``.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, models

CHUNK = 1000


def bulk_set(model: type[models.Model], objs: Sequence[models.Model], fields: Sequence[str]) -> None:
    """Write ``fields`` of ``objs`` (already saved rows) in as few statements as possible."""
    if not objs:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_update(objs, list(fields), batch_size=500)
        return
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    qn = connection.ops.quote_name
    names = ", ".join(["pk", *(qn(c.column) for c in columns)])
    assign = ", ".join(f"{qn(c.column)} = v.{qn(c.column)}::{c.db_type(connection)}" for c in columns)
    pk = qn(meta.pk.column)
    row_sql = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(objs), CHUNK):
            chunk = objs[start : start + CHUNK]
            params: list[object] = []
            for obj in chunk:
                params.append(obj.pk)
                params.extend(c.get_db_prep_save(getattr(obj, c.attname), connection) for c in columns)
            cursor.execute(
                f"UPDATE {qn(meta.db_table)} AS t SET {assign} "  # noqa: S608 - identifiers are model metadata
                f"FROM (VALUES {', '.join([row_sql] * len(chunk))}) AS v({names}) WHERE t.{pk} = v.pk::bigint",
                params,
            )
