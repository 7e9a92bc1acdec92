"""manage.py run_sweeper: queue due deliveries (and other due retries) every second, so a short
Retry-After is honoured to within about a second instead of waiting for the minute schedule."""

from __future__ import annotations

import signal

from django.core.management.base import BaseCommand

from destinations.services import run_sweeper


class Command(BaseCommand):
    help = "Queue due deliveries every --tick seconds (default SWEEPER_TICK_SECONDS, 1.0) until SIGTERM/SIGINT."

    def add_arguments(self, parser):
        parser.add_argument("--tick", type=float, default=None, help="Seconds between sweeps (at most).")
        parser.add_argument("--once", action="store_true", help="Sweep once and exit (cron, health checks).")

    def handle(self, *args, **opts):
        stopping = {"now": False}

        def stop(signum, frame) -> None:
            stopping["now"] = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write("sweeper started")
        ticks = run_sweeper(
            tick=opts["tick"], should_stop=lambda: stopping["now"], max_iterations=1 if opts["once"] else None
        )
        self.stdout.write(f"sweeper stopped after {ticks} ticks")
