"""Delivery throughput benchmark: deliveries/s to a local fake Klaviyo / Loops answering in 20 ms.

    .venv/bin/python bench/delivery.py                       # or: make bench
    .venv/bin/python bench/delivery.py --events 2000 --bulk-events 5000 --drain 100000 --workers 1,2

Production settings (DJANGO_DEBUG=false, generated secrets) on a dedicated PostgreSQL
database ``recapture_bench_delivery`` (recreated), real ``manage.py qcluster`` workers and
the fake platform server from tests/fakes with a 20 ms response delay. Each case stores N
identified events with pending deliveries, queues one delivery task per worker and
measures from queueing to the last ``delivered_at`` (and the best one-second window).
The shared token buckets are ON: Klaviyo 350/s burst + 3,500/min steady (events), 10/s +
150/min (bulk jobs); Loops 10/s. Cases:

- per_event (Klaviyo POST /api/events), with one worker and with all workers (Q_WORKERS=2);
- bulk (Klaviyo event-bulk-create-jobs, up to 1,000 events per job), one and all workers;
- loops (POST /api/v1/events/send, 10/s);
- update_only (--update-only N): per-event Klaviyo with profile sync "update only", the 500
  people already in the fake Klaviyo: each person's existence is looked up (batched
  ``any(email,[...])`` and remembered) before events go, so none is created;
- drain: a backlog of --drain events (default 100,000) through the bulk path with the
  default worker count, inside Klaviyo's limits.

Profile sync is off so every request is an event. Writes bench/results/delivery.json.
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import RssSampler, pg_url, production_env, recreate_database, tree_cpu_seconds, write_result
from tests.e2e.stack import Stack, wait_until
from tests.fakes.platforms import FakePlatforms

DATABASE = os.environ.get("BENCH_DELIVERY_DB", "recapture_bench_delivery")

SEED = """
import json, time, uuid
from django.db import connection
from django.utils import timezone
from django_q.tasks import async_task
from destinations.models import Delivery, Destination
from events.models import Event, Merchant
from destinations.services import create_destination
with connection.cursor() as cur:
    cur.execute("TRUNCATE destinations_deliveryattempt, destinations_delivery, destinations_syncedprofile, "
                "events_event, destinations_destination, destinations_ratelimitbucket CASCADE")
Merchant.objects.all().delete()
m = Merchant.objects.create(name="Bench", shop_domain="bench.myshopify.com")
d = create_destination(m, kind="{kind}", api_key="pk_bench_" + uuid.uuid4().hex, **{options})
now = timezone.now()
for start in range(0, {n}, 10000):
    Event.objects.bulk_create([Event(merchant=m, event_id=f"b{{i}}", type="AddToCart", anonymous_id=f"a{{i}}",
        timestamp=now, identifiers={{"email": f"p{{i % 500}}@acme.io"}},
        properties={{"ProductName": "Mug", "Price": 12.5, "Quantity": 1, "Currency": "EUR"}})
        for i in range(start, min(start + 10000, {n}))], batch_size=2000)
ids = list(Event.objects.filter(merchant=m).values_list("id", "event_id"))
Delivery.objects.bulk_create([Delivery(event_id=pk, destination=d, next_attempt_at=now,
    idempotency_key=f"{{d.pk}}:{{eid}}") for pk, eid in ids], batch_size=5000)
with connection.cursor() as cur:
    cur.execute("VACUUM ANALYZE destinations_delivery")
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

PEAK = """
import json
from django.db.models import Count
from django.db.models.functions import TruncSecond
from destinations.models import Delivery
per_second = Delivery.objects.exclude(delivered_at=None).annotate(s=TruncSecond("delivered_at")).values("s")
best = per_second.annotate(n=Count("id")).order_by("-n").values_list("n", flat=True)[:1]
print(json.dumps({"peak": best[0] if best else 0}))
"""


class BenchStack(Stack):
    """The e2e stack on the dedicated bench database (recreated), never a test database."""

    def _create_database(self) -> str:
        url = pg_url(DATABASE)
        recreate_database(url)
        return url


