import json

from django.core.management.base import BaseCommand, CommandError

from events import selectors, services
from events.models import Merchant


class Command(BaseCommand):
    help = "Issue a new write key for a merchant (the old one stops working) and print JSON."

    def add_arguments(self, parser):
        parser.add_argument("merchant_id", type=int)

    def handle(self, *args, **opts):
        merchant = Merchant.objects.filter(pk=opts["merchant_id"]).first()
        if merchant is None:
            raise CommandError(f"no merchant with id {opts['merchant_id']}")
        services.rotate_write_key(merchant)
        self.stdout.write(json.dumps(selectors.merchant_credentials(merchant)))
