"""The daily retention run moves from config to the pipeline app: `pipeline.tasks.prune_data`."""

from django.db import migrations

OLD = ("config.prune_data", "config.retention.prune_data_task")
NEW = ("pipeline.prune_data", "pipeline.tasks.prune_data")


def _move(apps, *, src, dst):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(name=src[0]).delete()
    Schedule.objects.update_or_create(name=dst[0], defaults={"func": dst[1], "schedule_type": "D", "repeats": -1})


def forwards(apps, schema_editor):
    _move(apps, src=OLD, dst=NEW)


def backwards(apps, schema_editor):
    _move(apps, src=NEW, dst=OLD)


class Migration(migrations.Migration):
    dependencies = [
        ("config", "0001_prune_data_schedule"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
