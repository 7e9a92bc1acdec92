"""A semantic double of the Loops API: what Loops *does* with a request.

Sources: /work/shared/specs/loops-openapi.json (quoted as "spec") and loops.so/docs.

- ``events/send`` creates contacts: "If a contact is not found with the provided email or
  userId, a new contact will be created" (loops.so/docs/events). A contact can only be
  created with an email ("For new contacts, make sure to include an email address,
  otherwise the call will fail", loops.so/docs/integrations/rudderstack); a userId the
  audience does not know answers 400 "Contact not found." (spec, EventFailureResponse).
- "Provide either an email or userId value or both ... If a contact is found for one of
  the values (e.g. email), the other value (e.g. userId) will be updated" (spec, sendEvent).
- New contacts are subscribed: "All new contacts are subscribed by default" (spec,
  ContactUpdateRequest ``subscribed``), unless the request says ``subscribed: false``.
- Custom contact properties must exist: "Make sure to create the properties in Loops
  before using them in API calls" (spec, updateContact / sendEvent); an unknown property
  is rejected with 400 (assumed strictness). ``POST /v1/contacts/properties`` creates one
  (camelCase name, type string/number/boolean/date; "Property already exists." on repeat).
- "Most text fields on a contact, event, or transactional email accept up to 500
  characters" (Loops connector docs): a longer string answers 400 (assumed strictness).
- Idempotency: "This endpoint will return a 409 Conflict response if the idempotency key
  has been used in the previous 24 hours" (spec, Idempotency-Key).
- Workflows start on events: "Send events to trigger workflows" (spec, sendEvent): every
  accepted event is logged in ``workflow_runs`` with the contact it would email
  (subscribed or not: the merchant reads who would be emailed from ``emailed()``).
- 429 with x-ratelimit-* headers at "10 requests per second" (loops.so/docs/api-reference).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.core import Call, Double, Reply, new_id

DEFAULT_PROPERTIES = ("email", "firstName", "lastName", "source", "subscribed", "userGroup", "userId", "notes")
RESERVED = ("id", "listId", "softDeleteAt", "teamId", "updatedAt")
NOT_CONTACT_KEYS = ("eventName", "eventProperties", "mailingLists", "transactionalId", "dataVariables")
MAX_STRING = 500
IDEMPOTENCY_WINDOW = 24 * 3600


@dataclass
class Contact:
    id: str
    email: str | None
    user_id: str | None = None
    subscribed: bool = True
    source: str = "API"
    properties: dict[str, Any] = field(default_factory=dict)
    mailing_lists: dict[str, bool] = field(default_factory=dict)
    created_by: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "userId": self.user_id,
            "subscribed": self.subscribed,
            "source": self.source,
            "userGroup": self.properties.get("userGroup", ""),
            "firstName": self.properties.get("firstName"),
            "lastName": self.properties.get("lastName"),
            "mailingLists": {k: True for k, v in self.mailing_lists.items() if v},
            **{k: v for k, v in self.properties.items() if k not in ("firstName", "lastName", "userGroup")},
        }


@dataclass
class WorkflowRun:
    event_name: str
    contact_id: str
    email: str | None
    subscribed: bool


class Rejected(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _fail(message: str, status: int = 400) -> Rejected:
    return Rejected(status, message)


class LoopsDouble(Double):
    name = "loops"

    def __init__(self, *, api_key: str | None = None, team: str = "Fake team") -> None:
        super().__init__()
        self.api_key, self.team, self.revoked = api_key, team, False
        self.contacts: dict[str, Contact] = {}
        self.custom_properties: dict[str, str] = {}  # key -> type
        self.events: list[dict[str, Any]] = []
        self.idempotency: dict[str, float] = {}
        self.events_by_key: dict[str, dict[str, Any]] = {}  # Idempotency-Key -> accepted body
        self.workflows: dict[str, list[str]] = {}  # eventName -> workflow names
        self.workflow_runs: list[WorkflowRun] = []
        table = {
            ("POST", r"/api/v1/events/send"): self._send_event,
            ("PUT", r"/api/v1/contacts/update"): self._update_contact,
            ("POST", r"/api/v1/contacts/create"): self._create_contact,
            ("GET", r"/api/v1/contacts/find"): self._find,
            ("POST", r"/api/v1/contacts/delete"): self._delete,
            ("GET", r"/api/v1/contacts/properties"): self._list_properties,
            ("POST", r"/api/v1/contacts/properties"): self._create_property,
            ("GET", r"/api/v1/api-key"): lambda call, m: Reply(200, {"success": True, "teamName": self.team}),
        }
        for (method, pattern), handler in table.items():
            self.route(method, pattern)(self._guarded(handler))

    # --- merchant-level reading -------------------------------------------------------------
    def add_workflow(self, name: str, *, event: str) -> None:
        self.workflows.setdefault(event, []).append(name)

    def emailed(self) -> list[tuple[str, str | None]]:
        """(workflow, email) for every event a workflow starts on, to subscribed contacts."""
        with self.lock:
            return [
                (w, r.email) for r in self.workflow_runs if r.subscribed for w in self.workflows.get(r.event_name, [])
            ]

    def contact(self, *, email: str | None = None, user_id: str | None = None) -> Contact | None:
        with self.lock:
            return self._find_contact(email, user_id)

    def seed_contact(self, email: str, **properties: Any) -> Contact:
        with self.lock:
            contact = Contact(new_id("c"), email, created_by="seed", properties=properties)
            self.contacts[contact.id] = contact
            return contact

    # --- plumbing ---------------------------------------------------------------------------
    def authenticate(self, call: Call) -> Reply | None:
        auth = call.header("Authorization")
        key = auth.removeprefix("Bearer ")
        if not auth.startswith("Bearer ") or self.revoked or (self.api_key is not None and key != self.api_key):
            return Reply(401, {"success": False, "message": "Invalid API key"})
        return None

    def rate_limited(self, headers: dict[str, str]) -> Reply:
        limits = {"x-ratelimit-limit": "10", "x-ratelimit-remaining": "0"}
        return Reply(429, {"success": False, "message": "Rate limit exceeded."}, {**limits, **headers})

    def not_found(self, call: Call) -> Reply:
        return Reply(405 if self.owns(call.path) else 404, {"success": False, "message": "Not found."})

    @staticmethod
    def _guarded(handler):
        def run(call: Call, match: re.Match[str]) -> Reply:
            try:
                return handler(call, match)
            except Rejected as exc:
                return Reply(exc.status, {"success": False, "message": exc.message})
            except (KeyError, TypeError, AttributeError) as exc:
                return Reply(400, {"success": False, "message": f"Malformed request: {exc!r}"})

        return run

    # --- contacts ---------------------------------------------------------------------------
    def _find_contact(self, email: str | None, user_id: str | None) -> Contact | None:
        for contact in self.contacts.values():
            if (email and contact.email == email) or (user_id and contact.user_id == user_id):
                return contact
        return None

    def _checked_properties(self, body: dict[str, Any]) -> dict[str, Any]:
        props = {k: v for k, v in body.items() if k not in NOT_CONTACT_KEYS}
        for key, value in props.items():
            if key in RESERVED:
                raise _fail(f"'{key}' is a reserved name.")
            if key not in DEFAULT_PROPERTIES and key not in self.custom_properties:
                raise _fail(f"The contact property '{key}' does not exist. Create it before using it.")
            if value is not None and not isinstance(value, (str, int, float, bool)):
                raise _fail(f"'{key}' must be a string, number, boolean or date.")
            if isinstance(value, str) and len(value) > MAX_STRING:
                raise _fail(f"'{key}' is longer than {MAX_STRING} characters.")
        return props

    def _upsert(self, body: dict[str, Any], *, created_by: str) -> Contact:
        props = self._checked_properties(body)
        email, user_id = props.pop("email", None), props.pop("userId", None)
        if not email and not user_id:
            raise _fail("An email or userId is required.")
        contact = self._find_contact(email, user_id)
        if contact is None:
            if not email:
                raise _fail("Contact not found.")
            contact = Contact(new_id("c"), email, created_by=created_by)
            self.contacts[contact.id] = contact
        contact.email = email or contact.email
        contact.user_id = user_id or contact.user_id
        if "subscribed" in props:
            contact.subscribed = bool(props.pop("subscribed"))
        contact.properties.update({k: v for k, v in props.items() if k != "source"})
        for list_id, on in (body.get("mailingLists") or {}).items():
            contact.mailing_lists[list_id] = bool(on)
        return contact

    def _update_contact(self, call: Call, match: re.Match[str]) -> Reply:
        contact = self._upsert(call.body, created_by="contacts/update")
        return Reply(200, {"success": True, "id": contact.id})

    def _create_contact(self, call: Call, match: re.Match[str]) -> Reply:
        if self._find_contact(call.body.get("email"), call.body.get("userId")):
            raise _fail("Email or userId is already on list.", 409)
        contact = self._upsert(call.body, created_by="contacts/create")
        return Reply(200, {"success": True, "id": contact.id})

    def _find(self, call: Call, match: re.Match[str]) -> Reply:
        email, user_id = call.param("email"), call.param("userId")
        if bool(email) == bool(user_id):
            raise _fail("Provide one of email or userId.")
        contact = self._find_contact(email or None, user_id or None)
        return Reply(200, [contact.as_json()] if contact else [])

    def _delete(self, call: Call, match: re.Match[str]) -> Reply:
        contact = self._find_contact(call.body.get("email"), call.body.get("userId"))
        if contact is None:
            raise _fail("Contact not found.", 404)
        del self.contacts[contact.id]
        return Reply(200, {"success": True, "message": "Contact deleted."})

    def _list_properties(self, call: Call, match: re.Match[str]) -> Reply:
        custom = [{"key": k, "label": k, "type": t} for k, t in self.custom_properties.items()]
        if call.param("list") == "custom":
            return Reply(200, custom)
        defaults = [{"key": k, "label": k, "type": "string"} for k in DEFAULT_PROPERTIES]
        return Reply(200, defaults + custom)

    def _create_property(self, call: Call, match: re.Match[str]) -> Reply:
        name, kind = call.body.get("name"), call.body.get("type")
        if kind not in ("string", "number", "boolean", "date"):
            raise _fail("Invalid type.")
        if not isinstance(name, str) or not re.fullmatch(r"[a-z][A-Za-z0-9]*", name) or name in RESERVED:
            raise _fail("Invalid property name.")
        if name in self.custom_properties or name in DEFAULT_PROPERTIES:
            raise _fail("Property already exists.")
        self.custom_properties[name] = kind
        return Reply(200, {"success": True})

    # --- events -----------------------------------------------------------------------------
    def _send_event(self, call: Call, match: re.Match[str]) -> Reply:
        body = call.body
        if not body.get("eventName"):
            raise _fail("eventName is required.")
        key = call.header("Idempotency-Key")
        now = self.clock()
        if key:
            if len(key) > 100:
                raise _fail("Idempotency-Key must be at most 100 characters.")
            used = self.idempotency.get(key)
            if used is not None and now - used < IDEMPOTENCY_WINDOW:
                raise _fail("Idempotency key has been used.", 409)
        for name, value in (body.get("eventProperties") or {}).items():
            if isinstance(value, str) and len(value) > MAX_STRING:
                raise _fail(f"Event property '{name}' is longer than {MAX_STRING} characters.")
            if value is not None and not isinstance(value, (str, int, float, bool)):
                raise _fail(f"Event property '{name}' must be a string, number, boolean or date.")
        contact = self._upsert({k: v for k, v in body.items() if k != "eventProperties"}, created_by="events/send")
        if key:
            self.idempotency[key] = now
            self.events_by_key[key] = body
        self.events.append({**body, "contactId": contact.id})
        self.workflow_runs.append(WorkflowRun(body["eventName"], contact.id, contact.email, contact.subscribed))
        return Reply(200, {"success": True})
