"""CPU per event of each pipeline stage, by batch size: where the end-to-end budget goes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/recapture .venv/bin/python bench/pipeline_cpu.py

In one process against a fresh PostgreSQL database ``recapture_bench_cpu`` (production
settings, Redis cache and broker on database 9 of 127.0.0.1:6379) and the fake Klaviyo of
the test suite answering at once: the end-to-end benchmark's event mix (bench/e2e.py) is
ingested one event per call (``ingest_events``: validation, the insert, queueing), then
processed (``process_events``: claim, identity resolution, delivery scheduling) and
delivered (``deliver_pending``: claim, build, send, record) in batches of 1, 10, 100 and
500. Each figure is CPU time of this process (``time.process_time``) per event, so it
excludes PostgreSQL's and Redis's own work; the end-to-end run must fit the sum of the
stages, plus theirs, into the machine's cores. Writes bench/results/pipeline_cpu.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import manage, pg_url, production_env, recreate_database, shell_json, write_result
from bench.e2e import SEED, event
from bench.ingest import REDIS_BENCH_URL, flush_redis
from tests.fakes.platforms import FakePlatforms

SIZES = (1, 10, 100, 500)


def cpu_ms_per(count: int, work) -> float:
    began = time.process_time()
    work()
    return round((time.process_time() - began) * 1000 / max(1, count), 2)


def measure(batch: int, merchant, destination) -> dict[str, float | int]:
    from django.test import override_settings

    from destinations.models import Delivery, DeliveryStatus
    from destinations.services import deliver_pending
    from events import services
    from events.models import Event

    count = max(2 * batch, 200)
    run = uuid.uuid4().hex[:8]
    ingest = cpu_ms_per(count, lambda: [services.ingest_events(merchant, payload=event(run, n)) for n in range(count)])
    ids = list(Event.objects.filter(event_id__startswith=f"{run}-").order_by("id").values_list("id", flat=True))

    def process() -> None:
        for start in range(0, len(ids), batch):
            services.process_events(ids[start : start + batch])

    processing = cpu_ms_per(len(ids), process)
    with override_settings(DELIVERY_BATCH_SIZE=batch):
        delivering = cpu_ms_per(len(ids), lambda: deliver_pending(destination_id=destination.pk))
    delivered = Delivery.objects.filter(event_id__in=ids, status=DeliveryStatus.SUCCEEDED).count()
    return {
        "batch": batch,
        "events": len(ids),
        "delivered": delivered,
        "ingest_ms_per_event": ingest,
        "process_ms_per_event": processing,
        "deliver_ms_per_event": delivering,
        "total_ms_per_event": round(ingest + processing + delivering, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    args = parser.parse_args()
    url = pg_url("recapture_bench_cpu")
    recreate_database(url)
    flush_redis()
    with FakePlatforms() as fake:
        env = production_env(
            url,
            Q_BROKER="redis",
            REDIS_URL=REDIS_BENCH_URL,
            Q_REDIS_URL=REDIS_BENCH_URL,
            KLAVIYO_API_URL=fake.url,
            LOG_LEVEL="WARNING",
            INGEST_RATE_LIMIT_PER_IP="0",
            INGEST_RATE_LIMIT_PER_KEY="0",
        )
        manage(env, "migrate", "--noinput")
        shell_json(env, SEED)
        os.environ.update(env)
        import django

        django.setup()
        from destinations.models import Destination

        destination = Destination.objects.select_related("merchant").get()
        rows = []
        for batch in (int(s) for s in args.sizes.split(",")):
            row = measure(batch, destination.merchant, destination)
            print(row, flush=True)
            rows.append(row)
    flush_redis()  # the processing tasks ingest queued (no worker ran; this process did the work)
    write_result(
        "pipeline_cpu",
        {"database": "postgresql", "cache_and_broker": "redis", "fake_latency_ms": 0, "results": rows},
    )


if __name__ == "__main__":
    main()
