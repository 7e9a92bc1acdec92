"""Loop Returns API client: the Detailed Returns List, paginated (GET /api/v1/warehouse/return/list).

Auth is the ``X-Authorization`` header (an API key with the Returns scope). Loop caps a
from/to range at 120 days, so longer ranges are walked window by window; each page's
``nextPageUrl`` is followed only while it stays on the configured API host, and HTTP
redirects are never followed (requests would re-send ``X-Authorization`` to any host: it
only strips ``Authorization``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import requests
from django.conf import settings

from returns.exceptions import LoopApiError

LIST_PATH = "/api/v1/warehouse/return/list"
MAX_WINDOW = timedelta(days=120)
PAGE_SIZE = 250
MAX_PAGES = 10_000
TIMEOUT = (5, 30)


def loop_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def windows(since: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
    """[since, until) split into ranges of at most 120 days."""
    spans, start = [], since
    while start < until:
        end = min(start + MAX_WINDOW, until)
        spans.append((start, end))
        start = end
    return spans


class LoopReturnsClient:
    def __init__(self, *, api_key: str, base_url: str | None = None, session: requests.Session | None = None) -> None:
        self.api_key = api_key
        self.base_url = (base_url or settings.LOOP_RETURNS_API_URL).rstrip("/")
        self.session = session or requests.Session()

    def iter_returns(self, *, since: datetime, until: datetime) -> Iterator[dict[str, Any]]:
        for start, end in windows(since, until):
            params = {
                "from": loop_time(start),
                "to": loop_time(end),
                "filter": "created_at",
                "paginate": "true",
                "pageSize": str(PAGE_SIZE),
            }
            yield from self._pages(self.base_url + LIST_PATH, params)

    def _pages(self, url: str, params: dict[str, str] | None) -> Iterator[dict[str, Any]]:
        for _ in range(MAX_PAGES):
            data = self._get(url, params)
            rows = data.get("returns", []) if isinstance(data, dict) else data
            yield from (row for row in rows if isinstance(row, dict))
            next_url = data.get("nextPageUrl") if isinstance(data, dict) else None
            if not next_url:
                return
            if not next_url.startswith(self.base_url + "/"):
                raise LoopApiError("Loop returned a next page on another host; refusing to send the API key there.")
            url, params = next_url, None
        raise LoopApiError("Too many pages from Loop's returns list.")

    def _get(self, url: str, params: dict[str, str] | None) -> Any:
        headers = {"X-Authorization": self.api_key, "Accept": "application/json"}
        try:
            response = self.session.get(url, params=params, headers=headers, timeout=TIMEOUT, allow_redirects=False)
        except requests.RequestException as exc:
            raise LoopApiError(f"Loop API unreachable: {type(exc).__name__}") from exc
        if response.is_redirect or 300 <= response.status_code < 400:
            raise LoopApiError(
                f"Loop API answered a redirect ({response.status_code}); not following it with the API key."
            )
        if response.status_code != 200:
            raise LoopApiError(f"Loop API answered {response.status_code}: {response.text[:200]}")
        try:
            return response.json()
        except ValueError as exc:
            raise LoopApiError("Loop API answered with a non-JSON body.") from exc
