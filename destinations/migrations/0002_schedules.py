"""The sweep (every minute: due deliveries and retries) and the daily prune of delivery logs."""

from django.db import migrations

SCHEDULES = [
    {
        "name": "destinations.sweep_deliveries",
        "func": "destinations.tasks.sweep_deliveries",
        "schedule_type": "I",  # Schedule.MINUTES
        "minutes": 1,
    },
    {
        "name": "destinations.prune_delivery_attempts",
        "func": "destinations.tasks.prune_delivery_attempts",
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
        ("destinations", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedules, delete_schedules)]
