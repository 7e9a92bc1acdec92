# Data migration: the Support group gains the abuse alerts (view, resolve); see events/roles.py.

from django.db import migrations


def update_support_group(apps, schema_editor):
    from events.roles import ensure_support_group

    ensure_support_group(using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [("events", "0010_identity_precision")]

    operations = [migrations.RunPython(update_support_group, migrations.RunPython.noop)]
