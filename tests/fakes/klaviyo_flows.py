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
  start as drafts; only a live flow with a live email is put in the Klaviyo double's
  ``flows`` (metric -> flows), so ``klaviyo.flows_fired()`` never lists a draft.
- Get Metrics: "Returns a maximum of 200 results per page"; Get Flows: "a maximum of 50
  flows per request, which can be paginated with cursor-based pagination" (page sizes are
  configurable here so tests exercise the cursor).
- Get Flows Triggered by Metric: "Get all flows where the given metric is being used as the trigger."
- Query Flow Values: "If not passed in, the data will be grouped by flow_id,
  flow_message_id, send_channel"; conversions need ``conversion_metric_id`` of a metric
  that exists. Burst 1/s, steady 2/m: a third report call within a minute gets a 429.

It plugs into the Klaviyo double (tests/fakes/klaviyo.py): ``KlaviyoFlows(klaviyo)`` registers
its routes on that double, so profiles, events and ``unique_id`` de-duplication are the
double's, and a live flow with a live email shows up in ``klaviyo.flows_fired()``. Reach it
in-process with ``tests.fakes.core.mount`` or over HTTP with ``DoubleServer``.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import jsonschema

from tests.destinations.contract import validate_klaviyo_request
from tests.fakes.core import Call, Reply
from tests.fakes.klaviyo import Invalid, KlaviyoDouble

FLOW_SCOPES = ("metrics:read", "flows:read", "flows:write", "templates:read", "templates:write")
REPORTS_PER_MINUTE = 2


