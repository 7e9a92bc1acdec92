"""The database cache's table, so that `migrate` alone sets up a database.

The rate limiter and the delivery token buckets use the cache; on the default database
cache (CACHE_URL=dbcache://recapture_cache) its table used to come only from
`manage.py createcachetable`, and a deployment that ran `migrate` alone answered 503 to
every ingest request. This creates the table of every database cache configured at
migrate time (nothing on Redis). Switching to a database cache later: run `createcachetable`;
`/readyz` reports a missing table.
"""

from django.core.management import call_command
from django.db import migrations


def create_cache_tables(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("config", "0002_requeue_unprocessed_events_schedule")]

    operations = [migrations.RunPython(create_cache_tables, migrations.RunPython.noop)]
