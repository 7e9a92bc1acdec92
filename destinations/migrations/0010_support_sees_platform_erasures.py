# Data migration: the Support group may view platform erasure requests (events/roles.py).

from django.db import migrations


def refresh_support_group(apps, schema_editor):
    from events.roles import ensure_support_group

    ensure_support_group(using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("destinations", "0009_forward_cancelled_refunded_orders"),
        ("events", "0003_support_group"),
    ]

    operations = [migrations.RunPython(refresh_support_group, migrations.RunPython.noop)]
