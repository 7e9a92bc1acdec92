"""Plots for docs/BENCHMARKS.md from bench/results/*.json (matplotlib, bench-only requirement).

.venv/bin/python bench/plot.py      # writes docs/bench/ingest_throughput.png, docs/bench/latency.png
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
OUT = ROOT / "docs" / "bench"


def load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def ingest_plot(doc: dict) -> Path:
    rows = doc["results"]
    sizes = [r["batch_size"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    left.plot(sizes, [r["ingest"]["events_per_second"] for r in rows], "o-", label="ingest /api/v1/events")
    left.plot(sizes, [r["ceiling"]["events_per_second"] for r in rows], "s--", label="bare DRF ceiling")
    left.axhline(10_000, color="grey", linestyle=":", label="target 10,000 events/s")
    left.set(xscale="log", yscale="log", xlabel="events per request", ylabel="events/s")
    left.set_title("Ingest throughput vs. batch size")
    left.legend(fontsize=8)
    for key, style in (("p50", "o-"), ("p99", "^-")):
        right.plot(sizes, [r["ingest"]["latency_ms"][key] for r in rows], style, label=f"ingest {key}")
        right.plot(
            sizes,
            [r["ceiling"]["latency_ms"][key] for r in rows],
            style.replace("-", "--"),
            alpha=0.6,
            label=f"ceiling {key}",
        )
    right.set(xscale="log", yscale="log", xlabel="events per request", ylabel="request latency (ms)")
    right.set_title("Request latency percentiles (wrk, same machine)")
    right.legend(fontsize=8)
    fig.suptitle(_subtitle(doc), fontsize=8)
    fig.tight_layout()
    return _save(fig, "ingest_throughput.png")


def latency_plot(doc: dict) -> Path:
    runs = doc["runs"]
    labels = [r["run"] for r in runs]
    fig, ax = plt.subplots(figsize=(11, 4.2))
    width = 0.25
    for i, key in enumerate(("p50", "p95", "p99")):
        values = [max(r["latency_ms"][key], 1) for r in runs]
        ax.bar([x + (i - 1) * width for x in range(len(runs))], values, width, label=key)
    ax.axhline(1000, color="grey", linestyle=":", label="p95 target 1 s")
    ax.set_xticks(range(len(runs)), [label.replace("-redis", "\nredis") for label in labels], fontsize=7)
    ax.set(yscale="log", ylabel="pixel POST -> arrival at fake Klaviyo (ms)")
    ax.set_title(
        f"End-to-end latency percentiles (steady: {doc['offered_rate_per_second']:.0f} events/s offered;"
        f" burst: {doc['burst_events']:,} events at once)"
    )
    ax.legend(fontsize=8)
    fig.suptitle(_subtitle(doc), fontsize=8)
    fig.tight_layout()
    return _save(fig, "latency.png")


def _subtitle(doc: dict) -> str:
    m = doc["machine"]
    return f"{m['cores']} cores, {m['memory_gb']} GB, {m['cpu']}; run {doc['run_at']}"


def _save(fig: object, name: str) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / name
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path.relative_to(ROOT)}")
    return path


def main() -> None:
    ingest, e2e = load("ingest"), load("e2e")
    if ingest is None and e2e is None:
        sys.exit("no results yet: run the benchmarks first")
    if ingest:
        ingest_plot(ingest)
    if e2e:
        latency_plot(e2e)


if __name__ == "__main__":
    main()
