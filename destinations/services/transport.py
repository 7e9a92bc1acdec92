"""The engine's HTTP transport: a pooled session per process, timing, redaction, dry-run."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter

from destinations.clients.base import DestinationClient, HttpRequest, HttpResult
from destinations.models import ErrorKind
from destinations.retry import RATE_LIMITED_STATUS, Verdict, classify

RESPONSE_BODY_LIMIT = 2000
_local = threading.local()
_lock = threading.Lock()
_shared: dict[str, Any] = {}


def get_session() -> requests.Session:
    """One pooled session per process (rebuilt after a fork)."""
    with _lock:
        if _shared.get("pid") != os.getpid():
            session = requests.Session()
            size = max(10, settings.DELIVERY_THREADS * 2)
            adapter = HTTPAdapter(pool_connections=8, pool_maxsize=size, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            _shared.update(pid=os.getpid(), session=session, executor=None)
        return _shared["session"]


def get_executor() -> ThreadPoolExecutor:
    get_session()
    with _lock:
        if _shared.get("executor") is None:
            _shared["executor"] = ThreadPoolExecutor(
                max_workers=settings.DELIVERY_THREADS, thread_name_prefix="deliver"
            )
        return _shared["executor"]


KIND_BY_VERDICT = {
    Verdict.SUCCESS: ErrorKind.NONE,
    Verdict.RETRY: ErrorKind.SERVER,  # 408, 425, 5xx, Cloudflare's HTML 403
    Verdict.AUTH: ErrorKind.AUTH,
    Verdict.DEAD: ErrorKind.REJECTED,
}


def error_kind_for(
    status_code: int | None, content_type: str = "", *, success_statuses: frozenset[int] = frozenset()
) -> str:
    """The attempt's error kind, from retry.classify's table (a Loops 409 that it counts as
    delivered is no error); a missing response is logged by its exception instead."""
    if status_code is None:
        return ErrorKind.NONE
    if status_code == RATE_LIMITED_STATUS:
        return ErrorKind.RATE_LIMITED
    return KIND_BY_VERDICT[classify(status_code, success_statuses=success_statuses, content_type=content_type)]


class Recorder:
    """A Transport: sends (or in dry-run only records) and keeps one log entry per request."""

    def __init__(self, client: DestinationClient, *, dry_run: bool, session: requests.Session | None = None) -> None:
        self.client = client
        self.dry_run = dry_run
        self.session = session or get_session()
        self.records: list[dict[str, Any]] = []

    def __call__(self, request: HttpRequest) -> HttpResult:
        url = request.url + (f"?{urlencode(request.params)}" if request.params else "")
        record: dict[str, Any] = {
            "step": request.step,
            "method": request.method,
            "url": url[:500],
            "request_headers": self.client.redact(request.headers),
            "dry_run": self.dry_run,
        }
        self.records.append(record)
        if self.dry_run:
            record["request_body"] = request.json
            return HttpResult(None, dry_run=True)
        result = self._send(request)
        record.update(
            status_code=result.status_code,
            duration_ms=result.duration_ms,
            response_body=result.body[:RESPONSE_BODY_LIMIT],
            error_kind=result.error_kind,
            error=result.error,
        )
        return result

    def _send(self, request: HttpRequest) -> HttpResult:
        started = time.monotonic()
        try:
            response = self.session.request(
                request.method,
                request.url,
                headers=request.headers,
                json=request.json,
                params=request.params,
                timeout=settings.DELIVERY_HTTP_TIMEOUT_SECONDS,
                allow_redirects=False,  # never re-send an API key to wherever a 3xx points
            )
        except requests.Timeout as exc:
            return self._failure(ErrorKind.TIMEOUT, exc, started)
        except requests.RequestException as exc:
            return self._failure(ErrorKind.NETWORK, exc, started)
        return HttpResult(
            status_code=response.status_code,
            body=response.text,
            headers={k.lower(): v for k, v in response.headers.items()},
            duration_ms=int((time.monotonic() - started) * 1000),
            error_kind=error_kind_for(
                response.status_code,
                response.headers.get("content-type", ""),
                success_statuses=request.success_statuses,
            ),
        )

    @staticmethod
    def _failure(kind: str, exc: Exception, started: float) -> HttpResult:
        return HttpResult(
            None,
            duration_ms=int((time.monotonic() - started) * 1000),
            error_kind=kind,
            error=f"{type(exc).__name__}: {exc}"[:500],
        )
