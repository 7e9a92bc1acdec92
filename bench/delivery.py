"""Delivery throughput benchmark: deliveries/s to a local fake Klaviyo answering in 20 ms.

    .venv/bin/python bench/delivery.py                 # SQLite file database
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/recapture .venv/bin/python bench/delivery.py

Uses the e2e stack (a throwaway database, real ``manage.py qcluster`` workers) and the
fake platform server from tests/fakes with a 20 ms response delay. For each mode
(per-event POST /api/events, or event-bulk-create-jobs) and each worker count (one, and
all = Q_WORKERS default 2, plus the CPU count when larger) it stores N identified events
with pending Klaviyo deliveries, queues one delivery task per worker, and measures from
queueing to the last ``delivered_at``. The shared token bucket is ON (Klaviyo: 350/s
burst, 3,500/min steady), so per-event figures are capped by the real limit. Profile
sync is off so every request is an event. Writes bench/results/delivery.json.
Options: --events 2000 --bulk-events 5000 --workers 1,2
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.stack import Stack, wait_until  # noqa: E402
from tests.fakes.platforms import FakePlatforms  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "delivery.json"

SEED = """
import json, time, uuid
from django.utils import timezone
from django_q.tasks import async_task
from destinations.models import Delivery, DeliveryAttempt, Destination
from events.models import Event, Merchant
from destinations.services import create_destination
Delivery.objects.all().delete(); DeliveryAttempt.objects.all().delete(); Event.objects.all().delete()
Destination.objects.all().delete(); Merchant.objects.all().delete()
m = Merchant.objects.create(name="Bench", shop_domain="bench.myshopify.com")
d = create_destination(m, kind="klaviyo", api_key="pk_bench_" + uuid.uuid4().hex, profile_sync="off")
now = timezone.now()
Event.objects.bulk_create([Event(merchant=m, event_id=f"b{{i}}", type="AddToCart", anonymous_id=f"a{{i}}",
    timestamp=now, identifiers={{"email": f"p{{i % 500}}@example.com"}},
    properties={{"ProductName": "Mug", "Price": 12.5, "Quantity": 1, "Currency": "EUR"}}) for i in range({n})],
    batch_size=1000)
Delivery.objects.bulk_create([Delivery(event=e, destination=d, next_attempt_at=now, idempotency_key=str(uuid.uuid4()))
    for e in Event.objects.filter(merchant=m)], batch_size=1000)
t0 = time.time()
for _ in range({tasks}):
    async_task("destinations.tasks.deliver_destination", d.pk)
print(json.dumps({{"t0": t0}}))
"""

PROGRESS = """
import json
from django.db.models import Count, Max
from destinations.models import Delivery
rows = dict(Delivery.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
last = Delivery.objects.aggregate(t=Max("delivered_at"))["t"]
print(json.dumps({"statuses": rows, "last": last.timestamp() if last else None}))
"""


def run_case(stack: Stack, fake: FakePlatforms, *, mode: str, workers: int, events: int) -> dict:
    bulk = mode == "bulk"
    stack.env.update(
        Q_WORKERS=str(workers),
        DELIVERY_BULK_THRESHOLD="50" if bulk else "100000000",
        DELIVERY_BATCH_SIZE="1000" if bulk else "200",
        DELIVERY_TASK_BUDGET_SECONDS="50",
        Q_TIMEOUT="120",
        Q_RETRY="180",
    )
    worker = stack.start_worker()
    time.sleep(3)  # bench only: let the cluster fork its workers before timing starts
    before = len(fake.state.requests)
    t0 = stack.shell(SEED.format(n=events, tasks=workers * (3 if not bulk else 1)), timeout=300)["t0"]

    def done():
        progress = stack.shell(PROGRESS)
        return progress if progress["statuses"].get("succeeded") == events else None

    progress = wait_until(done, timeout=300, interval=1.0, message=f"{mode} x{workers} to finish")
    elapsed = progress["last"] - t0
    os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    stack.processes.remove(worker)
    (RESULTS.parent / f"delivery-{mode}-{workers}.log.tmp").write_text(worker.log_path.read_text()[-20000:])
    requests_made = len(fake.state.requests) - before
    return {
        "mode": mode,
        "workers": workers,
        "deliveries": events,
        "seconds": round(elapsed, 2),
        "deliveries_per_second": round(events / elapsed, 1),
        "http_requests": requests_made,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--bulk-events", type=int, default=5000)
    parser.add_argument("--workers", default="")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")] if args.workers else sorted({1, 2, os.cpu_count() or 2})
    results = []
    with FakePlatforms() as fake, tempfile.TemporaryDirectory() as tmp:
        fake.configure(delay=0.02)
        stack = Stack(Path(tmp), KLAVIYO_API_URL=fake.url, LOOPS_API_URL=fake.url, Q_LOG_LEVEL="ERROR")
        try:
            for mode, n in (("per_event", args.events), ("bulk", args.bulk_events)):
                for workers in counts:
                    result = run_case(stack, fake, mode=mode, workers=workers, events=n)
                    print(json.dumps(result))
                    results.append(result)
        finally:
            stack.close()
    database = "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
    doc = {
        "benchmark": "delivery",
        "run_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": database,
        "fake_latency_ms": 20,
        "rate_limit": "Klaviyo token bucket on (350/s burst, 3500/min steady; bulk 10/s)",
        "cpu_count": os.cpu_count(),
        "results": results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
