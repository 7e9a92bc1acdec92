"""Drop the event FK indexes on merchant_id and profile_id: composite indexes lead with both.

event_unique_per_merchant / event_merchant_recent start with merchant_id and
event_profile_time with profile_id, so every lookup (and the FK checks of a merchant or
profile delete) keeps an index, and each event insert writes two index entries fewer.
Only the indexes are dropped: AlterField alone would also drop and re-add (re-validate)
both foreign keys, a full scan of the events table under lock.
"""

import django.db.models.deletion
from django.db import migrations, models

COLUMNS = ("merchant_id", "profile_id")


def drop_indexes(apps, schema_editor):
    for column in COLUMNS:
        name = schema_editor._create_index_name("events_event", [column])
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


def create_indexes(apps, schema_editor):
    for column in COLUMNS:
        name = schema_editor._create_index_name("events_event", [column])
        table, col = schema_editor.quote_name("events_event"), schema_editor.quote_name(column)
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {schema_editor.quote_name(name)} ON {table} ({col})")


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0004_event_unprocessed_index"),
        ("identity", "0005_lean_identity_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="event",
                    name="merchant",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="events",
                        to="events.merchant",
                    ),
                ),
                migrations.AlterField(
                    model_name="event",
                    name="profile",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="events",
                        to="identity.profile",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop_indexes, create_indexes)],
        ),
    ]
