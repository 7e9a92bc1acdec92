"""Quick ingest throughput figure: POST 500-event batches through the full Django stack.

Uses Django's test client in-process (middleware, DRF view, auth, validation, one bulk
insert, the django-q2 enqueue on commit) against a scratch database, never the dev one:

    .venv/bin/python bench/ingest_quick.py                      # SQLite (temp file)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/recapture_bench_ingest \
        .venv/bin/python bench/ingest_quick.py                  # PostgreSQL (created if missing)

Or over HTTP against a running server (runserver/gunicorn; start it with
INGEST_RATE_LIMIT_PER_KEY=0 INGEST_RATE_LIMIT_PER_IP=0 to measure ingest, not the limiter):

    .venv/bin/python bench/ingest_quick.py --url http://127.0.0.1:8000 --key WRITE_KEY --concurrency 4

Prints events/s, p50/p95 per batch and (in-process) the queries per batch.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _setup(sqlite_path: str) -> None:
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{sqlite_path}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # Measures ingest itself: the per-key/IP rate limiter (config/request_limits.py) is off here.
    os.environ.setdefault("INGEST_RATE_LIMIT_PER_KEY", "0")
    os.environ.setdefault("INGEST_RATE_LIMIT_PER_IP", "0")
    if os.environ["DATABASE_URL"].startswith("postgres"):
        _create_pg_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)


def _create_pg_database(url: str) -> None:
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _batch(size: int, run: str, n: int) -> bytes:
    import orjson

    events = [
        {
            "event_id": f"{run}-{n}-{i}",
            "type": "ViewContent",
            "anonymous_id": f"anon-{uuid.uuid4().hex[:12]}",
            "timestamp": "2026-11-23T10:00:00Z",
            "context": {"url": "https://acme.com/products/linen-shirt", "utm": {"source": "google"}},
            "identifiers": {"gclid": "Cj0KCQ"},
            "properties": {
                "ProductID": "8266836345064",
                "ProductName": "Linen Shirt",
                "Price": 59.0,
                "Currency": "USD",
            },
        }
        for i in range(size)
    ]
    return orjson.dumps({"batch": events})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--size", type=int, default=500)
    parser.add_argument("--url", help="base URL of a running server (HTTP mode)")
    parser.add_argument("--key", help="write key of a merchant on that server (HTTP mode)")
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    if args.url:
        _run_http(args.url.rstrip("/"), args.key, args.batches, args.size, args.concurrency)
        return
    with tempfile.TemporaryDirectory() as tmp:
        _setup(str(Path(tmp) / "bench.sqlite3"))
        _run(args.batches, args.size)


def _run(batches: int, size: int) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from events.services import create_merchant

    merchant = create_merchant(f"Bench {uuid.uuid4().hex[:6]}", shop_domain=f"{uuid.uuid4().hex[:10]}.myshopify.com")
    client, run = Client(), uuid.uuid4().hex[:8]
    bodies = [_batch(size, run, n) for n in range(batches)]
    post = partial(client.post, "/api/v1/events", content_type="text/plain", HTTP_X_WRITE_KEY=merchant.write_key)
    with CaptureQueriesContext(connection) as ctx:  # counted once: capturing slows every query down
        response = post(_batch(size, run, -1))
    assert response.status_code == 202 and response.json()["accepted"] == size, response.content[:300]
    queries = len(ctx.captured_queries)
    durations = []
    for body in bodies:
        start = time.perf_counter()
        response = post(body)
        durations.append(time.perf_counter() - start)
        assert response.status_code == 202 and response.json()["accepted"] == size, response.content[:300]
    total = sum(durations)
    print(
        f"{connection.vendor}: {batches} x {size} events in {total:.2f}s = {batches * size / total:,.0f} events/s; "
        f"per batch p50 {statistics.median(durations) * 1000:.0f} ms, "
        f"p95 {sorted(durations)[int(0.95 * (len(durations) - 1))] * 1000:.0f} ms; "
        f"{queries} queries per batch (incl. the django-q2 ORM-broker enqueue)"
    )


def _run_http(base: str, key: str, batches: int, size: int, concurrency: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import requests

    run = uuid.uuid4().hex[:8]
    bodies = [_batch(size, run, n) for n in range(batches)]
    local = threading.local()
    headers = {"X-Write-Key": key, "Content-Type": "text/plain"}

    def post(body: bytes) -> float:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        start = time.perf_counter()
        response = session.post(f"{base}/api/v1/events", data=body, headers=headers, timeout=60)
        elapsed = time.perf_counter() - start
        assert response.status_code == 202 and response.json()["accepted"] == size, response.text[:300]
        return elapsed

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        durations = list(pool.map(post, bodies))
    wall = time.perf_counter() - start
    print(
        f"HTTP x{concurrency}: {batches} x {size} events in {wall:.2f}s = {batches * size / wall:,.0f} events/s; "
        f"per batch p50 {statistics.median(durations) * 1000:.0f} ms, "
        f"p95 {sorted(durations)[int(0.95 * (len(durations) - 1))] * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
