"""One-statement bulk updates for the resolver's hot path.

Django's ``bulk_update`` builds a ``CASE WHEN pk = … THEN …`` per row and field, which
costs more Python time than the whole rest of a resolution batch. On PostgreSQL the
same rows are written with ``UPDATE … FROM jsonb_to_recordset(%s)``: the whole chunk is
one JSON document made by one ``orjson.dumps`` call, so neither Django's per-value
conversion nor psycopg's client-side composition of one placeholder per value runs per
row (about a fifth of the CPU of ``UPDATE … FROM (VALUES …)``, see bench/identity.py).
Text, number, boolean, JSON and foreign-key values go in as they are; other columns
(dates, encrypted text) through the field's own conversion. Other databases keep
``bulk_update``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import orjson
from django.db import connection, models

CHUNK = 5000  # rows per statement
_PLAIN = (
    models.CharField,
    models.TextField,
    models.BooleanField,
    models.IntegerField,
    models.BigIntegerField,
    models.SmallIntegerField,
    models.PositiveIntegerField,
    models.PositiveSmallIntegerField,
)


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
    record = ", ".join(["pk bigint", *(f"{qn(c.column)} {c.db_type(connection)}" for c in columns)])
    assign = ", ".join(f"{qn(c.column)} = v.{qn(c.column)}" for c in columns)
    preps = [(c.column, c.attname, _prep(c)) for c in columns]
    sql = (
        f"UPDATE {qn(meta.db_table)} AS t SET {assign} "  # noqa: S608 - identifiers are model metadata
        f"FROM jsonb_to_recordset(%s::jsonb) AS v({record}) WHERE t.{qn(meta.pk.column)} = v.pk"
    )
    with connection.cursor() as cursor:
        for start in range(0, len(objs), CHUNK):
            rows = []
            for obj in objs[start : start + CHUNK]:
                row = {"pk": obj.pk}
                for column, attname, prep in preps:
                    value = getattr(obj, attname)
                    row[column] = value if prep is None else prep(value)
                rows.append(row)
            cursor.execute(sql, [_dumps(rows)])


def _prep(field: models.Field) -> Callable[[object], object] | None:
    """How a value becomes its JSON value in the statement's record (None: as it is)."""
    if type(field) in _PLAIN or (isinstance(field, models.JSONField) and field.encoder is None):
        return None
    if isinstance(field, models.ForeignKey) and type(field.target_field) in (models.AutoField, models.BigAutoField):
        return None
    if isinstance(field, models.DateTimeField):
        return lambda value: value.isoformat() if value is not None else None
    return lambda value: field.get_db_prep_save(value, connection)


def _dumps(rows: list[dict[str, object]]) -> str:
    try:
        return orjson.dumps(rows).decode()
    except (TypeError, orjson.JSONEncodeError):  # e.g. integers past 64 bits: the standard library's way
        return json.dumps(rows)
