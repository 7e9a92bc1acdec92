"""End-to-end and scale-out benchmark: pixel POST -> request arrives at the fake destination.

    .venv/bin/python bench/e2e.py                    # or: make bench
    .venv/bin/python bench/e2e.py --rate 200 --seconds 20 --burst 3000

Production settings (DJANGO_DEBUG=false, generated secrets) on PostgreSQL database
``recapture_bench_e2e`` (recreated), gunicorn (config/gunicorn.py) and real
``manage.py qcluster`` processes, and a fake Klaviyo in this process answering every
request after 20 ms. One merchant, one Klaviyo destination (defaults). Runs:

- steady: single-event POSTs offered at a fixed rate (open loop: latency is measured from
  each event's *scheduled* send time, so a slow server cannot hide its queueing), on the
  ORM broker, on Redis, and on Redis with two worker clusters (two qcluster processes
  standing in for two machines, sharing PostgreSQL and Redis); and on Redis at a quarter
  of the rate (the latency of an unsaturated pipeline);
- burst (scale-out): a backlog of N events posted in batches of 50 as fast as possible,
  drained by one cluster, then by two clusters: delivered events/s from the first POST to
  the last arrival (and to the 90th percentile arrival); once with the fake answering in
  20 ms (CPU-bound on two cores) and once in 200 ms with per-event requests (I/O-bound:
  the case a second worker machine helps).

Each event's Klaviyo ``unique_id`` is its event_id, so every arrival is matched to its
send time; an event that never arrives is lost, one that arrives twice is a duplicate.
Writes bench/results/e2e.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    ROOT,
    RssSampler,
    manage,
    pg_url,
    production_env,
    recreate_database,
    shell_json,
    wait_for,
    write_result,
)
from bench.ingest import REDIS_BENCH_URL, flush_redis, start_gunicorn, stop
from tests.fakes import platforms

FAKE_DELAY = 0.02
SLOW_DELAY = 0.2  # scale-out runs: a slow platform makes delivery I/O-bound, the case a second machine helps
SEED = """
import json, uuid
from events.services import create_merchant
from destinations.services import create_destination
m = create_merchant("Bench", shop_domain="bench-e2e.myshopify.com")
create_destination(m, kind="klaviyo", api_key="pk_bench_" + uuid.uuid4().hex)
print(json.dumps({"key": m.write_key}))
"""
TYPES = ("ViewContent", "AddToCart", "ViewContent", "InitiateCheckout", "ViewContent", "AddToCart")


class Arrivals:
    """Patches the in-process fake Klaviyo to timestamp every event's arrival by unique_id."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = {}
        self.requests = 0
        self.fake: Any = None
        original = platforms._Server.respond

        def respond(server: Any, n: int, method: str, path: str, headers: Any, body: Any) -> Any:
            arrived = time.time() - server.state.delay  # the fake slept before answering
            ids = _unique_ids(path, body)
            with self.lock:
                self.requests += 1
                for uid in ids:
                    self.times.setdefault(uid, []).append(arrived)
            return original(server, n, method, path, headers, body)

        platforms._Server.respond = respond

    def reset(self) -> None:
        with self.lock:
            self.times, self.requests = {}, 0


def _unique_ids(path: str, body: Any) -> list[str]:
    if path == "/api/events":
        return [body["data"]["attributes"].get("unique_id", "")]
    if path == "/api/event-bulk-create-jobs":
        entries = body["data"]["attributes"]["events-bulk-create"]["data"]
        return [e["attributes"].get("unique_id", "") for x in entries for e in x["attributes"]["events"]["data"]]
    return []


def event(run: str, n: int) -> dict[str, Any]:
    visitor = int(2000 * (((n * 7919) % 10007) / 10007) ** 3)  # skewed: hot visitors come back often
    return {
        "event_id": f"{run}-{n}",
        "type": TYPES[n % len(TYPES)],
        "anonymous_id": f"anon-{visitor}",
        "identifiers": {"email": f"visitor{visitor}@acme.io", "client_id": f"c{visitor}"},
        "context": {"url": "https://acme.example/products/linen-shirt", "utm": {"source": "klaviyo"}},
        "properties": {"ProductName": "Linen Shirt", "ProductID": "8266836345064", "Price": 59.0, "Quantity": 1},
    }


def post(port: int, key: str, body: dict[str, Any]) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        data = json.dumps(body)
        conn.request("POST", "/api/v1/events", data, {"Content-Type": "text/plain", "X-Write-Key": key})
        return conn.getresponse().status
    except OSError:
        return 0
    finally:
        conn.close()


