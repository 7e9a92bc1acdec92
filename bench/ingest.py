"""Ingest benchmark: gunicorn with production settings on PostgreSQL under wrk on loopback.

    .venv/bin/python bench/ingest.py                 # or: make bench
    .venv/bin/python bench/ingest.py --duration 10 --sizes 1,10,50,200,500

A fresh database ``recapture_bench`` (on the server of DATABASE_URL, default
postgres://postgres@127.0.0.1:5432) is migrated; gunicorn runs config/gunicorn.py
(DJANGO_DEBUG=false, generated secrets, DJANGO_SECURE_SSL_REDIRECT=false, the configured
broker: ORM unless Q_BROKER=redis) with BENCH_ENDPOINTS=true so the bare-DRF ceiling
``POST /bench/ceiling`` is measured in the same run. wrk (bench/ingest.lua) sends realistic
mixed events from a skewed set of hot visitors, for each batch size, first to the ceiling
then to ``/api/v1/events``. No worker runs: queued processing tasks wait in the broker
(the end-to-end benchmark measures the whole pipeline). Every accepted event is counted
in the database afterwards (nothing dropped). The machine has few cores: wrk competes with
the server for them. Writes bench/results/ingest.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

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

LUA = ROOT / "bench" / "ingest.lua"
REDIS_BENCH_URL = "redis://127.0.0.1:6379/9"  # a Redis database of its own, flushed per run
MERCHANT = """
import json
from events.services import create_merchant
m = create_merchant("Bench", shop_domain="bench.myshopify.com")
print(json.dumps({"key": m.write_key}))
"""
COUNT = """
import json
from events.models import Event
print(json.dumps({"events": Event.objects.count()}))
"""


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_BENCH_URL).flushdb()


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk missing: apt-get install -y wrk", flush=True)
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, capture_output=True)
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "update", "-q"], check=False, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, capture_output=True)
    return shutil.which("wrk") or sys.exit("wrk could not be installed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}"}
    with open(log, "w") as handle:
        process = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "gunicorn"), "config.wsgi:application", "-c", "config/gunicorn.py"],
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(log.read_text()[-3000:])
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    wait_for(ready, timeout=30, message="gunicorn")
    return process, url


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def warm_up(url: str, key: str) -> None:
    """Every gunicorn worker loads Django lazily on its first request: get that out of the way."""
    port = int(url.rsplit(":", 1)[1])
    for n in range(40):
        for path in ("/bench/ceiling", "/api/v1/events"):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            body = json.dumps({"event_id": f"warm-{uuid.uuid4().hex}", "type": "PageView", "anonymous_id": f"w{n}"})
            conn.request("POST", path, body, {"Content-Type": "text/plain", "X-Write-Key": key})
            status = conn.getresponse().status
            conn.close()
            if status != 202:
                raise RuntimeError(f"warm-up {path}: HTTP {status}")


def run_wrk(wrk: str, url: str, *, path: str, size: int, key: str, seconds: int, connections: int) -> dict:
    run = uuid.uuid4().hex[:8]
    args = [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(LUA), url]
    args += ["--", str(size), path, key, run, "20000"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60, check=True)
    found = re.search(r"WRK_JSON (\{.*\})", done.stdout)
    if not found:
        raise RuntimeError(done.stdout + done.stderr)
    raw = json.loads(found.group(1))
    seconds_run = raw["duration_us"] / 1e6
    errors = sum(raw["errors"].values())
    ok = raw["requests"] - raw["errors"]["status"]
    return {
        "requests": raw["requests"],
        "requests_per_second": round(raw["requests"] / seconds_run, 1),
        "events_per_second": round(ok * size / seconds_run, 1),
        "events_accepted": ok * size,
        "errors": errors,
        "error_detail": raw["errors"],
        "latency_ms": {k: round(v / 1000, 2) for k, v in raw["latency_us"].items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--sizes", default="1,10,50,200,500")
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    wrk = ensure_wrk()
    url_db = pg_url()
    recreate_database(url_db)
    broker = os.environ.get("BENCH_BROKER", "redis")
    extra = {"REDIS_URL": REDIS_BENCH_URL, "Q_REDIS_URL": REDIS_BENCH_URL} if broker == "redis" else {}
    env = production_env(
        url_db,
        BENCH_ENDPOINTS="true",
        Q_BROKER=broker,
        # One client address and one key stand for a whole storefront's visitors: the counters
        # still run on every request, with limits set out of reach.
        INGEST_RATE_LIMIT_PER_IP="1000000000",
        INGEST_RATE_LIMIT_PER_KEY="1000000000",
        **extra,
    )
    flush_redis()
    manage(env, "migrate", "--noinput")
    manage(env, "createcachetable")
    key = shell_json(env, MERCHANT)["key"]
    log = ROOT / "bench" / "results" / "logs" / "ingest-gunicorn.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    server, url = start_gunicorn(env, log)
    rows = []
    try:
        with RssSampler({"web": server.pid}) as rss:
            warm_up(url, key)
            for path in ("/bench/ceiling", "/api/v1/events"):
                run_wrk(wrk, url, path=path, size=10, key=key, seconds=3, connections=args.connections)
            for size in [int(s) for s in args.sizes.split(",")]:
                row = {"batch_size": size}
                for name, path in (("ceiling", "/bench/ceiling"), ("ingest", "/api/v1/events")):
                    row[name] = run_wrk(
                        wrk, url, path=path, size=size, key=key, seconds=args.duration, connections=args.connections
                    )
                row["ratio_to_ceiling"] = round(
                    row["ingest"]["events_per_second"] / row["ceiling"]["events_per_second"], 3
                )
                print(json.dumps(row), flush=True)
                rows.append(row)
    finally:
        stop(server)
    stored = shell_json(env, COUNT)["events"]
    flush_redis()  # the queued processing tasks (no worker ran)
    expected = sum(r["ingest"]["events_accepted"] for r in rows)
    workers = os.environ.get("GUNICORN_WORKERS") or str((os.cpu_count() or 1) * 2)
    doc = {
        "database": "postgresql",
        "broker": broker,
        "cache": "redis" if broker == "redis" else "database",
        "server": f"gunicorn config/gunicorn.py ({workers} sync workers), DJANGO_DEBUG=false",
        "load_generator": f"wrk -t2 -c{args.connections}, {args.duration}s per point, same machine",
        "results": rows,
        "events_stored": stored,
        "events_accepted_measured": expected,
        "warmup_events_note": "80 warm-up requests and a 3 s wrk warm-up (batches of 10) are stored too, not counted",
        "rss_mb_peak": rss.peaks and max(rss.peaks.values()),
        "rss_mb_peak_by_process": {k: round(v, 1) for k, v in sorted(rss.peaks.items())},
    }
    write_result("ingest", doc)


if __name__ == "__main__":
    main()
