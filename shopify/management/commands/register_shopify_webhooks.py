"""Subscribe a store's orders/refunds webhooks to Recapture through the Shopify Admin API."""

import json

from django.core.management.base import BaseCommand, CommandError

from config.errors import ApplicationError
from events.models import Merchant
from shopify import selectors, services


class Command(BaseCommand):
    help = (
        "Create the orders/create, orders/paid, orders/cancelled and refunds/create webhook subscriptions "
        "for a merchant's store with an Admin API access token (custom app with read_orders)."
    )

    def add_arguments(self, parser):
        parser.add_argument("merchant_id", type=int)
        parser.add_argument("--token", default="", help="Admin API access token (kept encrypted for later runs).")
        parser.add_argument(
            "--secret", default="", help="The app's API secret key: Shopify signs these webhooks with it."
        )
        parser.add_argument("--topic", action="append", default=[], help="Only this topic (repeatable).")

    def handle(self, *args, **opts):
        merchant = Merchant.objects.filter(id=opts["merchant_id"]).first()
        if merchant is None:
            raise CommandError(f"no merchant with id {opts['merchant_id']}")
        try:
            if opts["secret"]:
                services.set_shopify_webhook_secret(merchant, secret=opts["secret"])
            results = services.register_shopify_webhooks(merchant, access_token=opts["token"], topics=opts["topic"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        store = services.get_or_create_store(merchant)
        out = {
            "id": merchant.id,
            "webhook_url": selectors.get_webhook_url(store),
            "signing_key_set": bool(store.webhook_secret),
            "topics": results,
        }
        self.stdout.write(json.dumps(out))
