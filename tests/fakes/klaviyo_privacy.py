"""The Klaviyo double's reads for the destination Test's scope probes, and profile deletion.

- Each Get endpoint needs its resource's read scope (spec: ``x-klaviyo-scopes`` of get_events,
  get_lists, get_flows, get_metrics); a key without it gets a JSON 403 ``permission_denied``.
  Routes a double already has (e.g. GET /api/flows from the flows work) are left alone.
- ``POST /api/data-privacy-deletion-jobs`` (scope ``data-privacy:write``): "Request a deletion
  for the profiles corresponding to one of the following identifiers: email, phone_number,
  or id. If multiple identifiers are provided, we will return an error. All profiles that
  match the provided identifier will be deleted." (Request Profile Deletion). The deletion is
  asynchronous at Klaviyo; the double deletes at once and keeps the request in ``deletions``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tests.fakes.core import Call, Reply

if TYPE_CHECKING:
    from tests.fakes.klaviyo import KlaviyoDouble

READS = {"/api/events": "events:read", "/api/lists": "lists:read", "/api/flows": "flows:read"}
READS["/api/metrics"] = "metrics:read"
DELETE_BY = ("email", "phone_number", "id")


def install(double: KlaviyoDouble) -> None:
    for path, scope in READS.items():
        if not any(m == "GET" and p.match(path) for m, p, _ in double.routes):
            double.route("GET", re.escape(path))(double._guarded(_lister(double, scope)))
    double.route("POST", r"/api/data-privacy-deletion-jobs")(double._guarded(_deleter(double)))


def _lister(double: KlaviyoDouble, scope: str):
    def read(call: Call, match: re.Match[str]) -> Reply:
        double.require(scope)
        return Reply(200, {"data": [], "links": {"next": None}})

    return read


def _deleter(double: KlaviyoDouble):
    from tests.fakes.klaviyo import Invalid

    def delete(call: Call, match: re.Match[str]) -> Reply:
        double.require("data-privacy:write")
        data = call.body["data"]
        if data.get("type") != "data-privacy-deletion-job":
            raise Invalid(400, "invalid", "type must be data-privacy-deletion-job", "/data/type")
        attrs = data["attributes"]["profile"]["data"]["attributes"]
        given = {k: v for k, v in attrs.items() if k in DELETE_BY and v}
        if len(given) != 1 or set(attrs) - set(DELETE_BY):
            raise Invalid(400, "invalid", "Exactly one of email, phone_number or id is required.", "/data")
        ((kind, value),) = given.items()
        double.deletions.append((kind, value))
        pid = value if kind == "id" else double.index[kind].get(value)
        if pid in double.profiles:
            _forget(double, pid)
        return Reply(202)

    return delete


def _forget(double: KlaviyoDouble, pid: str) -> None:
    del double.profiles[pid]
    for index in double.index.values():
        for value in [v for v, owner in index.items() if owner == pid]:
            del index[value]
