"""The Klaviyo calls backup-flow provisioning makes, through the engine's Transport.

Reads always go out (they change nothing). Writes go through ``write``: in a plan (dry
run) that transport only records the request, so the caller can show every body.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from destinations.clients.base import HttpRequest, Transport, outcome_of
from destinations.clients.klaviyo import KlaviyoClient

MAX_PAGES = 20

# Scopes each call needs (x-klaviyo-scopes in the spec), named in errors so staff can fix the key.
SCOPES = {
    "metrics": "metrics:read",
    "flow-triggers": "flows:read metrics:read",
    "flows": "flows:read",
    "flow": "flows:read",
    "flow-create": "flows:write",
    "template-create": "templates:write",
    "seed-event": "events:write",
    "flow-values": "flows:read",
}


class FlowsApiError(Exception):
    def __init__(self, step: str, message: str, status_code: int | None) -> None:
        scope = f" (needs scope {SCOPES[step]})" if status_code in (401, 403) and step in SCOPES else ""
        super().__init__(f"{step}: {message}{scope}")
        self.step = step
        self.status_code = status_code


@dataclass
class KlaviyoFlowsApi:
    client: KlaviyoClient
    read: Transport
    write: Transport
    planned: list[HttpRequest] = field(default_factory=list)

    def _request(self, step: str, method: str, path: str, *, body: Any = None, params: dict | None = None):
        headers = self.client.headers()
        if body is None:
            headers = {k: v for k, v in headers.items() if k != "content-type"}
        return HttpRequest(
            step=step, method=method, url=self.client.url(path), headers=headers, json=body, params=params
        )

    def _send(self, request: HttpRequest, transport: Transport) -> Any:
        outcome = outcome_of(request, transport(request))
        if outcome.result is not None and outcome.result.dry_run:
            self.planned.append(request)
            return None
        if not outcome.ok:
            raise FlowsApiError(request.step, outcome.message, outcome.result.status_code if outcome.result else None)
        return outcome.result.json() if outcome.result.body else None

    def _get(self, step: str, path: str, params: dict | None = None) -> Any:
        return self._send(self._request(step, "GET", path, params=params), self.read)

    def _post(self, step: str, path: str, body: Any) -> Any:
        return self._send(self._request(step, "POST", path, body=body), self.write)

    def _pages(self, step: str, path: str, params: dict | None = None) -> list[dict[str, Any]]:
        """Every item of a cursor-paginated collection (links.next carries page[cursor])."""
        items: list[dict[str, Any]] = []
        params = dict(params or {})
        for _ in range(MAX_PAGES):
            document = self._get(step, path, params) or {}
            items += [d for d in document.get("data") or [] if isinstance(d, dict)]
            cursor = _next_cursor(document)
            if not cursor:
                break
            params["page[cursor]"] = cursor
        return items

    # --- reads --------------------------------------------------------------------
    def metrics(self) -> list[dict[str, Any]]:
        return self._pages("metrics", "/api/metrics")

    def flows_triggered_by(self, metric_id: str) -> list[dict[str, Any]]:
        return self._pages("flow-triggers", f"/api/metrics/{metric_id}/flow-triggers")

    def flows_named(self, name: str) -> list[dict[str, Any]]:
        return self._pages("flows", "/api/flows", {"filter": f"equals(name,{_quote(name)})"})

    def flow(self, flow_id: str) -> dict[str, Any] | None:
        """The flow with its definition, or None when it no longer exists (404)."""
        request = self._request(
            "flow", "GET", f"/api/flows/{flow_id}", params={"additional-fields[flow]": "definition"}
        )
        result = self.read(request)
        if result.status_code == 404:
            return None
        document = self._send(request, lambda _: result) or {}
        return document.get("data")

    def flow_values(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        document = self._send(self._request("flow-values", "POST", "/api/flow-values-reports", body=body), self.read)
        return ((document or {}).get("data") or {}).get("attributes", {}).get("results") or []

    # --- writes (recorded only, in a plan) ------------------------------------------
    def create_flow(self, body: dict[str, Any]) -> dict[str, Any] | None:
        document = self._post("flow-create", "/api/flows", body)
        return (document or {}).get("data")

    def create_template(self, body: dict[str, Any]) -> str:
        document = self._post("template-create", "/api/templates", body)
        return str(((document or {}).get("data") or {}).get("id", ""))

    def send_seed_event(self, body: dict[str, Any]) -> None:
        self._post("seed-event", "/api/events", body)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _next_cursor(document: dict[str, Any]) -> str:
    link = (document.get("links") or {}).get("next")
    if not link:
        return ""
    return (parse_qs(urlsplit(str(link)).query).get("page[cursor]") or [""])[0]
