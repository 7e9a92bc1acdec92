"""Ingest problems per merchant: refused requests and unknown event types, counted cheaply.

The first question a merchant asks is "why isn't it tracking?". Every refused ingest
request (bad origin, missing or rotated key, invalid body or events, too large, wrong
content type, rate limited) and every event of a non-standard type is tallied here, per
merchant, per hour, per reason: a count, the refusal codes, up to MAX_ORIGINS origins
with their counts, and one redacted sample (the latest).

Cost and bounds (a hostile client must not turn this into a write amplifier):
- nothing is written per request: each process adds to an in-memory tally and writes it
  to the shared cache at most once every INGEST_PROBLEMS_FLUSH_SECONDS per merchant-hour
  (the first refusal of a merchant-hour is written at once, so a single test shows up);
- one cache entry per merchant-hour, a few kilobytes at most (origins capped, sample
  truncated), kept KEEP_HOURS + 1 hours;
- the read-modify-write of an entry is not atomic across processes: two processes
  flushing the same second may lose a few counts. These are diagnostics, not billing.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache

HOUR = 3600
KEEP_HOURS = 24
MAX_ORIGINS = 10
SAMPLE_CHARS = 300
OTHER_ORIGINS = "(other origins)"

# refusal code -> reason group
REASON_OF_CODE = {
    "origin_not_allowed": "origin",
    "write_key_missing": "key",
    "write_key_invalid": "key",
    "payload_too_large": "size",
    "batch_too_large": "size",
    "unsupported_media_type": "content_type",
    "rate_limited": "rate",
    "unknown_event_type": "unknown_type",
}
# reason group -> (title, what to do)
REASONS = {
    "origin": (
        "Origin not allowed",
        "Add the store's origin (e.g. https://shop.com) to the merchant's allowed origins.",
    ),
    "key": (
        "Write key missing or not valid",
        "A rotated key? Re-install the pixel snippet shown on the merchant page.",
    ),
    "schema": ("Invalid body or events", "The pixel or a custom integration sends malformed JSON or events."),
    "size": ("Request too large", "Batches are limited in events and bytes; send smaller batches."),
    "content_type": ("Wrong content type", "Send application/json or text/plain."),
    "rate": ("Rate limited", "More requests than the limits allow: a loop in a custom integration, or abuse."),
    "unknown_type": (
        "Events of an unknown type (accepted)",
        "Stored, but forwarded only where a destination lists the type as a custom event. A typo?",
    ),
    "other": ("Other refusals", ""),
}


def reason_of(code: str) -> str:
    return REASON_OF_CODE.get(code, "schema" if code else "other")


@dataclass(slots=True)
class Tally:
    count: int = 0
    codes: dict[str, int] = field(default_factory=dict)
    origins: dict[str, int] = field(default_factory=dict)
    sample: dict[str, Any] | None = None
    last_at: float = 0.0

    def add(self, *, count: int, code: str, origin: str, sample: dict[str, Any] | None, at: float) -> None:
        self.count += count
        self.codes[code] = self.codes.get(code, 0) + count
        origin = origin or "(no origin)"
        if origin not in self.origins and len(self.origins) >= MAX_ORIGINS:
            origin = OTHER_ORIGINS
        self.origins[origin] = self.origins.get(origin, 0) + count
        if sample is not None:
            self.sample = sample
        self.last_at = max(self.last_at, at)

    def merge(self, other: Tally) -> None:
        for code, n in other.codes.items():
            self.codes[code] = self.codes.get(code, 0) + n
        for origin, n in other.origins.items():
            if origin not in self.origins and len(self.origins) >= MAX_ORIGINS:
                origin = OTHER_ORIGINS
            self.origins[origin] = self.origins.get(origin, 0) + n
        self.count += other.count
        if other.sample is not None and other.last_at >= self.last_at:
            self.sample = other.sample
        self.last_at = max(self.last_at, other.last_at)

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "codes": self.codes,
            "origins": self.origins,
            "sample": self.sample,
            "last_at": self.last_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Tally:
        return cls(
            count=int(data.get("count", 0)),
            codes=dict(data.get("codes", {})),
            origins=dict(data.get("origins", {})),
            sample=data.get("sample"),
            last_at=float(data.get("last_at", 0.0)),
        )


# --- Pure helpers --------------------------------------------------------------------

_WRITE_KEY = re.compile(r"\bwk_[A-Za-z0-9_-]+")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
_DIGITS = re.compile(r"\+?\d[\d ()-]{7,}\d")


def redact(text: str, *, limit: int = SAMPLE_CHARS) -> str:
    """Write keys, emails and phone-like numbers masked, then truncated: safe to show to support staff."""
    text = _WRITE_KEY.sub("wk_…", text)
    text = _EMAIL.sub(lambda m: "…@" + m.group(1), text)
    text = _DIGITS.sub("…", text)
    return text if len(text) <= limit else text[:limit] + "…"


def mask_ip(ip: str) -> str:
    """The network, not the shopper: 203.0.113.7 -> 203.0.113.x; IPv6 keeps its first three groups."""
    if "." in ip:
        return ".".join(ip.split(".")[:3]) + ".x"
    if ":" in ip:
        return ":".join(ip.split(":")[:3]) + ":…"
    return ip


def hour_of(at: float) -> int:
    return int(at // HOUR) * HOUR


def cache_key(merchant_id: int, hour: int) -> str:
    return f"ingest-problems:{merchant_id}:{hour}"


# --- Recording (per process, flushed to the shared cache) -----------------------------

_lock = threading.Lock()
_pending: dict[str, dict[str, Tally]] = {}  # cache key -> reason -> tally not yet written
_flushed_at: dict[str, float] = {}


def record_problem(
    merchant_id: int,
    *,
    code: str,
    origin: str = "",
    sample: dict[str, Any] | None = None,
    count: int = 1,
    now: float | None = None,
) -> None:
    """Count ``count`` problems of ``code`` for a merchant; cheap enough to call on every refusal."""
    now = time.time() if now is None else now
    key = cache_key(merchant_id, hour_of(now))
    reason = reason_of(code)
    with _lock:
        tallies = _pending.setdefault(key, {})
        tallies.setdefault(reason, Tally()).add(count=count, code=code, origin=origin, sample=sample, at=now)
        every = settings.INGEST_PROBLEMS_FLUSH_SECONDS
        due = [k for k in _pending if now - _flushed_at.get(k, -1e18) >= every]
        batches = [(k, _pending.pop(k)) for k in due]
        for k in due:
            _flushed_at[k] = now
        for stale in [k for k, at in _flushed_at.items() if at < now - 2 * HOUR and k not in _pending]:
            del _flushed_at[stale]
    for k, batch in batches:
        _write(k, batch)


def _write(key: str, batch: dict[str, Tally]) -> None:
    try:
        stored = cache.get(key) or {}
        for reason, tally in batch.items():
            merged = Tally.from_dict(stored.get(reason, {}))
            merged.merge(tally)
            stored[reason] = merged.as_dict()
        cache.set(key, stored, (KEEP_HOURS + 1) * HOUR)
    except Exception:  # noqa: BLE001 - diagnostics never fail the request they describe
        return


def reset() -> None:
    """Forget this process's unwritten tallies (tests)."""
    with _lock:
        _pending.clear()
        _flushed_at.clear()


