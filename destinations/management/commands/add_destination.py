"""manage.py add_destination MERCHANT_ID klaviyo|loops --api-key ... : prints JSON, never the key."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from config.errors import ApplicationError
from destinations.clients import REGISTRY
from destinations.services import backfill_destination, create_destination
from events.models import Merchant


class Command(BaseCommand):
    help = "Add a Klaviyo or Loops destination to a merchant."

    def add_arguments(self, parser):
        parser.add_argument("merchant_id", type=int)
        parser.add_argument("kind", choices=sorted(REGISTRY))
        parser.add_argument("--api-key", required=True)
        parser.add_argument("--name", default="")
        parser.add_argument("--list-id", default="")
        parser.add_argument("--suffix", default="", help='Metric-name suffix, e.g. " - Recapture".')
        parser.add_argument("--profile-sync", default="create_update", choices=["create_update", "update_only", "off"])
        parser.add_argument("--dry-run", action="store_true", help="Record requests without sending them.")
        parser.add_argument(
            "--active-on-site", action="store_true", help='Klaviyo: page views as "Active on Site" (one per visit).'
        )
        parser.add_argument("--backfill-days", type=int, default=0, help="Also send the last N days of events.")

    def handle(self, *args, **opts):
        try:
            merchant = Merchant.objects.get(pk=opts["merchant_id"])
        except Merchant.DoesNotExist:
            raise CommandError(f"No merchant with id {opts['merchant_id']}.")
        try:
            destination = create_destination(
                merchant,
                kind=opts["kind"],
                api_key=opts["api_key"],
                name=opts["name"],
                list_id=opts["list_id"],
                metric_suffix=opts["suffix"],
                profile_sync=opts["profile_sync"],
                dry_run=opts["dry_run"],
                active_on_site=opts["active_on_site"],
            )
        except ApplicationError as exc:
            raise CommandError(exc.message)
        scheduled = backfill_destination(destination, days=opts["backfill_days"]) if opts["backfill_days"] else 0
        out = {
            "id": destination.pk,
            "merchant_id": merchant.pk,
            "kind": destination.kind,
            "name": destination.name,
            "api_key_last4": destination.api_key_last4,
            "list_id": destination.list_id,
            "metric_suffix": destination.metric_suffix,
            "profile_sync": destination.profile_sync,
            "dry_run": destination.dry_run,
            "active_on_site": destination.active_on_site,
            "event_types": destination.event_types,
            "backfill_scheduled": scheduled,
        }
        self.stdout.write(json.dumps(out))
