"""Store the webhook secret copied from Loop's Developer Tools page for a merchant."""

import json

from django.core.management.base import BaseCommand, CommandError

from config.errors import ApplicationError
from events import selectors
from events.models import Merchant
from returns import services


class Command(BaseCommand):
    help = "Set the Loop Returns webhook secret (from Loop > Settings > Developers) for a merchant."

    def add_arguments(self, parser):
        parser.add_argument("merchant_id", type=int)
        parser.add_argument("--secret", required=True)

    def handle(self, *args, **opts):
        merchant = Merchant.objects.filter(id=opts["merchant_id"]).first()
        if merchant is None:
            raise CommandError(f"no merchant with id {opts['merchant_id']}")
        try:
            services.set_loop_webhook_secret(merchant, secret=opts["secret"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        url = selectors.get_returns_webhook_url(merchant)
        self.stdout.write(json.dumps({"id": merchant.id, "returns_webhook_url": url, "secret_set": True}))
