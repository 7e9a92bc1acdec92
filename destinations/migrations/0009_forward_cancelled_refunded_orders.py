"""Destinations that forward Placed Order also forward Cancelled Order and Refunded Order.

Both come only from the Shopify orders webhooks (new); a merchant who forwards purchases
wants a cancelled or refunded one to reach the same flows. Untick them per destination.
"""

from django.db import migrations

ADDED = ["CancelledOrder", "RefundedOrder"]


def forward(apps, schema_editor):
    Destination = apps.get_model("destinations", "Destination")
    for destination in Destination.objects.all().only("id", "event_types"):
        types = list(destination.event_types or [])
        if "Purchase" in types and any(t not in types for t in ADDED):
            destination.event_types = types + [t for t in ADDED if t not in types]
            destination.save(update_fields=["event_types"])


def backward(apps, schema_editor):
    Destination = apps.get_model("destinations", "Destination")
    for destination in Destination.objects.all().only("id", "event_types"):
        types = [t for t in destination.event_types or [] if t not in ADDED]
        if types != list(destination.event_types or []):
            destination.event_types = types
            destination.save(update_fields=["event_types"])


class Migration(migrations.Migration):
    dependencies = [("destinations", "0008_delivery_backfill_note")]

    operations = [migrations.RunPython(forward, backward)]