# --- Reading -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    reason: str
    title: str
    hint: str
    count: int
    codes: list[tuple[str, int]]
    origins: list[tuple[str, int]]
    sample: dict[str, Any] | None
    last_at: float


def list_problems(merchant_id: int, *, now: float | None = None, hours: int = KEEP_HOURS) -> list[Problem]:
    """The merchant's problems of the last ``hours`` hours, one row per reason, most frequent first."""
    now = time.time() if now is None else now
    keys = [cache_key(merchant_id, hour_of(now) - i * HOUR) for i in range(hours)]
    totals: dict[str, Tally] = {}
    for stored in cache.get_many(keys).values():
        for reason, data in (stored or {}).items():
            totals.setdefault(reason, Tally()).merge(Tally.from_dict(data))
    rows = [
        Problem(
            reason=reason,
            title=REASONS.get(reason, REASONS["other"])[0],
            hint=REASONS.get(reason, REASONS["other"])[1],
            count=t.count,
            codes=sorted(t.codes.items(), key=lambda kv: -kv[1]),
            origins=sorted(t.origins.items(), key=lambda kv: -kv[1]),
            sample=t.sample,
            last_at=t.last_at,
        )
        for reason, t in totals.items()
    ]
    return sorted(rows, key=lambda p: -p.count)
