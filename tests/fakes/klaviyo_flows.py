"""A semantic double of Klaviyo's metrics, flows, templates and flow reporting.

It keeps state (metrics, flows, templates, events, flow sends) and answers the calls the
backup-flow provisioning makes, validating every request body against the stable
OpenAPI spec. Each modelled behaviour cites the Klaviyo documentation it comes from:

- "Each event has exactly one metric (effectively the “event type”)" and a metric is named
  by the event ("metric objects should include ... the metric `name`", Create Event): an
  event for an unknown metric name creates that metric.
- Create Event: "Successful response indicates that the event was validated and submitted
  for processing" -> 202 and no body.
- Create Flow: "New objects within the flow definition, such as actions, will need to use a
  `temporary_id` field ... These will be replaced with traditional `id` fields after
  successful creation." An action sent with an ``id`` is refused; ids are assigned.
- FlowDefinition.triggers: "Only one trigger is supported." A metric trigger must name a
  metric of the account (a flow can only trigger on a metric that exists).
- SendEmailActionData.status: default "draft"; Klaviyo's help centre: "If your messages are
  set to Draft they will not send nor will they queue profiles". Flows made by the API
  start as drafts; ``would_fire`` lists only live flows with live email actions.
- Get Metrics: "Returns a maximum of 200 results per page"; Get Flows: "a maximum of 50
  flows per request, which can be paginated with cursor-based pagination" (page sizes are
  configurable here so tests exercise the cursor).
- Get Flows Triggered by Metric: "Get all flows where the given metric is being used as the trigger."
- Query Flow Values: "If not passed in, the data will be grouped by flow_id,
  flow_message_id, send_channel"; conversions need ``conversion_metric_id`` of a metric
  that exists. Burst 1/s, steady 2/m: a third report call within a minute gets a 429.

Use with ``responses``: ``double.install(rsps)``; ``double.handle(...)`` is the transport-free
core, so a threaded HTTP double (tests/fakes/platforms.py) can route to it as well.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema

from tests.destinations.contract import validate_klaviyo_request

BASE = "https://a.klaviyo.com"
Answer = tuple[int, dict[str, Any] | None]


def error(status: int, detail: str) -> Answer:
    return status, {"errors": [{"status": status, "code": "invalid", "title": "Invalid input.", "detail": detail}]}


@dataclass
class KlaviyoFlowsDouble:
    api_key: str
    base_url: str = BASE
    metrics_page_size: int = 200
    flows_page_size: int = 50
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    flows: dict[str, dict[str, Any]] = field(default_factory=dict)
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    sends: list[dict[str, Any]] = field(default_factory=list)  # flow_id, message_id, recipients, conversions, value
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    report_calls: int = 0
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    # --- arranging the account --------------------------------------------------------
    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):04d}"

    def add_metric(self, name: str, integration: str = "API") -> str:
        metric_id = self.new_id("M")
        self.metrics[metric_id] = {"name": name, "integration": {"name": integration, "category": integration}}
        return metric_id

    def add_flow(self, name: str, *, metric_id: str, status: str = "live", definition: dict | None = None) -> str:
        """A merchant's own flow (made in Klaviyo's UI: ids already assigned)."""
        flow_id = self.new_id("F")
        definition = definition or {
            "triggers": [{"type": "metric", "id": metric_id}],
            "actions": [
                {"id": "901", "type": "time-delay", "links": {"next": "902"}, "data": {"unit": "hours", "value": 1}},
                {"id": "902", "type": "send-email", "links": {"next": None}, "data": {"status": status}},
            ],
            "entry_action_id": "901",
            "reentry_criteria": {"duration": 1, "unit": "day"},
            "profile_filter": None,
        }
        self.flows[flow_id] = {"name": name, "status": status, "archived": False, "definition": definition}
        return flow_id

    def record_sends(self, flow_id: str, *, recipients: int, conversions: int, value: float) -> None:
        """What Klaviyo would have measured for a flow (its first email action)."""
        message = next((a["id"] for a in self.flows[flow_id]["definition"]["actions"] if a["type"] == "send-email"), "")
        self.sends.append(
            {
                "flow_id": flow_id,
                "message_id": message,
                "recipients": recipients,
                "conversions": conversions,
                "value": value,
            }
        )

    def metric_id(self, name: str) -> str:
        return next((mid for mid, m in self.metrics.items() if m["name"] == name), "")

    def would_fire(self, metric_name: str) -> list[str]:
        """Flows an event of this metric would start and email from: live flows with a live email only."""
        metric_id = self.metric_id(metric_name)
        return [
            fid
            for fid, flow in self.flows.items()
            if flow["status"] == "live"
            and any(t.get("id") == metric_id for t in flow["definition"]["triggers"])
            and any(
                a["type"] == "send-email" and a["data"].get("status") == "live" for a in flow["definition"]["actions"]
            )
        ]

    # --- the HTTP surface ---------------------------------------------------------------
    def install(self, rsps: Any) -> None:
        pattern = re.compile(re.escape(self.base_url) + r"/api/.*")
        for method in ("GET", "POST", "PATCH"):
            rsps.add_callback(method, pattern, callback=self._callback)

    def _callback(self, request: Any) -> tuple[int, dict[str, str], str]:
        parts = urlsplit(request.url)
        body = json.loads(request.body) if request.body else None
        status, payload = self.handle(request.method, parts.path, parse_qs(parts.query), dict(request.headers), body)
        return status, {"Content-Type": "application/vnd.api+json"}, json.dumps(payload) if payload else ""

    def handle(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str], body: Any) -> Answer:
        self.requests.append((method, path, body))
        if headers.get("Authorization") != f"Klaviyo-API-Key {self.api_key}":
            return error(401, "Incorrect authentication credentials.")
        if not headers.get("revision"):
            return error(400, "A revision header is required.")
        route, args = self._route(method, path)
        if route is None:
            return error(404, f"no route {method} {path}")
        if body is not None:
            try:
                validate_klaviyo_request(self._spec_path(path), method.lower(), body)
            except jsonschema.ValidationError as exc:
                return error(400, f"{exc.message[:300]} at {'/'.join(map(str, exc.absolute_path))}")
        return route(query, body, *args)

    def _route(self, method: str, path: str):
        table = [
            ("GET", r"/api/metrics", self._get_metrics),
            ("GET", r"/api/metrics/([^/]+)/flow-triggers", self._get_flow_triggers),
            ("GET", r"/api/flows", self._get_flows),
            ("GET", r"/api/flows/([^/]+)", self._get_flow),
            ("POST", r"/api/flows", self._create_flow),
            ("PATCH", r"/api/flows/([^/]+)", self._update_flow),
            ("POST", r"/api/templates", self._create_template),
            ("POST", r"/api/events", self._create_event),
            ("POST", r"/api/flow-values-reports", self._flow_values),
        ]
        for verb, pattern, handler in table:
            match = re.fullmatch(pattern, path)
            if verb == method and match:
                return handler, match.groups()
        return None, ()

    @staticmethod
    def _spec_path(path: str) -> str:
        return re.sub(r"^/api/flows/[^/]+$", "/api/flows/{id}", path)

    # --- metrics --------------------------------------------------------------------------
    def _page(self, items: list[dict[str, Any]], query: dict[str, list[str]], size: int, path: str) -> Answer:
        start = int((query.get("page[cursor]") or ["0"])[0] or 0)
        document: dict[str, Any] = {"data": items[start : start + size], "links": {"self": self.base_url + path}}
        if start + size < len(items):
            document["links"]["next"] = f"{self.base_url}{path}?page%5Bcursor%5D={start + size}"
        return 200, document

    def _metric_resource(self, metric_id: str) -> dict[str, Any]:
        return {"type": "metric", "id": metric_id, "attributes": dict(self.metrics[metric_id]), "links": {}}

    def _get_metrics(self, query, body) -> Answer:
        items = [self._metric_resource(m) for m in self.metrics]
        return self._page(items, query, self.metrics_page_size, "/api/metrics")

    def _get_flow_triggers(self, query, body, metric_id: str) -> Answer:
        if metric_id not in self.metrics:
            return error(404, f"Metric {metric_id} does not exist.")
        flows = [
            self._flow_resource(fid, with_definition=False)
            for fid, flow in self.flows.items()
            if any(t.get("type") == "metric" and t.get("id") == metric_id for t in flow["definition"]["triggers"])
        ]
        return 200, {"data": flows, "links": {}}

    def _create_event(self, query, body) -> Answer:
        attributes = body["data"]["attributes"]
        name = attributes["metric"]["data"]["attributes"]["name"]
        metric_id = self.metric_id(name) or self.add_metric(name)
        self.events.append({"metric_id": metric_id, **attributes})
        return 202, None

    # --- flows ----------------------------------------------------------------------------
    def _flow_resource(self, flow_id: str, *, with_definition: bool) -> dict[str, Any]:
        flow = self.flows[flow_id]
        attributes = {k: flow[k] for k in ("name", "status", "archived")} | {"trigger_type": "Metric"}
        if with_definition:
            attributes["definition"] = json.loads(json.dumps(flow["definition"]))
        return {"type": "flow", "id": flow_id, "attributes": attributes, "links": {"self": f"/api/flows/{flow_id}"}}

    def _get_flows(self, query, body) -> Answer:
        wanted = re.fullmatch(r'equals\(name,"(.*)"\)', (query.get("filter") or [""])[0])
        items = [
            self._flow_resource(fid, with_definition=False)
            for fid, flow in self.flows.items()
            if wanted is None or flow["name"] == wanted.group(1).replace('\\"', '"')
        ]
        return self._page(items, query, self.flows_page_size, "/api/flows")

    def _get_flow(self, query, body, flow_id: str) -> Answer:
        if flow_id not in self.flows:
            return error(404, f"Flow {flow_id} does not exist.")
        wants = "definition" in (query.get("additional-fields[flow]") or [""])[0]
        return 200, {"data": self._flow_resource(flow_id, with_definition=wants)}

    def _create_flow(self, query, body) -> Answer:
        attributes = body["data"]["attributes"]
        definition = json.loads(json.dumps(attributes["definition"]))
        problem = self._definition_problem(definition)
        if problem:
            return error(400, problem)
        ids = {a["temporary_id"]: self.new_id("A") for a in definition["actions"]}
        for action in definition["actions"]:
            action["id"] = ids[action.pop("temporary_id")]
            for key, target in (action.get("links") or {}).items():
                if target is not None:
                    action["links"][key] = ids[target]
            action.setdefault("data", {}).setdefault("status", "draft")
        definition["entry_action_id"] = ids[definition["entry_action_id"]]
        flow_id = self.new_id("F")
        self.flows[flow_id] = {
            "name": attributes["name"],
            "status": "draft",
            "archived": False,
            "definition": definition,
        }
        return 201, {"data": self._flow_resource(flow_id, with_definition=True)}

    def _definition_problem(self, definition: dict[str, Any]) -> str:
        if len(definition["triggers"]) != 1:
            return "Only one trigger is supported."
        trigger = definition["triggers"][0]
        if trigger.get("type") == "metric" and trigger.get("id") not in self.metrics:
            return f"Metric {trigger.get('id')} does not exist."
        temporary = [a.get("temporary_id") for a in definition["actions"]]
        if any(a.get("id") for a in definition["actions"]) or not all(temporary):
            return "New actions need a temporary_id; id is not allowed on create."
        links = [t for a in definition["actions"] for t in (a.get("links") or {}).values() if t is not None]
        if definition.get("entry_action_id") not in temporary or any(t not in temporary for t in links):
            return "entry_action_id and links must name actions of this definition."
        for action in definition["actions"]:
            template = ((action.get("data") or {}).get("message") or {}).get("template_id")
            if action["type"] == "send-email" and template and template not in self.templates:
                return f"Template {template} does not exist."
        return ""

    def _update_flow(self, query, body, flow_id: str) -> Answer:
        if flow_id not in self.flows:
            return error(404, f"Flow {flow_id} does not exist.")
        self.flows[flow_id]["status"] = body["data"]["attributes"]["status"]
        return 200, {"data": self._flow_resource(flow_id, with_definition=False)}

    def _create_template(self, query, body) -> Answer:
        template_id = self.new_id("T")
        self.templates[template_id] = dict(body["data"]["attributes"])
        return 201, {"data": {"type": "template", "id": template_id, "attributes": self.templates[template_id]}}

    # --- reporting ------------------------------------------------------------------------
    def _flow_values(self, query, body) -> Answer:
        self.report_calls += 1
        if self.report_calls > 2:
            return error(429, "Request was throttled. Expected available in 60 seconds.")
        attributes = body["data"]["attributes"]
        if attributes["conversion_metric_id"] not in self.metrics:
            return error(400, "conversion_metric_id does not exist.")
        wanted = re.fullmatch(r"contains-any\(flow_id,\[(.*)\]\)", attributes.get("filter") or "")
        flow_ids = set(json.loads(f"[{wanted.group(1)}]")) if wanted else None
        names = {"recipients": "recipients", "conversions": "conversions", "conversion_value": "value"}
        results = [
            {
                "groupings": {"flow_id": s["flow_id"], "flow_message_id": s["message_id"], "send_channel": "email"},
                "statistics": {k: s[v] for k, v in names.items() if k in attributes["statistics"]},
            }
            for s in self.sends
            if flow_ids is None or s["flow_id"] in flow_ids
        ]
        return 200, {"data": {"type": "flow-values-report", "attributes": {"results": results}}, "links": {"self": ""}}
