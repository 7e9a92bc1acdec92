"""manage.py replay_deliveries: one delivery, or a destination's dead deliveries (optionally a time range)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from destinations.models import Delivery, DeliveryStatus, Destination
from destinations.services import replay_dead_deliveries, replay_delivery


def _when(value: str | None):
    if not value:
        return None
    parsed = parse_datetime(value)
    if parsed is None or parsed.tzinfo is None:
        raise CommandError(f"{value!r} is not an ISO 8601 datetime with a timezone.")
    return parsed


class Command(BaseCommand):
    help = "Replay one delivery (--delivery) or a destination's dead deliveries (--destination [--since/--until])."

    def add_arguments(self, parser):
        parser.add_argument("--delivery", type=int)
        parser.add_argument("--destination", type=int)
        parser.add_argument("--since", help="Events at or after this time (ISO 8601).")
        parser.add_argument("--until", help="Events before this time (ISO 8601).")
        parser.add_argument("--include-succeeded", action="store_true", help="Re-send delivered ones too.")

    def handle(self, *args, **opts):
        if opts["delivery"]:
            try:
                delivery = replay_delivery(Delivery.objects.get(pk=opts["delivery"]))
            except Delivery.DoesNotExist:
                raise CommandError(f"No delivery {opts['delivery']}.")
            self.stdout.write(json.dumps({"replayed": 1, "delivery": delivery.pk}))
            return
        if not opts["destination"]:
            raise CommandError("Give --delivery ID or --destination ID.")
        try:
            destination = Destination.objects.get(pk=opts["destination"])
        except Destination.DoesNotExist:
            raise CommandError(f"No destination {opts['destination']}.")
        statuses = (
            (DeliveryStatus.DEAD, DeliveryStatus.SUCCEEDED) if opts["include_succeeded"] else (DeliveryStatus.DEAD,)
        )
        count = replay_dead_deliveries(
            destination=destination, since=_when(opts["since"]), until=_when(opts["until"]), statuses=statuses
        )
        self.stdout.write(json.dumps({"replayed": count, "destination": destination.pk}))
