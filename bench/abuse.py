"""Abuse benchmark: one hostile client posts with the public write key at full speed while
50 shoppers keep posting; prints the shoppers' acceptance rate (docs/SECURITY.md).

gunicorn (config/gunicorn.py, production settings, the default rate limits) on PostgreSQL
(the bench database ``recapture_bench_abuse``) and Redis (database 11, flushed per run),
on loopback only. One reverse proxy is trusted (TRUSTED_PROXY_COUNT=1), so each simulated
client is told apart by the X-Forwarded-For address it sends, as behind a load balancer.

Scenarios, each started at the beginning of a one-minute rate-limit window:
- ``one-address``: the hostile client sends from one address (HOSTILE_THREADS connections);
- ``twenty-addresses``: the same client rotating over 20 addresses.
Shoppers post one event every ``--shopper-interval`` seconds each (default 5: 50 shoppers
send ~600 requests a minute, a third of the run's store quota). The limits are scaled to
what this 2-core machine serves (~60-100 requests/s with shoppers and attacker on it), so
that the hostile client reaches them: --per-ip 600, --per-key 1800, --shed 60 a minute
(production defaults 1200 / 6000 / 120 have the same shape). Bounded: ``--seconds`` per
scenario (default 40) and at most ``--max-requests`` hostile requests per scenario.

    .venv/bin/python bench/abuse.py            # writes bench/results/abuse.json
    .venv/bin/python bench/abuse.py --label before --out abuse-before
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, manage, pg_url, production_env, recreate_database, shell_json, write_result
from bench.ingest import MERCHANT, start_gunicorn, stop

REDIS_URL = "redis://127.0.0.1:6379/11"  # a Redis database of its own (no other bench uses 11), flushed per run
SHOPPERS = 50
HOSTILE_THREADS = 4


class Client:
    """One keep-alive connection posting single events from one (forwarded) address."""

    def __init__(self, port: int, key: str) -> None:
        self.port, self.key = port, key
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(self, ip: str) -> int:
        body = json.dumps({"event_id": uuid.uuid4().hex, "type": "PageView", "anonymous_id": f"a-{ip}"})
        headers = {"Content-Type": "text/plain", "X-Write-Key": self.key, "X-Forwarded-For": ip}
        for _ in range(2):
            try:
                self.conn.request("POST", "/api/v1/events", body, headers)
                response = self.conn.getresponse()
                response.read()
                return response.status
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        return 0


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.codes: dict[int, int] = {}
        self.latencies: list[float] = []

    def add(self, code: int, seconds: float) -> None:
        with self.lock:
            self.codes[code] = self.codes.get(code, 0) + 1
            self.latencies.append(seconds)

    def summary(self) -> dict:
        total = sum(self.codes.values())
        ordered = sorted(self.latencies)

        def pct(p: float) -> float | None:
            return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 1) if ordered else None

        return {
            "requests": total,
            "accepted": self.codes.get(202, 0),
            "refused_429": self.codes.get(429, 0),
            "other": {str(k): v for k, v in self.codes.items() if k not in (202, 429)},
            "acceptance_rate": round(self.codes.get(202, 0) / total, 4) if total else None,
            "latency_ms_p50": pct(0.5),
            "latency_ms_p95": pct(0.95),
        }


def shopper(port: int, key: str, ip: str, stop_at: float, tally: Tally, per_second: list[int], interval: float) -> None:
    client = Client(port, key)
    start = time.monotonic()
    time.sleep(random.uniform(0, interval))
    while time.monotonic() < stop_at:
        began = time.monotonic()
        code = client.post(ip)
        tally.add(code, time.monotonic() - began)
        if code == 202:
            second = int(began - start)
            if second < len(per_second):
                per_second[second] += 1
        time.sleep(max(0.0, interval - (time.monotonic() - began)))


def hostile(port: int, key: str, ips: list[str], stop_at: float, tally: Tally, budget: list[int]) -> None:
    client = Client(port, key)
    n = 0
    while time.monotonic() < stop_at:
        with tally.lock:
            if budget[0] <= 0:
                return
            budget[0] -= 1
        began = time.monotonic()
        code = client.post(ips[n % len(ips)])
        tally.add(code, time.monotonic() - began)
        n += 1


def align_to_window() -> None:
    """Start at the beginning of a one-minute window (1 s in), as the limiter's windows are fixed."""
    time.sleep(60 - time.time() % 60 + 1)


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def run_scenario(
    port: int, key: str, *, name: str, hostile_ips: list[str], seconds: int, max_requests: int, interval: float
) -> dict:
    flush_redis()
    align_to_window()
    stop_at = time.monotonic() + seconds
    shoppers, attacker = Tally(), Tally()
    per_second = [0] * (seconds + 1)
    budget = [max_requests]
    threads = [
        threading.Thread(
            daemon=True,
            target=shopper,
            args=(port, key, f"203.0.{i // 250}.{i % 250 + 1}", stop_at, shoppers, per_second, interval),
        )
        for i in range(SHOPPERS)
    ] + [
        threading.Thread(target=hostile, args=(port, key, hostile_ips, stop_at, attacker, budget), daemon=True)
        for _ in range(HOSTILE_THREADS)
    ]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 60)
    elapsed = time.monotonic() - began
    row = {
        "scenario": name,
        "hostile_addresses": len(hostile_ips),
        "seconds": round(elapsed, 1),
        "shoppers": shoppers.summary(),
        "hostile": attacker.summary(),
        "hostile_requests_per_second": round(sum(attacker.codes.values()) / elapsed, 1),
        "shoppers_accepted_per_10s": [sum(per_second[i : i + 10]) for i in range(0, seconds, 10)],
    }
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=40, help="per scenario (at most 55: one window)")
    parser.add_argument("--max-requests", type=int, default=60_000, help="hostile requests per scenario, at most")
    parser.add_argument("--shopper-interval", type=float, default=5.0, help="seconds between a shopper's events")
    parser.add_argument("--per-ip", default="600", help="INGEST_RATE_LIMIT_PER_IP for the run")
    parser.add_argument("--per-key", default="1800", help="INGEST_RATE_LIMIT_PER_KEY for the run")
    parser.add_argument("--shed", default="60", help="INGEST_RATE_LIMIT_SHED_PER_IP for the run")
    parser.add_argument("--label", default="after")
    parser.add_argument("--out", default="abuse")
    args = parser.parse_args()
    seconds = min(args.seconds, 55)
    url_db = pg_url("recapture_bench_abuse")
    recreate_database(url_db)
    env = production_env(
        url_db,
        REDIS_URL=REDIS_URL,
        Q_REDIS_URL=REDIS_URL,
        Q_BROKER="redis",
        TRUSTED_PROXY_COUNT="1",
        INGEST_RATE_LIMIT_PER_IP=args.per_ip,
        INGEST_RATE_LIMIT_PER_KEY=args.per_key,
        INGEST_RATE_LIMIT_SHED_PER_IP=args.shed,
    )
    flush_redis()
    manage(env, "migrate", "--noinput")
    manage(env, "createcachetable")
    key = shell_json(env, MERCHANT)["key"]
    log = ROOT / "bench" / "results" / "logs" / "abuse-gunicorn.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    server, url = start_gunicorn(env, log)
    port = int(url.rsplit(":", 1)[1])
    rows = []
    try:
        for _ in range(20):  # warm every worker up
            Client(port, key).post("192.0.2.250")
        rows.append(
            run_scenario(
                port,
                key,
                name="one-address",
                hostile_ips=["192.0.2.66"],
                seconds=seconds,
                max_requests=args.max_requests,
                interval=args.shopper_interval,
            )
        )
        rows.append(
            run_scenario(
                port,
                key,
                name="twenty-addresses",
                hostile_ips=[f"192.0.2.{100 + i}" for i in range(20)],
                seconds=seconds,
                max_requests=args.max_requests,
                interval=args.shopper_interval,
            )
        )
    finally:
        stop(server)
        flush_redis()
    limits = shell_json(
        env,
        "import json; from django.conf import settings as s; print(json.dumps({k: getattr(s, k, None) for k in "
        "['INGEST_RATE_LIMIT_PER_IP', 'INGEST_RATE_LIMIT_PER_KEY', 'INGEST_RATE_LIMIT_SHED_PER_IP', "
        "'INGEST_RATE_LIMIT_KEY_CEILING', 'INGEST_RATE_LIMIT_SYNC_SECONDS', 'TRUSTED_PROXY_COUNT']}))",
    )
    write_result(
        args.out,
        {
            "label": args.label,
            "server": "gunicorn config/gunicorn.py (sync workers), DJANGO_DEBUG=false, PostgreSQL, Redis cache",
            "shoppers": SHOPPERS,
            "shopper_interval_seconds": args.shopper_interval,
            "hostile_connections": HOSTILE_THREADS,
            "limits": limits,
            "scenarios": rows,
        },
    )


if __name__ == "__main__":
    main()
