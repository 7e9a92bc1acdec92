"""Admin pages with 1M events: are the lists, the live stream and the dashboard still fast?

Run with PostgreSQL (the estimated count needs pg_class.reltuples):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/recapture .venv/bin/python bench/admin_lists.py

It uses a dedicated database (``<name>_bench_admin``, created and migrated if missing),
seeds N events (default 1,000,000; 90 % for one merchant, received over the last 10
days, a third each native / resolved / anonymous) with one Delivery each (2 % dead) by
INSERT ... SELECT generate_series, then renders each admin page in-process with
Django's test client as a superuser: median wall time of 5 renders after a warm-up,
and the number of SQL queries. Writes bench/results/admin_lists.json.
Options: --events 1000000  --runs 5  --reuse (keep already-seeded rows).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "admin_lists.json"


def bench_database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL to a PostgreSQL URL, e.g. postgres://postgres@127.0.0.1:5432/recapture")
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + (parts.path.lstrip("/") or "recapture") + "_bench_admin"))


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


SEED_SQL = [
    """TRUNCATE events_event, destinations_delivery, destinations_deliveryattempt, identity_profile,
       destinations_destination, events_merchant RESTART IDENTITY CASCADE""",
    """INSERT INTO events_merchant (name, shop_domain, allowed_origins, timezone, write_key, returns_webhook_token,
       returns_webhook_secret, blocked_identifier_values, reidentify_lookback_hours, is_active, created_at)
       VALUES ('Big Shop', 'big.myshopify.com', '[]', 'UTC', 'wk_bench_big', 'tok_big', '', '[]', 24, true, now()),
              ('Small Shop', 'small.myshopify.com', '[]', 'UTC', 'wk_bench_small', 'tok_small', '', '[]', 24, true,
               now())""",
    """INSERT INTO identity_profile (merchant_id, email, phone, traits, trait_times, created_at, updated_at)
       SELECT 1, 'p' || g || '@bench.io', '', '{}', '{}', now(), now() FROM generate_series(1, 20000) g""",
    """INSERT INTO destinations_destination (merchant_id, kind, name, api_key, api_key_last4, enabled, dry_run,
       event_types, forward_reidentified, forward_returns, profile_sync, metric_suffix, list_id, name_overrides,
       status, last_error, created_at, updated_at)
       VALUES (1, 'klaviyo', 'Klaviyo', '', '0000', true, false, '[]', true, true, 'create_update', '', '', '{}',
               'active', '', now(), now())""",
    """INSERT INTO events_event (merchant_id, event_id, type, source, anonymous_id, timestamp, received_at, context,
       identifiers, traits, properties, raw, profile_id, identification, resolved_by, processed_at)
       SELECT CASE WHEN g % 10 = 0 THEN 2 ELSE 1 END, 'ev-' || g,
              (ARRAY['ViewContent','AddToCart','InitiateCheckout','Purchase','PageView'])[1 + g % 5], 'pixel',
              'anon-' || (g % 200000), now() - ((%(n)s - g) * interval '1 second' * 864000 / %(n)s),
              now() - ((%(n)s - g) * interval '1 second' * 864000 / %(n)s), '{}', '{}', '{}',
              '{"Price": 10, "Currency": "USD"}', '{}',
              CASE WHEN g % 3 = 2 OR g % 10 = 0 THEN NULL ELSE 1 + g % 20000 END,
              (ARRAY['native','resolved','anonymous'])[1 + g % 3], '', now()
       FROM generate_series(1, %(n)s) g""",
    """INSERT INTO destinations_delivery (event_id, destination_id, status, attempts, next_attempt_at, leased_until,
       lease_token, idempotency_key, reidentified, dry_run, last_error, created_at, updated_at, delivered_at)
       SELECT e.id, 1, CASE WHEN e.id % 50 = 1 THEN 'dead' ELSE 'succeeded' END, 1, e.received_at, NULL, '',
              'k' || e.id, false, false, CASE WHEN e.id % 50 = 1 THEN 'HTTP 400' ELSE '' END, e.received_at,
              e.received_at, CASE WHEN e.id % 50 = 1 THEN NULL ELSE e.received_at + interval '2 seconds' END
       FROM events_event e WHERE e.merchant_id = 1""",
    "VACUUM ANALYZE events_event",
    "VACUUM ANALYZE destinations_delivery",
    "VACUUM ANALYZE identity_profile",
]


def seed(n: int) -> float:
    from django.db import connection

    began = time.perf_counter()
    with connection.cursor() as cursor:
        for sql in SEED_SQL:
            cursor.execute(sql.replace("%(n)s", str(int(n))))
    return time.perf_counter() - began


def pages(n: int) -> dict[str, str]:
    from django.urls import reverse

    events = reverse("admin:events_event_changelist")
    live = reverse("admin:events_event_live_json")
    deliveries = reverse("admin:destinations_delivery_changelist")
    return {
        "events: unfiltered": events,
        "events: merchant": f"{events}?merchant__id__exact=1",
        "events: identification=anonymous": f"{events}?identification__exact=anonymous",
        "events: type=Purchase": f"{events}?type=Purchase",
        "events: delivery status=dead": f"{events}?delivery_status=dead",
        "events: search event_id": f"{events}?q=ev-{n // 3}",
        "events: search shopper email": f"{events}?q=p123@bench.io",
        "events: page 100": f"{events}?p=100",
        "event detail": reverse("admin:events_event_change", args=[n // 2 + 1]),
        "live.json": live,
        "live.json: merchant + resolved": f"{live}?merchant=1&identification=resolved",
        "live.json: delivery dead": f"{live}?delivery_status=dead",
        "deliveries: unfiltered": deliveries,
        "deliveries: dead letters": f"{deliveries}?status__exact=dead",
        "profiles": reverse("admin:identity_profile_changelist"),
        "merchant page + dashboard (900k events in 7 d)": reverse("admin:events_merchant_change", args=[1]),
    }


def measure(client, url: str, runs: int) -> dict[str, float | int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(url)  # warm-up
    assert response.status_code == 200, (url, response.status_code)
    timings = []
    for _ in range(runs):
        began = time.perf_counter()
        with CaptureQueriesContext(connection) as ctx:
            client.get(url)
        timings.append(time.perf_counter() - began)
    return {"median_ms": round(1000 * statistics.median(timings), 1), "queries": len(ctx.captured_queries)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    url = bench_database_url()
    ensure_database(url)
    setup_django(url)
    from django.contrib.auth import get_user_model
    from django.test import Client

    from events.models import Event

    seeded = None
    if not (args.reuse and Event.objects.count() == args.events):
        seeded = round(seed(args.events), 1)
    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    results = {name: measure(client, path, args.runs) for name, path in pages(args.events).items()}
    for name, r in results.items():
        print(f"{name:50s} {r['median_ms']:8.1f} ms  {r['queries']:3d} queries")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"events": args.events, "seed_seconds": seeded, "pages": results}, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