def run_case(stack: Stack, fake: FakePlatforms, *, mode: str, workers: int, events: int, timeout: float) -> dict:
    bulk = mode in ("bulk", "drain")
    if mode == "update_only" and hasattr(fake, "klaviyo"):  # the people are already in Klaviyo
        for i in range(500):
            if not fake.klaviyo.profile_by("email", f"p{i}@acme.io"):
                fake.klaviyo.seed_profile(email=f"p{i}@acme.io")
    stack.env.update(
        Q_WORKERS=str(workers),
        DELIVERY_BULK_THRESHOLD="50" if bulk else "100000000",
        DELIVERY_BULK_OVERFLOW="true" if bulk else "false",  # per_event measures the per-event path alone
        DELIVERY_BATCH_SIZE="1000" if bulk else "200",
        DELIVERY_TASK_BUDGET_SECONDS="50",
        Q_TIMEOUT="120",
        Q_RETRY="180",
    )
    worker = stack.start_worker()
    time.sleep(3)  # bench only: let the cluster fork its workers before timing starts
    before = len(fake.state.requests)
    kind = "loops" if mode == "loops" else "klaviyo"
    options = {"loops": "{}", "update_only": '{"profile_sync": "update_only"}'}.get(mode, '{"profile_sync": "off"}')
    seed = SEED.format(n=events, tasks=workers * (1 if bulk else 3), kind=kind, options=options)
    with RssSampler({"worker": worker.pid}) as rss:
        worker_cpu, fake_cpu, began = tree_cpu_seconds(worker.pid), time.process_time(), time.monotonic()
        t0 = stack.shell(seed, timeout=900)["t0"]

        def done() -> dict | None:
            progress = stack.shell(PROGRESS)
            return progress if progress["statuses"].get("succeeded") == events else None

        progress = wait_until(done, timeout=timeout, interval=1.0, message=f"{mode} x{workers} to finish")
        worker_cpu, fake_cpu = tree_cpu_seconds(worker.pid) - worker_cpu, time.process_time() - fake_cpu
        window, idle_began, idle_cpu = time.monotonic() - began, time.monotonic(), tree_cpu_seconds(worker.pid)
        time.sleep(2)  # what the idle cluster burns (polling the broker) is taken off its CPU
        idle_rate = (tree_cpu_seconds(worker.pid) - idle_cpu) / (time.monotonic() - idle_began)
        worker_cpu -= idle_rate * window
    peak = stack.shell(PEAK)["peak"]
    elapsed = progress["last"] - t0
    _stop(stack, worker)
    return {
        "mode": mode,
        "destination": kind,
        "workers": workers,
        "deliveries": events,
        "seconds": round(elapsed, 2),
        "deliveries_per_second": round(events / elapsed, 1),
        "peak_one_second": peak,
        "http_requests": len(fake.state.requests) - before,
        "worker_rss_mb_peak": rss.max_by_label().get("worker", 0.0),
        # CPU per delivery, much steadier than the rate when other work shares the cores: the
        # workers' (our code, Django, psycopg; not PostgreSQL's; the idle cluster's polling
        # taken off) and this process's (the fake platforms, plus the sampling and polling),
        # which must stay small beside the workers'.
        "worker_cpu_ms_per_delivery": round(worker_cpu * 1000 / events, 3),
        "worker_idle_cpu_percent": round(idle_rate * 100, 1),
        "fake_cpu_ms_per_delivery": round(fake_cpu * 1000 / events, 3),
    }


def _stop(stack: Stack, worker: subprocess.Popen) -> None:
    os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    stack.processes.remove(worker)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--bulk-events", type=int, default=5000)
    parser.add_argument("--loops-events", type=int, default=200)
    parser.add_argument("--drain", type=int, default=100_000)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--update-only", type=int, default=0, help="events for the update_only case (0: skip)")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    default_workers = int(os.environ.get("Q_WORKERS", "2"))
    cases = [("per_event", w, args.events) for w in counts] + [("bulk", w, args.bulk_events) for w in counts]
    cases += [("loops", default_workers, args.loops_events)]
    if args.update_only:
        cases.append(("update_only", default_workers, args.update_only))
    if args.drain:
        cases.append(("drain", default_workers, args.drain))
    results = []
    with FakePlatforms() as fake, tempfile.TemporaryDirectory() as tmp:
        fake.configure(delay=0.02)
        env = production_env("", KLAVIYO_API_URL=fake.url, LOOPS_API_URL=fake.url, Q_LOG_LEVEL="ERROR")
        env = {k: v for k, v in env.items() if k not in os.environ or os.environ[k] != v}
        env.pop("DATABASE_URL", None)
        stack = BenchStack(Path(tmp), LOG_LEVEL="WARNING", **env)
        try:
            for mode, workers, n in cases:
                timeout = 600 if mode == "drain" else 300
                result = run_case(stack, fake, mode=mode, workers=workers, events=n, timeout=timeout)
                print(json.dumps(result), flush=True)
                results.append(result)
                fake.state.requests.clear()
                fake.state.klaviyo_events.clear()
                fake.state.loops_events.clear()
        finally:
            stack.close()
    write_result(
        "delivery",
        {
            "database": "postgresql",
            "fake_latency_ms": 20,
            "rate_limits": "Klaviyo 350/s burst + 3500/min (events), 10/s + 150/min (bulk jobs); Loops 10/s",
            "default_workers": default_workers,
            "results": results,
        },
    )


if __name__ == "__main__":
    main()
