"""Identity resolution benchmark: does cost grow with the number of profiles?

Run with PostgreSQL:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/recapture .venv/bin/python bench/identity.py

It uses a dedicated database (``<name>_bench_identity``, created and migrated if missing), seeds
N profiles with three identifiers each (email, anonymous_id, client_id) by COPY, then
times ``resolve_events`` on the same mix of 2,000 events (batches of 100, as the ingest
pipeline hands them over) at 10k and at 1M profiles: one cold pass right after seeding
(and a CHECKPOINT), then the median of five warm passes. Every pass starts from exactly
the seeded graph, vacuumed (``reset_to_seed``). It prints seconds, events/s and
queries per event at each scale, their ratios, and writes bench/results/identity.json.
Options: --scales 10000,1000000  --events 2000  --batch 100.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "identity.json"
WARM_PASSES = 5
SEEN = datetime(2026, 1, 1, tzinfo=UTC)  # first_seen/last_seen/updated_at of every seeded row


def bench_database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL to a PostgreSQL URL, e.g. postgres://postgres@127.0.0.1:5432/recapture")
    parts = urlsplit(url)
    name = (parts.path.lstrip("/") or "recapture") + "_bench_identity"
    return urlunsplit(parts._replace(path="/" + name))


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
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


def reset(merchant_name: str):
    from django.db import connection

    from events.models import Merchant

    with connection.cursor() as cur:
        cur.execute(
            "TRUNCATE events_event, identity_identifier, identity_profilemerge, identity_profile, "
            "identity_erasurerecord, identity_refusedlink RESTART IDENTITY CASCADE"
        )
    Merchant.objects.filter(name=merchant_name).delete()
    return Merchant.objects.create(name=merchant_name, shop_domain=f"bench-{uuid.uuid4().hex[:8]}.myshopify.com")


def seed_profiles(merchant, start: int, stop: int) -> float:
    """Profiles start..stop-1 (ids = i + 1) with email, anonymous_id and client_id, by COPY."""
    from django.db import connection

    began = time.perf_counter()
    seen = SEEN.isoformat()
    with connection.cursor() as cur:
        raw = cur.cursor
        with raw.copy(
            "COPY identity_profile (id, merchant_id, email, phone, traits, trait_times, verified_traits, klaviyo_kx, "
            "created_at, updated_at) FROM STDIN"
        ) as copy:
            for i in range(start, stop):
                copy.write_row((i + 1, merchant.pk, f"p{i}@bench.io", "", "{}", "{}", "[]", "", seen, seen))
        with raw.copy(
            "COPY identity_identifier (merchant_id, profile_id, type, value, source, first_seen, last_seen, shared, "
            "hint) FROM STDIN"
        ) as copy:
            for i in range(start, stop):
                copy.write_row((merchant.pk, i + 1, "email", f"p{i}@bench.io", "pixel", seen, seen, False, ""))
                copy.write_row((merchant.pk, i + 1, "anonymous_id", f"a{i}", "pixel", seen, seen, False, ""))
                copy.write_row((merchant.pk, i + 1, "client_id", f"c{i}", "pixel", seen, seen, False, ""))
        cur.execute("SELECT setval(pg_get_serial_sequence('identity_profile', 'id'), %s)", [stop + 1])
        cur.execute("VACUUM ANALYZE identity_profile")
        cur.execute("VACUUM ANALYZE identity_identifier")
        # Write the seed's dirty pages back now: the checkpoint seeding triggers (a 1M seed
        # writes over max_wal_size) must not run during, and be timed with, the first pass.
        cur.execute("CHECKPOINT")
    return time.perf_counter() - began


def make_events(merchant, *, count: int, profiles: int, rng: random.Random) -> list:
    """A mix: returning devices, known emails on new devices, new anonymous and new identified visitors."""
    from events.models import Event

    now = datetime.now(UTC)
    rows = []
    for n in range(count):
        known = rng.randrange(profiles)
        roll = n % 10
        if roll < 4:
            anon, ids = f"a{known}", {}
        elif roll < 6:
            anon, ids = f"new-{uuid.uuid4().hex}", {"email": f"P{known}@Bench.io"}
        elif roll < 7:
            anon, ids = f"new-{uuid.uuid4().hex}", {"client_id": f"c{known}", "gclid": uuid.uuid4().hex}
        elif roll < 9:
            anon, ids = f"new-{uuid.uuid4().hex}", {"fbp": f"fb.1.{uuid.uuid4().int % 10**12}"}
        else:
            anon, ids = f"new-{uuid.uuid4().hex}", {"email": f"{uuid.uuid4().hex[:10]}@new.io"}
        rows.append(
            Event(
                merchant=merchant,
                event_id=uuid.uuid4().hex,
                type="ViewContent",
                anonymous_id=anon,
                identifiers=ids,
                timestamp=now - timedelta(seconds=count - n),
            )
        )
    created = Event.objects.bulk_create(rows, batch_size=1000)
    for event in created:
        event.merchant = merchant
    return created


def time_resolution(events: list, *, batch: int) -> dict[str, float]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from identity.services import resolve_events

    queries, began = 0, time.perf_counter()
    for start in range(0, len(events), batch):
        with CaptureQueriesContext(connection) as ctx:
            resolve_events(events=events[start : start + batch])
        queries += len(ctx.captured_queries)
    seconds = time.perf_counter() - began
    return {
        "seconds": round(seconds, 3),
        "events_per_second": round(len(events) / seconds, 1),
        "queries_per_event": round(queries / len(events), 3),
        "queries_per_batch": round(queries / -(-len(events) // batch), 2),
    }


def run(scales: list[int], *, events: int, batch: int) -> dict:
    from bench.common import machine
    from events.models import Event

    rng = random.Random(42)
    merchant = reset("identity-bench")
    results, seeded = [], 0
    for scale in sorted(scales):
        seed_seconds = seed_profiles(merchant, seeded, scale)
        seeded = scale
        Event.objects.filter(merchant=merchant).delete()
        row = {"profiles": scale, "seed_seconds": round(seed_seconds, 1)}
        # Fresh events each pass: the first right after seeding (cold caches), then the median of
        # WARM_PASSES warm passes (the machine may be shared, so one pass is noisy).
        passes = []
        for _ in range(1 + WARM_PASSES):
            passes.append(time_resolution(make_events(merchant, count=events, profiles=scale, rng=rng), batch=batch))
            # Undo what resolution added so each pass starts from the seeded graph only.
            reset_to_seed(merchant, scale)
        row["cold"] = passes[0]
        row["warm"] = sorted(passes[1:], key=lambda p: p["seconds"])[WARM_PASSES // 2]
        row["warm_seconds_all"] = [p["seconds"] for p in passes[1:]]
        print(json.dumps(row), flush=True)
        results.append(row)
    small, large = results[0], results[-1]
    return {
        "events": events,
        "batch": batch,
        "results": results,
        "time_ratio_largest_vs_smallest": {
            label: round(large[label]["seconds"] / small[label]["seconds"], 3) for label in ("cold", "warm")
        },
        "queries_per_event_ratio": round(large["warm"]["queries_per_event"] / small["warm"]["queries_per_event"], 3),
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": machine(),  # load average: wall time here is sensitive to other work on the cores
    }


def reset_to_seed(merchant, scale: int) -> None:
    """Put back exactly the seeded graph, so every pass does the same work on the same tables.

    Deletes what the pass added (events, merges, profiles past the seed, identifiers first seen
    after it), restores what it rewrote on seeded rows (identifier owner and last_seen, profile
    email and traits), then VACUUMs: the server runs with autovacuum off, and dead rows left
    by one pass must not slow the next.
    """
    from django.db import connection

    seen = SEEN.isoformat()
    with connection.cursor() as cur:
        cur.execute("DELETE FROM events_event WHERE merchant_id = %s", [merchant.pk])
        cur.execute("DELETE FROM identity_profilemerge")
        cur.execute("DELETE FROM identity_refusedlink")
        cur.execute("DELETE FROM identity_identifier WHERE profile_id > %s OR first_seen <> %s", [scale, seen])
        cur.execute("DELETE FROM identity_profile WHERE id > %s", [scale])
        cur.execute(
            "UPDATE identity_identifier SET last_seen = %s, profile_id = substring(value from '[0-9]+')::bigint + 1, "
            "shared = false WHERE id IN (SELECT id FROM identity_identifier WHERE last_seen <> %s "
            "OR profile_id <> substring(value from '[0-9]+')::bigint + 1 OR shared)",
            [seen, seen],
        )
        cur.execute(
            "UPDATE identity_profile SET email = 'p' || (id - 1) || '@bench.io', phone = '', traits = '{}', "
            "trait_times = '{}', verified_traits = '[]', klaviyo_kx = '', reidentified_at = NULL, updated_at = %s "
            "WHERE updated_at <> %s",
            [seen, seen],
        )
        for table in (
            "events_event",
            "identity_profilemerge",
            "identity_refusedlink",
            "identity_identifier",
            "identity_profile",
        ):
            cur.execute(f"VACUUM {table}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="10000,1000000")
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    url = bench_database_url()
    ensure_database(url)
    setup_django(url)
    summary = run([int(s) for s in args.scales.split(",")], events=args.events, batch=args.batch)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "results"}, indent=2))
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
