"""The daily refresh of the backup flows' Klaviyo reports."""

from django.db import migrations

NAME = "destinations.schedule_backup_flow_reports"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=NAME,
        defaults={
            "func": "destinations.tasks.schedule_backup_flow_reports",
            "schedule_type": "D",  # Schedule.DAILY
            "repeats": -1,
        },
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("destinations", "0006_platform_erasure"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
