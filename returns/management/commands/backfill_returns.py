"""Send historical Loop returns as events (Loop's own Klaviyo integration cannot backfill)."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from events.models import Merchant
from returns import services
from returns.exceptions import LoopApiError


def read_jsonl(path: Path) -> Iterator[Any]:
    """One Loop return object a line; blank lines skipped; a bad line is yielded as None (counted as skipped)."""
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError:
                    yield None


def parse_day(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"not an ISO date: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = "Backfill Loop returns as return events, from a JSONL export or from Loop's Detailed Returns List API."

    def add_arguments(self, parser):
        parser.add_argument("merchant_id", type=int)
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--file", type=Path, help="JSONL file, one Loop return object a line")
        source.add_argument("--from-loop-api", action="store_true", help="List returns with Loop's API")
        parser.add_argument("--since", help="ISO date (with --from-loop-api)")
        parser.add_argument("--until", help="ISO date, default now (with --from-loop-api)")
        parser.add_argument("--api-key", help="Loop API key with the Returns scope (with --from-loop-api)")

    def handle(self, *args, **opts):
        merchant = Merchant.objects.filter(id=opts["merchant_id"]).first()
        if merchant is None:
            raise CommandError(f"no merchant with id {opts['merchant_id']}")
        summary = self._from_file(merchant, opts) if opts["file"] else self._from_api(merchant, opts)
        self.stdout.write(json.dumps(summary.as_dict()))

    def _from_file(self, merchant: Merchant, opts: dict) -> services.BackfillSummary:
        if not opts["file"].is_file():
            raise CommandError(f"no such file: {opts['file']}")
        return services.backfill_returns(merchant, returns=read_jsonl(opts["file"]))

    def _from_api(self, merchant: Merchant, opts: dict) -> services.BackfillSummary:
        if not opts["since"] or not opts["api_key"]:
            raise CommandError("--from-loop-api needs --since and --api-key")
        until = parse_day(opts["until"]) if opts["until"] else timezone.now()
        try:
            return services.backfill_returns_from_loop_api(
                merchant, api_key=opts["api_key"], since=parse_day(opts["since"]), until=until
            )
        except LoopApiError as exc:
            raise CommandError(str(exc)) from exc
