"""Every minute: re-queue events stored but never processed (their task was lost)."""

from django.db import migrations

NAME = "events.requeue_unprocessed_events"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=NAME,
        defaults={
            "func": "events.tasks.requeue_unprocessed_events",
            "schedule_type": "I",
            "minutes": 1,
            "repeats": -1,
        },
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("config", "0001_prune_data_schedule")]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
