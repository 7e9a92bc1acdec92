"""Loop webhook bodies are pruned by the project-wide `pipeline.prune_data` schedule; drop the duplicate."""

from django.db import migrations


def drop(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="returns.prune_loop_webhooks").delete()


class Migration(migrations.Migration):
    dependencies = [("returns", "0003_loop_webhook_digest")]

    operations = [migrations.RunPython(drop, migrations.RunPython.noop)]
