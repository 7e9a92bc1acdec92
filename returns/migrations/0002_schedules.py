"""Scheduled tasks of the returns app: re-queue lost webhooks, prune old webhook bodies."""

from django.db import migrations

SCHEDULES = [
    {
        "name": "returns.sweep_loop_webhooks",
        "func": "returns.tasks.sweep_loop_webhooks",
        "schedule_type": "I",  # Schedule.MINUTES
        "minutes": 5,
    },
    {
        "name": "returns.prune_loop_webhooks",
        "func": "returns.tasks.prune_loop_webhooks",
        "schedule_type": "D",  # Schedule.DAILY
        "minutes": None,
    },
]


def create_schedules(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for spec in SCHEDULES:
        Schedule.objects.update_or_create(
            name=spec["name"],
            defaults={
                "func": spec["func"],
                "schedule_type": spec["schedule_type"],
                "minutes": spec["minutes"],
                "repeats": -1,
            },
        )


def delete_schedules(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(name__in=[s["name"] for s in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("returns", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedules, delete_schedules)]
