"""Render the figures section of docs/BENCHMARKS.md from bench/results/*.json.

    .venv/bin/python bench/report.py

Only the text between the ``<!-- figures:start -->`` and ``<!-- figures:end -->`` markers
is replaced; the analysis around it is written by hand. Each target is marked met or not
from the measured numbers, never typed in.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "BENCHMARKS.md"
START, END = "<!-- figures:start -->", "<!-- figures:end -->"


def load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def mark(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def ingest_section(doc: dict[str, Any]) -> tuple[list[str], list[tuple[str, str, str]]]:
    lines = [
        f"### Ingest ({doc['server']}; broker {doc['broker']}, cache {doc.get('cache', '?')}; {doc['load_generator']})",
        "",
        "| events/request | ingest events/s | ingest p50 / p99 ms | errors | ceiling events/s | ceiling p50 / p99 ms"
        " | ingest / ceiling |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in doc["results"]:
        i, c = r["ingest"], r["ceiling"]
        lines.append(
            f"| {r['batch_size']} | {fmt(i['events_per_second'])} | {i['latency_ms']['p50']} / {i['latency_ms']['p99']}"
            f" | {i['errors']} | {fmt(c['events_per_second'])} | {c['latency_ms']['p50']} / {c['latency_ms']['p99']}"
            f" | {r['ratio_to_ceiling']:.0%} |"
        )
    lines += [
        "",
        f"Events accepted during the measured points: {doc['events_accepted_measured']:,}; rows in the database"
        f" afterwards: {doc['events_stored']:,} (includes the warm-up). Peak web RSS: {doc['rss_mb_peak']:.0f} MB"
        " (largest gunicorn process).",
        "",
    ]
    batched = max(r["ingest"]["events_per_second"] for r in doc["results"] if r["batch_size"] >= 50)
    single = next(r for r in doc["results"] if r["batch_size"] == 1)
    targets = [
        ("Batched ingest >= 10,000 events/s", f"{fmt(batched)} events/s", mark(batched >= 10_000)),
        (
            "Single-event ingest >= 50% of the bare-DRF ceiling",
            f"{single['ratio_to_ceiling']:.0%} ({fmt(single['ingest']['events_per_second'])} vs"
            f" {fmt(single['ceiling']['events_per_second'])} req/s)",
            mark(single["ratio_to_ceiling"] >= 0.5),
        ),
    ]
    return lines, targets


def identity_section(doc: dict[str, Any]) -> tuple[list[str], list[tuple[str, str, str]]]:
    lines = [
        f"### Identity resolution ({doc['events']:,} events in batches of {doc['batch']})",
        "",
        "| profiles | cold s | warm s (median of 5) | warm events/s | queries/event |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in doc["results"]:
        lines.append(
            f"| {r['profiles']:,} | {r['cold']['seconds']} | {r['warm']['seconds']}"
            f" | {fmt(r['warm']['events_per_second'])} | {r['warm']['queries_per_event']} |"
        )
    ratio = doc["time_ratio_largest_vs_smallest"]
    lines += [
        "",
        f"1M / 10k time ratio: cold {ratio['cold']}, warm {ratio['warm']}; queries ratio"
        f" {doc['queries_per_event_ratio']}.",
        "",
    ]
    ok = ratio["warm"] <= 1.3
    return lines, [("Identity 1M-profile time <= 1.3 x 10k", f"warm {ratio['warm']} (cold {ratio['cold']})", mark(ok))]


def delivery_section(doc: dict[str, Any]) -> tuple[list[str], list[tuple[str, str, str]]]:
    lines = [
        f"### Delivery (fake platforms answering in {doc['fake_latency_ms']} ms; {doc['rate_limits']})",
        "",
        "| case | destination | workers | deliveries | seconds | deliveries/s | best 1 s | HTTP requests"
        " | worker RSS MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in doc["results"]:
        lines.append(
            f"| {r['mode']} | {r['destination']} | {r['workers']} | {r['deliveries']:,} | {r['seconds']}"
            f" | {fmt(r['deliveries_per_second'])} | {r['peak_one_second']:,} | {r['http_requests']:,}"
            f" | {r['worker_rss_mb_peak']:.0f} |"
        )
    lines.append("")
    default = doc["default_workers"]
    per_event = [r for r in doc["results"] if r["mode"] == "per_event" and r["workers"] == default]
    drain = [r for r in doc["results"] if r["mode"] == "drain"]
    targets = []
    if per_event:
        r = per_event[0]
        targets.append(
            (
                "Per-event path reaches Klaviyo's 350/s burst ceiling (default workers)",
                f"{fmt(r['deliveries_per_second'])}/s over {r['deliveries']:,}, best second {r['peak_one_second']}",
                mark(r["deliveries_per_second"] >= 0.95 * 350 or r["peak_one_second"] >= 350),
            )
        )
    if drain:
        r = drain[0]
        targets.append(
            (
                f"Bulk path drains {r['deliveries']:,} events in < 2 min",
                f"{r['seconds']} s ({fmt(r['deliveries_per_second'])}/s)",
                mark(r["seconds"] < 120 and r["deliveries"] >= 100_000),
            )
        )
    return lines, targets


def _offered(run: dict[str, Any]) -> str:
    rate = run.get("offered_rate_per_second")
    return f"{rate:.0f}" if rate else "burst"


def e2e_section(doc: dict[str, Any]) -> tuple[list[str], list[tuple[str, str, str]]]:
    lines = [
        f"### End to end and scale-out (pixel POST -> arrival at the fake Klaviyo; steady runs offered"
        f" {doc['offered_rate_per_second']:.0f} events/s for {doc['steady_seconds']:.0f} s; bursts of"
        f" {doc['burst_events']:,} events; gunicorn {doc['gunicorn_workers']} workers, Q_WORKERS"
        f" {doc['q_workers_per_cluster']} per cluster)",
        "",
        "| run | offered/s | broker | clusters | platform ms | accepted | arrived | not arrived | duplicates"
        " | p50 ms | p95 ms | p99 ms | delivered/s (all / first 90%) | RSS MB (web / workers) |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in doc["runs"]:
        rss = r["rss_mb_peak"]
        workers = "/".join(f"{v:.0f}" for k, v in sorted(rss.items()) if k.startswith("worker"))
        lat = r["latency_ms"]
        lines.append(
            f"| {r['run']} | {_offered(r)} | {r['broker']} | {r['clusters']}"
            f" | {r.get('fake_latency_ms', 20):.0f} | {r['accepted']:,}"
            f" | {r['arrived']:,} | {r['lost']} | {r['duplicates']} | {lat['p50']:,} | {lat['p95']:,} | {lat['p99']:,}"
            f" | {fmt(r['delivered_per_second'])} / {_first90(r)}"
            f" | {rss.get('web', 0):.0f} / {workers} |"
        )
    lines.append("")
    targets = []
    for r in doc["runs"]:
        if (
            r["run"].startswith("steady")
            and r.get("offered_rate_per_second", doc["offered_rate_per_second"]) == doc["offered_rate_per_second"]
        ):
            ok = r["latency_ms"]["p95"] < 1000 and r["lost"] == 0 and r["ingest_failures"] == 0
            targets.append(
                (
                    f"End-to-end p95 < 1 s at {doc['offered_rate_per_second']:.0f}/s, nothing lost ({r['run']})",
                    f"p95 {r['latency_ms']['p95']:,} ms, lost {r['lost']}, ingest failures {r['ingest_failures']}",
                    mark(ok),
                )
            )
    dup = sum(r["duplicates"] for r in doc["runs"])
    for kind in ("burst-redis", "burst-slowfake-redis"):
        bursts = {r["clusters"]: r for r in doc["runs"] if r["run"].startswith(kind + "-")}
        if 1 not in bursts or 2 not in bursts:
            continue
        one, two = (
            b.get("delivered_per_second_first_90pct", b["delivered_per_second"]) for b in (bursts[1], bursts[2])
        )
        targets.append(
            (
                f"Scale-out ({kind}): throughput grows with a second cluster, nothing sent twice",
                f"{fmt(one)} -> {fmt(two)} delivered/s (first 90%); duplicates in all runs {dup}",
                mark(two > one * 1.1 and dup == 0),
            )
        )
    return lines, targets


def pipeline_section(doc: dict[str, Any]) -> tuple[list[str], list[tuple[str, str, str]]]:
    lines = [
        "### CPU per event by stage and batch size (bench/pipeline_cpu.py; this process only, fake answering at once)",
        "",
        "| batch | ingest ms (1 event/request) | process ms | deliver ms | total ms |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in doc["results"]:
        lines.append(
            f"| {r['batch']} | {r['ingest_ms_per_event']} | {r['process_ms_per_event']}"
            f" | {r['deliver_ms_per_event']} | {r['total_ms_per_event']} |"
        )
    return [*lines, ""], []


def _first90(run: dict[str, Any]) -> str:
    value = run.get("delivered_per_second_first_90pct")
    return "-" if value is None else fmt(value)


def rss_target(docs: dict[str, dict[str, Any] | None]) -> list[tuple[str, str, str]]:
    peaks = []
    if docs["ingest"]:
        peaks.append(docs["ingest"]["rss_mb_peak"])
    if docs["delivery"]:
        peaks += [r["worker_rss_mb_peak"] for r in docs["delivery"]["results"]]
    if docs["e2e"]:
        peaks += [v for r in docs["e2e"]["runs"] for v in r["rss_mb_peak"].values()]
    if not peaks:
        return []
    return [("Web and worker processes < 200 MB RSS", f"largest {max(peaks):.0f} MB", mark(max(peaks) < 200))]


def render() -> str:
    docs = {name: load(name) for name in ("ingest", "identity", "delivery", "e2e", "pipeline_cpu")}
    first = next(d for d in docs.values() if d)
    machine = first.get("machine") or {}
    body = [
        f"Machine: {machine.get('cores', '?')} cores ({machine.get('cpu', '?')}), {machine.get('memory_gb', '?')} GB"
        f" memory, Python {machine.get('python', '?')}, PostgreSQL and Redis on the same host. Runs:"
        + ", ".join(f" {n} {d.get('run_at') or d.get('measured_at', '?')}" for n, d in docs.items() if d)
        + ".",
        "",
        "Load average (1/5/15 min) when each result was written: "
        + "; ".join(
            f"{n} {d['machine'].get('load_average_1_5_15', '?')}" for n, d in docs.items() if d and d.get("machine")
        )
        + " (2 cores: above 2 means processes outside the benchmark were competing for them).",
        "",
    ]
    targets: list[tuple[str, str, str]] = []
    for name, section in (
        ("ingest", ingest_section),
        ("identity", identity_section),
        ("delivery", delivery_section),
        ("e2e", e2e_section),
        ("pipeline_cpu", pipeline_section),
    ):
        if docs[name]:
            lines, found = section(docs[name])
            body += lines
            targets += found
    targets += rss_target(docs)
    summary = ["### Targets", "", "| target | measured | verdict |", "|---|---|---|"]
    summary += [f"| {t} | {m} | {v} |" for t, m, v in targets]
    return "\n".join([*summary, "", *body])


def main() -> None:
    text = DOC.read_text()
    before, _, rest = text.partition(START)
    _, _, after = rest.partition(END)
    DOC.write_text(f"{before}{START}\n{render()}\n{END}{after}")
    print(f"updated {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
