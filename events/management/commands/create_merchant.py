import json

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from events import selectors, services


class Command(BaseCommand):
    help = "Create a merchant and print its write key and returns webhook as JSON."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--domain", required=True, help="SHOP.myshopify.com")
        parser.add_argument("--origin", action="append", default=[], help="Allowed browser origin (repeatable)")
        parser.add_argument("--timezone", default="UTC")

    def handle(self, *args, **opts):
        try:
            merchant = services.create_merchant(
                opts["name"], shop_domain=opts["domain"], allowed_origins=opts["origin"], timezone_name=opts["timezone"]
            )
        except IntegrityError as exc:
            raise CommandError(f"a merchant with domain {opts['domain']} already exists") from exc
        self.stdout.write(json.dumps(selectors.merchant_credentials(merchant)))
