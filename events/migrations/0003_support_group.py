# Data migration: the "Support" staff group (see events/roles.py).

from django.db import migrations


def create_support_group(apps, schema_editor):
    from events.roles import ensure_support_group

    # The real app registry: permissions of every installed model, created up front.
    ensure_support_group(using=schema_editor.connection.alias)


def delete_support_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name="Support").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0002_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_support_group, delete_support_group)]
