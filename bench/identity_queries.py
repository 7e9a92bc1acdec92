"""Where identity resolution spends its time at 10k and at 1M profiles, statement by statement.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/recapture .venv/bin/python bench/identity_queries.py

Runs bench/identity.py's method (same database, seeding, events and passes) and records,
per pass, the wall time of each statement the resolver issues (grouped by statement
shape, with the rows it touched), the WAL and full-page images written, and the CPU
seconds of the Python process and of its PostgreSQL backend (robust to other load on a
shared machine, unlike wall time); then, for one batch of
a further pass at each scale, ``EXPLAIN (ANALYZE, BUFFERS, WAL)`` of every statement (run
inside a savepoint that is rolled back, before the real statement). Writes
bench/results/identity_queries.json.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_spec = importlib.util.spec_from_file_location("identity_bench", ROOT / "bench" / "identity.py")
ib = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ib)

RESULTS = ROOT / "bench" / "results" / "identity_queries.json"


def shape(sql: str) -> str:
    """A short, stable label for a statement: verb, table and the first filter."""
    sql = re.sub(r"\s+", " ", sql)
    verb = sql.split(" ", 1)[0].upper()
    table = re.search(r'(?:FROM|INTO|UPDATE) "?(\w+)"?', sql)
    where = re.search(r"WHERE (.{0,60})", sql)
    return f"{verb} {table.group(1) if table else '?'} {where.group(1) if where else ''}".strip()[:110]


class Recorder:
    """execute_wrapper: wall time and rowcount per statement shape."""

    def __init__(self) -> None:
        self.stats: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0])

    def __call__(self, execute, sql, params, many, context):
        began = time.perf_counter()
        result = execute(sql, params, many, context)
        entry = self.stats[shape(sql)]
        entry[0] += 1
        entry[1] += time.perf_counter() - began
        entry[2] += max(context["cursor"].rowcount, 0)
        return result

    def summary(self) -> dict[str, dict]:
        return {
            k: {"count": v[0], "ms": round(v[1] * 1000, 1), "rows": v[2]}
            for k, v in sorted(self.stats.items(), key=lambda kv: -kv[1][1])
        }


class Explainer:
    """execute_wrapper: EXPLAIN (ANALYZE, BUFFERS) each statement in a rolled-back savepoint first."""

    def __init__(self) -> None:
        self.plans: list[dict] = []

    def __call__(self, execute, sql, params, many, context):
        cursor = context["cursor"]
        if not many and sql.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE")):
            cursor.execute("SAVEPOINT explain_probe")
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, WAL, FORMAT JSON) " + sql, params)
            plan = cursor.fetchone()[0][0]
            cursor.execute("ROLLBACK TO SAVEPOINT explain_probe")
            self.plans.append(_plan_summary(shape(sql), plan))
        return execute(sql, params, many, context)


def _plan_summary(label: str, plan: dict) -> dict:
    nodes: list[str] = []

    def walk(node: dict, depth: int) -> None:
        index = node.get("Index Name", node.get("Relation Name", ""))
        nodes.append(f"{'  ' * depth}{node['Node Type']} {index} rows={node.get('Actual Rows')}")
        for child in node.get("Plans", []):
            walk(child, depth + 1)

    top = plan["Plan"]
    walk(top, 0)
    return {
        "statement": label,
        "ms": round(plan["Execution Time"], 3),
        "shared_hit": top.get("Shared Hit Blocks"),
        "shared_read": top.get("Shared Read Blocks"),
        "shared_dirtied": top.get("Shared Dirtied Blocks"),
        "shared_written": top.get("Shared Written Blocks"),
        "wal_bytes": top.get("WAL Bytes"),
        "wal_fpi": top.get("WAL FPI"),
        "plan": nodes,
    }


def timed_pass(merchant, *, scale: int, rng: random.Random, events: int, batch: int) -> dict:
    from django.db import connection

    from identity.services import resolve_events

    evs = ib.make_events(merchant, count=events, profiles=scale, rng=rng)
    recorder = Recorder()
    before = server_counters()
    cpu_before = (time.process_time(), backend_cpu())
    began = time.perf_counter()
    with connection.execute_wrapper(recorder):
        for start in range(0, len(evs), batch):
            resolve_events(events=evs[start : start + batch])
    total = time.perf_counter() - began
    cpu = {"python_cpu_s": time.process_time() - cpu_before[0], "backend_cpu_s": backend_cpu() - cpu_before[1]}
    after = server_counters()
    sql_ms = sum(v[1] for v in recorder.stats.values()) * 1000
    ib.reset_to_seed(merchant, scale)
    counters = {k: after[k] - before[k] for k in before}
    counters.update({k: round(v, 3) for k, v in cpu.items()})
    return {
        "seconds": round(total, 3),
        "sql_ms": round(sql_ms, 1),
        "server": counters,
        "statements": recorder.summary(),
    }


def backend_cpu() -> float:
    """CPU seconds (user + system) of this connection's PostgreSQL backend, when on this host."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_counters() -> dict[str, int]:
    """WAL written, full-page images, checkpoints and backend buffer reads, cluster-wide."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT (SELECT pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint, w.wal_fpi, w.wal_records, "
            "b.checkpoints_timed + b.checkpoints_req, b.buffers_checkpoint, b.buffers_backend, "
            "(SELECT blks_read FROM pg_stat_database WHERE datname = current_database()) "
            "FROM pg_stat_wal w, pg_stat_bgwriter b"
        )
        keys = (
            "wal_bytes",
            "wal_fpi",
            "wal_records",
            "checkpoints",
            "buffers_checkpoint",
            "buffers_backend",
            "blks_read",
        )
        return dict(zip(keys, (int(v) for v in cur.fetchone()), strict=True))


def explained_batch(merchant, *, scale: int, rng: random.Random, batch: int) -> list[dict]:
    from django.db import connection

    from identity.services import resolve_events

    evs = ib.make_events(merchant, count=batch, profiles=scale, rng=rng)
    explainer = Explainer()
    with connection.execute_wrapper(explainer):
        resolve_events(events=evs)
    ib.reset_to_seed(merchant, scale)
    return explainer.plans


def sizes() -> dict[str, str]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT c.relname, pg_size_pretty(pg_relation_size(c.oid)) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public' "
            "WHERE c.relkind IN ('r', 'i') AND (c.relname LIKE 'identity_%%' OR c.relname LIKE 'identifier_%%' "
            "OR c.relname LIKE 'events_event%%' OR c.relname LIKE 'event_%%') ORDER BY pg_relation_size(c.oid) DESC"
        )
        return dict(cur.fetchall())


def main() -> None:
    url = ib.bench_database_url()
    ib.ensure_database(url)
    ib.setup_django(url)
    from events.models import Event

    rng = random.Random(42)
    merchant = ib.reset("identity-bench")
    out, seeded = [], 0
    for scale in (10_000, 1_000_000):
        ib.seed_profiles(merchant, seeded, scale)
        seeded = scale
        Event.objects.filter(merchant=merchant).delete()
        passes = [timed_pass(merchant, scale=scale, rng=rng, events=2000, batch=100) for _ in range(6)]
        row = {"profiles": scale, "passes": passes, "sizes": sizes()}
        row["explain"] = explained_batch(merchant, scale=scale, rng=rng, batch=100)
        print(json.dumps({"profiles": scale, "seconds": [p["seconds"] for p in passes]}), flush=True)
        out.append(row)
    RESULTS.write_text(json.dumps({"benchmark": "identity_queries", "results": out}, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