def offer_steady(port: int, key: str, *, rate: float, seconds: float, threads: int = 16) -> dict[str, Any]:
    """Open-loop: event n is due at t0 + n / rate; returns scheduled send times of accepted events."""
    run, total = uuid.uuid4().hex[:8], int(rate * seconds)
    t0 = time.time() + 0.5
    sent: dict[str, float] = {}
    failed = []
    lock = threading.Lock()

    def worker(offset: int) -> None:
        for n in range(offset, total, threads):
            due = t0 + n / rate
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
            body = event(run, n)
            status = post(port, key, body)
            with lock:
                (sent.__setitem__(body["event_id"], due) if status == 202 else failed.append(status))

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=seconds + 120)
    return {"sent": sent, "failed": failed, "offered": total, "t0": t0, "rate": rate}


def offer_burst(port: int, key: str, *, events: int, batch: int = 50, threads: int = 4) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    t0 = time.time()
    sent: dict[str, float] = {}
    failed = []
    lock = threading.Lock()
    batches = [list(range(s, min(s + batch, events))) for s in range(0, events, batch)]

    def worker(offset: int) -> None:
        for chunk in batches[offset::threads]:
            bodies = [event(run, n) for n in chunk]
            at = time.time()
            status = post(port, key, {"batch": bodies})
            with lock:
                if status == 202:
                    sent.update({b["event_id"]: at for b in bodies})
                else:
                    failed.append(status)

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=300)
    return {"sent": sent, "failed": failed, "offered": events, "t0": t0}


def settle(arrivals: Arrivals, sent: dict[str, float], *, timeout: float) -> None:
    def all_arrived() -> bool:
        with arrivals.lock:
            return all(uid in arrivals.times for uid in sent)

    try:
        wait_for(all_arrived, timeout=timeout, interval=0.25, message="every event to arrive")
    except TimeoutError:
        pass
    time.sleep(2)  # bench only: a short quiet period so a late duplicate would be seen


def summarise(arrivals: Arrivals, offered: dict[str, Any]) -> dict[str, Any]:
    sent = offered["sent"]
    with arrivals.lock:
        times = {uid: list(v) for uid, v in arrivals.times.items()}
        requests = arrivals.requests
    latencies = sorted(times[uid][0] - due for uid, due in sent.items() if uid in times)
    lost = sum(1 for uid in sent if uid not in times)
    duplicates = sum(len(v) - 1 for uid, v in times.items() if uid in sent)
    last = max((times[uid][0] for uid in sent if uid in times), default=offered["t0"])
    firsts = sorted(times[uid][0] for uid in sent if uid in times)
    p90_at = firsts[int(0.9 * (len(sent) - 1))] if len(firsts) > int(0.9 * (len(sent) - 1)) else None

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 1) if latencies else 0.0

    return {
        "offered": offered["offered"],
        "offered_rate_per_second": offered.get("rate"),
        "accepted": len(sent),
        "ingest_failures": len(offered["failed"]),
        "arrived": len(latencies),
        "lost": lost,
        "duplicates": duplicates,
        "destination_requests": requests,
        "latency_ms": {"p50": pct(0.50), "p95": pct(0.95), "p99": pct(0.99), "max": pct(1.0)},
        "mean_latency_ms": round(statistics.mean(latencies) * 1000, 1) if latencies else 0.0,
        "delivered_per_second": round(len(latencies) / max(0.001, last - offered["t0"]), 1),
        "seconds_first_post_to_last_arrival": round(last - offered["t0"], 2),
        # Robust to a straggling tail: 90% of the accepted events over the time until the 90th percentile arrived.
        "delivered_per_second_first_90pct": round(0.9 * len(sent) / (p90_at - offered["t0"]), 1) if p90_at else 0.0,
    }


def in_child(fn: Any, *args: Any) -> Any:
    """Run the load generator in a forked process: its threads must not share a GIL with the fake."""
    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)

    def target() -> None:
        sender.send(fn(*args))
        sender.close()

    process = ctx.Process(target=target, daemon=True)
    process.start()
    try:
        if not receiver.poll(600):
            raise TimeoutError("load generator did not finish")
        return receiver.recv()
    finally:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()


