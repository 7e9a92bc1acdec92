"""Why identity resolution slows at 1M profiles: EXPLAIN (ANALYZE, BUFFERS) of the resolver's lookup.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/recapture .venv/bin/python bench/identity_explain.py

Seeds 10k then 1M profiles (bench/identity.py's COPY seeding, database ``<name>_bench``)
and runs, three times at each size, the locked identifier lookup ``BatchResolver.load``
issues (80 keys: 40 emails, 40 anonymous ids): execution time and shared-buffer
hits/reads, with the table sizes. Writes bench/results/identity_explain.json.
"""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_spec = importlib.util.spec_from_file_location("identity_bench", ROOT / "bench" / "identity.py")
ib = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ib)

LOOKUP = (
    "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT * FROM identity_identifier WHERE merchant_id = %s AND "
    "((type = 'email' AND value = ANY(%s)) OR (type = 'anonymous_id' AND value = ANY(%s))) ORDER BY id FOR UPDATE"
)


def explain(merchant, profiles: int) -> list[dict]:
    from django.db import connection

    rng = random.Random(1)
    emails = [f"p{rng.randrange(profiles)}@bench.io" for _ in range(40)]
    anons = [f"a{rng.randrange(profiles)}" for _ in range(40)]
    out = []
    for _ in range(3):
        with connection.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute(LOOKUP, [merchant.pk, emails, anons])
            plan = cur.fetchone()[0][0]
            cur.execute("ROLLBACK")
        top = plan["Plan"]
        out.append(
            {
                "ms": plan["Execution Time"],
                "shared_hit": top.get("Shared Hit Blocks"),
                "shared_read": top.get("Shared Read Blocks"),
            }
        )
    return out


def main() -> None:
    from django.db import connection

    url = ib.bench_database_url()
    ib.ensure_database(url)
    ib.setup_django(url)
    merchant = ib.reset("identity-explain")
    results, seeded = [], 0
    for profiles in (10_000, 1_000_000):
        ib.seed_profiles(merchant, seeded, profiles)
        seeded = profiles
        with connection.cursor() as cur:
            cur.execute(
                "SELECT pg_size_pretty(pg_total_relation_size('identity_identifier')),"
                " pg_size_pretty(pg_total_relation_size('identity_profile')), current_setting('shared_buffers')"
            )
            identifiers, profile_size, shared_buffers = cur.fetchone()
        row = {
            "profiles": profiles,
            "identifier_table_with_indexes": identifiers,
            "profile_table_with_indexes": profile_size,
            "shared_buffers": shared_buffers,
            "lookup_80_keys": explain(merchant, profiles),
        }
        print(json.dumps(row), flush=True)
        results.append(row)
    path = ROOT / "bench" / "results" / "identity_explain.json"
    path.write_text(json.dumps({"benchmark": "identity_explain", "results": results}, indent=2) + "\n")
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
