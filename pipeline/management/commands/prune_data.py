import json

from django.core.management.base import BaseCommand

from pipeline.retention import prune_data


class Command(BaseCommand):
    help = "Delete events, delivery attempts and Loop webhook bodies past their retention; prints counts as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--events-days", type=int, default=None, help="Default: RETENTION_EVENTS_DAYS")
        parser.add_argument("--attempts-days", type=int, default=None, help="Default: RETENTION_DELIVERY_ATTEMPTS_DAYS")
        parser.add_argument("--webhooks-days", type=int, default=None, help="Default: RETENTION_WEBHOOKS_DAYS")

    def handle(self, *args, **opts):
        counts = prune_data(
            events_days=opts["events_days"], attempts_days=opts["attempts_days"], webhooks_days=opts["webhooks_days"]
        )
        self.stdout.write(json.dumps(counts))