def warm_up(port: int, key: str, arrivals: Arrivals, *, requests: int = 40) -> None:
    """A serving system is warm: every gunicorn worker and every task worker loads its code and
    opens its connections on first use, so a few events go through before the measured load."""
    run = f"warm{uuid.uuid4().hex[:6]}"
    bodies = [event(run, n) for n in range(requests)]
    threads = [threading.Thread(target=lambda b=b: post(port, key, b)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    def arrived() -> bool:
        with arrivals.lock:
            return all(b["event_id"] in arrivals.times for b in bodies)

    try:
        wait_for(arrived, timeout=60, interval=0.2, message="the warm-up events to arrive")
    except TimeoutError:
        pass


def start_clusters(env: dict[str, str], count: int, logdir: Path) -> list[subprocess.Popen]:
    procs = []
    for i in range(count):
        with open(logdir / f"qcluster-{i}.log", "w") as handle:
            procs.append(
                subprocess.Popen(
                    [str(ROOT / ".venv" / "bin" / "python"), "manage.py", "qcluster"],
                    cwd=ROOT,
                    env=env,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
    time.sleep(3)  # bench only: let each cluster fork its workers before load starts
    return procs


def one_run(
    label: str, base_env: dict[str, str], arrivals: Arrivals, *, broker: str, clusters: int, load: Any, io_bound: bool
) -> dict:
    env = dict(base_env, Q_BROKER=broker)
    if io_bound:  # per-event requests to a platform answering in SLOW_DELAY: delivery concurrency is the limit
        env.update(DELIVERY_BULK_THRESHOLD="1000000000", DELIVERY_BULK_OVERFLOW="false")
    platforms_delay = SLOW_DELAY if io_bound else FAKE_DELAY
    arrivals.fake.configure(delay=platforms_delay)
    if broker == "redis":
        env.update(REDIS_URL=REDIS_BENCH_URL, Q_REDIS_URL=REDIS_BENCH_URL)
        flush_redis()
    logdir = ROOT / "bench" / "results" / "logs"
    logdir.mkdir(parents=True, exist_ok=True)
    server, url = start_gunicorn(env, logdir / f"e2e-{label}-gunicorn.log")
    workers = start_clusters(env, clusters, logdir)
    warm_up(int(url.rsplit(":", 1)[1]), env["BENCH_WRITE_KEY"], arrivals)
    arrivals.reset()
    try:
        roots = {"web": server.pid, **{f"worker{i}": p.pid for i, p in enumerate(workers)}}
        with RssSampler(roots) as rss:
            offered = in_child(load, int(url.rsplit(":", 1)[1]))
            settle(arrivals, offered["sent"], timeout=60)
        result = {"run": label, "broker": broker, "clusters": clusters, **summarise(arrivals, offered)}
        result["fake_latency_ms"] = platforms_delay * 1000
        result["rss_mb_peak"] = rss.max_by_label()
    finally:
        for process in [server, *workers]:
            stop(process)
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--burst", type=int, default=3000)
    parser.add_argument("--runs", default="", help="comma-separated subset of run labels")
    args = parser.parse_args()
    arrivals = Arrivals()
    database = pg_url("recapture_bench_e2e")
    recreate_database(database)
    with platforms.FakePlatforms() as fake:
        arrivals.fake = fake
        env = production_env(
            database,
            KLAVIYO_API_URL=fake.url,
            LOOPS_API_URL=fake.url,
            LOG_LEVEL="WARNING",
            Q_LOG_LEVEL="ERROR",
            INGEST_RATE_LIMIT_PER_IP="1000000000",
            INGEST_RATE_LIMIT_PER_KEY="1000000000",
            GUNICORN_WORKERS=os.environ.get("GUNICORN_WORKERS", str((os.cpu_count() or 1) * 2)),
        )
        manage(env, "migrate", "--noinput")
        manage(env, "createcachetable")
        key = shell_json(env, SEED)["key"]
        env["BENCH_WRITE_KEY"] = key

        def steady(port: int) -> dict:
            return offer_steady(port, key, rate=args.rate, seconds=args.seconds)

        def steady_low(port: int) -> dict:  # a quarter of the target rate: latency when not saturated
            return offer_steady(port, key, rate=args.rate / 4, seconds=args.seconds)

        def burst(port: int) -> dict:
            return offer_burst(port, key, events=args.burst)

        plan = [
            ("steady-orm", "orm", 1, steady),
            ("steady-redis", "redis", 1, steady),
            ("steady-redis-2clusters", "redis", 2, steady),
            ("steady-redis-quarter-rate", "redis", 1, steady_low),
            ("burst-redis-1cluster", "redis", 1, burst),
            ("burst-redis-2clusters", "redis", 2, burst),
            ("burst-slowfake-redis-1cluster", "redis", 1, burst),
            ("burst-slowfake-redis-2clusters", "redis", 2, burst),
        ]
        wanted = set(filter(None, args.runs.split(",")))
        runs = [
            one_run(label, env, arrivals, broker=broker, clusters=clusters, load=load, io_bound="slowfake" in label)
            for label, broker, clusters, load in plan
            if not wanted or label in wanted
        ]
    write_result(
        "e2e",
        {
            "database": "postgresql",
            "offered_rate_per_second": args.rate,
            "steady_seconds": args.seconds,
            "burst_events": args.burst,
            "fake_latency_ms": FAKE_DELAY * 1000,
            "gunicorn_workers": env["GUNICORN_WORKERS"],
            "q_workers_per_cluster": os.environ.get("Q_WORKERS", "2"),
            "runs": merge_runs(runs) if args.runs else runs,
        },
    )


def merge_runs(runs: list[dict]) -> list[dict]:
    """A partial run (--runs) replaces its labels in the last results and keeps the others."""
    path = ROOT / "bench" / "results" / "e2e.json"
    previous = json.loads(path.read_text())["runs"] if path.exists() else []
    fresh = {r["run"]: r for r in runs}
    merged = [fresh.pop(r["run"], r) for r in previous]
    return merged + list(fresh.values())


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    main()