class KlaviyoFlows:
    """Metrics, flows, templates and flow reports of one Klaviyo account, on a KlaviyoDouble."""

    def __init__(self, klaviyo: KlaviyoDouble, *, metrics_page_size: int = 200, flows_page_size: int = 50) -> None:
        self.klaviyo = klaviyo
        self.metrics_page_size, self.flows_page_size = metrics_page_size, flows_page_size
        self.metrics: dict[str, dict[str, Any]] = {}
        self.flows: dict[str, dict[str, Any]] = {}
        self.templates: dict[str, dict[str, Any]] = {}
        self.sends: list[dict[str, Any]] = []  # flow_id, message_id, recipients, conversions, value
        self.report_times: list[float] = []
        self._ids = itertools.count(1)
        klaviyo.scopes.update(FLOW_SCOPES)
        self._events = next(h for m, p, h in klaviyo.routes if m == "POST" and p.pattern.startswith(r"/api/events"))
        table = [
            ("POST", r"/api/events", self._create_event),
            ("GET", r"/api/metrics", self._get_metrics),
            ("GET", r"/api/metrics/(?P<id>[^/]+)/flow-triggers", self._get_flow_triggers),
            ("GET", r"/api/flows", self._get_flows),
            ("GET", r"/api/flows/(?P<id>[^/]+)", self._get_flow),
            ("POST", r"/api/flows", self._create_flow),
            ("PATCH", r"/api/flows/(?P<id>[^/]+)", self._update_flow),
            ("POST", r"/api/templates", self._create_template),
            ("POST", r"/api/flow-values-reports", self._flow_values),
        ]
        for method, pattern, handler in table:
            klaviyo.route(method, pattern)(self._guarded(handler, spec_path=_spec_path(pattern)))

    # --- arranging the account --------------------------------------------------------
    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):04d}"

    def add_metric(self, name: str, integration: str = "API") -> str:
        metric_id = self.new_id("M")
        self.metrics[metric_id] = {"name": name, "integration": {"name": integration, "category": integration}}
        return metric_id

    def add_flow(self, name: str, *, metric_id: str, status: str = "live", definition: dict | None = None) -> str:
        """A merchant's own flow (made in Klaviyo's UI: ids assigned, nulls where unset)."""
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
        self._sync_live_flows()
        return flow_id

    def set_status(self, flow_id: str, status: str, *, emails: str | None = None) -> None:
        """What the merchant does in Klaviyo's UI (the API client under test never should)."""
        flow = self.flows[flow_id]
        flow["status"] = status
        for action in flow["definition"]["actions"]:
            if action["type"] == "send-email" and emails:
                action["data"]["status"] = emails
        self._sync_live_flows()

    def record_sends(self, flow_id: str, *, recipients: int, conversions: int, value: float) -> None:
        """What Klaviyo would have measured for a flow (its first email action)."""
        actions = self.flows[flow_id]["definition"]["actions"]
        message = next((a["id"] for a in actions if a["type"] == "send-email"), "")
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

    def _sync_live_flows(self) -> None:
        """klaviyo.flows (metric name -> flow names) holds the flows that would email: live flow, live email."""
        for names in self.klaviyo.flows.values():
            names[:] = [n for n in names if n not in {f["name"] for f in self.flows.values()}]
        for flow in self.flows.values():
            emails = [a for a in flow["definition"]["actions"] if a["type"] == "send-email"]
            if flow["status"] != "live" or not any((a.get("data") or {}).get("status") == "live" for a in emails):
                continue
            for trigger in flow["definition"]["triggers"]:
                metric = self.metrics.get(str(trigger.get("id")))
                if metric:
                    self.klaviyo.flows.setdefault(metric["name"], []).append(flow["name"])

    # --- plumbing ---------------------------------------------------------------------
    def _guarded(self, handler, *, spec_path: str):
        def run(call: Call, match: re.Match[str]) -> Reply:
            try:
                if call.body is not None and spec_path:
                    validate_klaviyo_request(spec_path, call.method.lower(), call.body)
                return handler(call, **match.groupdict())
            except jsonschema.ValidationError as exc:
                where = "/" + "/".join(map(str, exc.absolute_path))
                return Invalid(400, "invalid", exc.message[:300], where).reply()
            except Invalid as exc:
                return exc.reply()

        return run

    def _page(self, items: list[dict[str, Any]], call: Call, size: int) -> Reply:
        start = int(call.param("page[cursor]") or 0)
        document: dict[str, Any] = {"data": items[start : start + size], "links": {"self": call.path}}
        if start + size < len(items):
            document["links"]["next"] = f"https://a.klaviyo.com{call.path}?page%5Bcursor%5D={start + size}"
        return Reply(200, document)

    # --- metrics and events -------------------------------------------------------------
    def _create_event(self, call: Call) -> Reply:
        reply = self._events(call, re.match("", ""))
        if reply.status == 202:  # a new metric name makes a new metric
            name = call.body["data"]["attributes"]["metric"]["data"]["attributes"]["name"]
            if not self.metric_id(name):
                self.add_metric(name)
        return reply

    def _get_metrics(self, call: Call) -> Reply:
        self.klaviyo.require("metrics:read")
        items = [{"type": "metric", "id": m, "attributes": dict(a), "links": {}} for m, a in self.metrics.items()]
        return self._page(items, call, self.metrics_page_size)

    def _get_flow_triggers(self, call: Call, id: str) -> Reply:
        self.klaviyo.require("flows:read")
        if id not in self.metrics:
            raise Invalid(404, "not_found", f"Metric {id} does not exist.")
        flows = [
            self._flow_resource(fid, with_definition=False)
            for fid, flow in self.flows.items()
            if any(t.get("type") == "metric" and t.get("id") == id for t in flow["definition"]["triggers"])
        ]
        return Reply(200, {"data": flows, "links": {}})

    # --- flows ----------------------------------------------------------------------------
    def _flow_resource(self, flow_id: str, *, with_definition: bool) -> dict[str, Any]:
        flow = self.flows[flow_id]
        attributes = {k: flow[k] for k in ("name", "status", "archived")} | {"trigger_type": "Metric"}
        if with_definition:
            attributes["definition"] = json.loads(json.dumps(flow["definition"]))
        return {"type": "flow", "id": flow_id, "attributes": attributes, "links": {"self": f"/api/flows/{flow_id}"}}

    def _get_flows(self, call: Call) -> Reply:
        self.klaviyo.require("flows:read")
        wanted = re.fullmatch(r'equals\(name,"(.*)"\)', call.param("filter"))
        items = [
            self._flow_resource(fid, with_definition=False)
            for fid, flow in self.flows.items()
            if wanted is None or flow["name"] == wanted.group(1).replace('\\"', '"')
        ]
        return self._page(items, call, self.flows_page_size)

    def _get_flow(self, call: Call, id: str) -> Reply:
        self.klaviyo.require("flows:read")
        if id not in self.flows:
            raise Invalid(404, "not_found", f"Flow {id} does not exist.")
        wants = "definition" in call.param("additional-fields[flow]")
        return Reply(200, {"data": self._flow_resource(id, with_definition=wants)})

    def _create_flow(self, call: Call) -> Reply:
        self.klaviyo.require("flows:write")
        attributes = call.body["data"]["attributes"]
        definition = json.loads(json.dumps(attributes["definition"]))
        self._check_definition(definition)
        ids = {a["temporary_id"]: self.new_id("A") for a in definition["actions"]}
        for action in definition["actions"]:
            action["id"] = ids[action.pop("temporary_id")]
            for key, target in (action.get("links") or {}).items():
                if target is not None:
                    action["links"][key] = ids[target]
            if action["type"] == "send-email":
                action.setdefault("data", {}).setdefault("status", "draft")  # the spec's default
        definition["entry_action_id"] = ids[definition["entry_action_id"]]
        flow_id = self.new_id("F")
        self.flows[flow_id] = {
            "name": attributes["name"],
            "status": "draft",
            "archived": False,
            "definition": definition,
        }
        return Reply(201, {"data": self._flow_resource(flow_id, with_definition=True)})

    def _check_definition(self, definition: dict[str, Any]) -> None:
        pointer = "/data/attributes/definition"
        if len(definition["triggers"]) != 1:
            raise Invalid(400, "invalid", "Only one trigger is supported.", f"{pointer}/triggers")
        trigger = definition["triggers"][0]
        if trigger.get("type") == "metric" and trigger.get("id") not in self.metrics:
            raise Invalid(400, "invalid", f"Metric {trigger.get('id')} does not exist.", f"{pointer}/triggers/0/id")
        temporary = [a.get("temporary_id") for a in definition["actions"]]
        if any(a.get("id") for a in definition["actions"]) or not all(temporary):
            raise Invalid(400, "invalid", "New actions need a temporary_id; id is not allowed on create.", pointer)
        links = [t for a in definition["actions"] for t in (a.get("links") or {}).values() if t is not None]
        if definition.get("entry_action_id") not in temporary or any(t not in temporary for t in links):
            raise Invalid(400, "invalid", "entry_action_id and links must name actions of this definition.", pointer)
        for action in definition["actions"]:
            template = ((action.get("data") or {}).get("message") or {}).get("template_id")
            if action["type"] == "send-email" and template and template not in self.templates:
                raise Invalid(400, "invalid", f"Template {template} does not exist.", pointer)

    def _update_flow(self, call: Call, id: str) -> Reply:
        self.klaviyo.require("flows:write")
        if id not in self.flows:
            raise Invalid(404, "not_found", f"Flow {id} does not exist.")
        self.flows[id]["status"] = call.body["data"]["attributes"]["status"]
        self._sync_live_flows()
        return Reply(200, {"data": self._flow_resource(id, with_definition=False)})

    def _create_template(self, call: Call) -> Reply:
        self.klaviyo.require("templates:write")
        template_id = self.new_id("T")
        self.templates[template_id] = dict(call.body["data"]["attributes"])
        return Reply(201, {"data": {"type": "template", "id": template_id, "attributes": self.templates[template_id]}})

    # --- reporting ------------------------------------------------------------------------
    def _flow_values(self, call: Call) -> Reply:
        self.klaviyo.require("flows:read")
        now = self.klaviyo.clock()
        self.report_times = [t for t in self.report_times if now - t < 60] + [now]
        if len(self.report_times) > REPORTS_PER_MINUTE:
            return self.klaviyo.rate_limited({"Retry-After": "60"})
        attributes = call.body["data"]["attributes"]
        if attributes["conversion_metric_id"] not in self.metrics:
            raise Invalid(
                400, "invalid", "conversion_metric_id does not exist.", "/data/attributes/conversion_metric_id"
            )
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
        report = {"type": "flow-values-report", "attributes": {"results": results}}
        return Reply(200, {"data": report, "links": {"self": call.path}})


def _spec_path(pattern: str) -> str:
    """The spec's path for a route with a body (PATCH /api/flows/{id} and the POSTs)."""
    path = re.sub(r"\(\?P<id>\[\^/\]\+\)", "{id}", pattern)
    return "" if path == "/api/events" else path  # events are the Klaviyo double's own rules
