"""Klaviyo: the destination Test's read-only requests (key and scopes) and profile deletion.

A mixin of KlaviyoClient (destinations/clients/klaviyo.py), kept apart so the delivery
client stays readable; it uses the client's ``headers()``, ``post()`` and ``url()``.
"""

from __future__ import annotations

from collections.abc import Sequence

from destinations.clients.base import Feature, HttpRequest, HttpResult


class KlaviyoAccountMixin:
    """Needs the host class's ``config``, ``headers()``, ``post()`` and ``url()`` (not redefined here:
    a stub would shadow DestinationClient.url in the method order)."""

    def get(self, step: str, path: str, params: dict[str, str] | None = None) -> HttpRequest:
        headers = {k: v for k, v in self.headers().items() if k != "content-type"}
        return HttpRequest(step=step, method="GET", url=self.url(path), headers=headers, params=params)

    def key_check_request(self) -> HttpRequest:
        """GET /api/accounts: "test if a Private API Key belongs to the correct account" (Get Accounts)."""
        return self.get("test", "/api/accounts")

    def describe_key(self, result: HttpResult) -> str:
        data = (result.json() or {}).get("data") if isinstance(result.json(), dict) else None
        account = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
        contact = (account.get("attributes") or {}).get("contact_information") or {}
        name = contact.get("organization_name") if isinstance(contact, dict) else ""
        return f"account {name}" if name else f"account {account.get('id', '?')}"

    def features(self) -> list[Feature]:
        """Per feature, the scopes it needs and a one-item read per resource (scopes from the OpenAPI spec).

        Klaviyo has no request that lists a key's scopes ("there's no supported endpoint to
        retrieve the scope of an API key", Klaviyo community, 2022), so each resource is read
        once; reports need flows:read and metrics:read (flow-values-reports, metric-aggregates)
        and are not called themselves (225 requests a day).
        """
        size = {"page[size]": "1"}
        events = ("events:read", self.get("scope-probe", "/api/events", size))
        profiles = ("profiles:read", self.get("scope-probe", "/api/profiles", size))
        lists = ("lists:read", self.get("scope-probe", "/api/lists", size))
        flows = ("flows:read", self.get("scope-probe", "/api/flows", size))
        metrics = ("metrics:read", self.get("scope-probe", "/api/metrics"))
        return [
            Feature("events", ("events:write",), (events,), required=True),
            Feature("profiles", ("profiles:read", "profiles:write"), (profiles,), required=True),
            Feature("lists", ("lists:write",), (lists,), required=bool(self.config.list_id)),
            Feature("flows", ("flows:read", "flows:write"), (flows,)),
            Feature("metrics", ("metrics:read",), (metrics,)),
            Feature("reports", ("flows:read", "metrics:read"), (flows, metrics)),
            Feature("erasure", ("data-privacy:write",)),
        ]

    def scope_denied(self, result: HttpResult) -> bool:
        """A JSON:API 403 (a missing scope); Cloudflare's HTML 403s are not about the key."""
        data = result.json()
        return result.status_code == 403 and isinstance(data, dict) and "errors" in data

    def erasure_requests(self, identifiers: Sequence[tuple[str, str]]) -> list[HttpRequest]:
        """POST /api/data-privacy-deletion-jobs, one per identifier: "Request a deletion for the profiles
        corresponding to one of the following identifiers: email, phone_number, or id. If multiple
        identifiers are provided, we will return an error." (Request Profile Deletion)."""
        fields = {"email": "email", "phone": "phone_number", "remote_id": "id"}
        return [
            self.post(
                "erasure",
                "/api/data-privacy-deletion-jobs",
                {
                    "data": {
                        "type": "data-privacy-deletion-job",
                        "attributes": {"profile": {"data": {"type": "profile", "attributes": {fields[kind]: value}}}},
                    }
                },
            )
            for kind, value in identifiers
            if kind in fields and value
        ]
