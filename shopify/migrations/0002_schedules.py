"""Scheduled tasks of the shopify app: re-queue lost webhooks, prune old webhook bodies."""

from django.db import migrations

SCHEDULES = [
    {
        "name": "shopify.sweep_shopify_webhooks",
        "func": "shopify.tasks.sweep_shopify_webhooks",
        "schedule_type": "I",  # Schedule.MINUTES
        "minutes": 5,
    },
    {
        "name": "shopify.prune_shopify_webhooks",
        "func": "shopify.tasks.prune_shopify_webhooks",
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
        ("shopify", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedules, delete_schedules)]
