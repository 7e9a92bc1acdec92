"""Delivery logs are pruned by the project-wide `config.prune_data` schedule; drop the duplicate."""

from django.db import migrations


def drop(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="destinations.prune_delivery_attempts").delete()


class Migration(migrations.Migration):
    dependencies = [("destinations", "0002_schedules")]

    operations = [migrations.RunPython(drop, migrations.RunPython.noop)]
