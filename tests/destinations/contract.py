"""Validate request bodies against the platforms' OpenAPI specs (jsonschema + referencing)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPECS = Path("/work/shared/specs")
KLAVIYO = "klaviyo-openapi-stable.json"
LOOPS = "loops-openapi.json"
SPEC_URI = "urn:spec:{}"


@cache
def _spec(name: str) -> dict[str, Any]:
    return json.loads((SPECS / name).read_text())


@cache
def _registry(name: str) -> Registry:
    resource = Resource.from_contents(_spec(name), default_specification=DRAFT202012)
    return Registry().with_resource(SPEC_URI.format(name), resource)


def request_schema(name: str, path: str, method: str) -> dict[str, Any]:
    """The operation's requestBody schema, its $refs resolvable against the whole spec."""
    body = _spec(name)["paths"][path][method]["requestBody"]["content"]
    schema = next(iter(body.values()))["schema"]
    return {"$id": "urn:request", "allOf": [_absolute(schema, name)]}


def _absolute(schema: dict[str, Any], name: str) -> dict[str, Any]:
    ref = schema.get("$ref")
    return {"$ref": SPEC_URI.format(name) + ref} if ref else schema


def validate_request(name: str, path: str, method: str, body: Any) -> None:
    """Raise jsonschema.ValidationError when ``body`` breaks the spec."""
    validator = jsonschema.Draft202012Validator(request_schema(name, path, method), registry=_registry(name))
    validator.validate(body)


def validate_loops_contact_update(body: dict[str, Any]) -> None:
    """PUT /v1/contacts/update. The spec's top-level additionalProperties (string/number/boolean)
    wrongly rejects the documented ``mailingLists`` object; that one key, and only it, is checked
    separately against the spec's MailingListSubscriptions schema."""
    rest = {k: v for k, v in body.items() if k != "mailingLists"}
    validate_request(LOOPS, "/v1/contacts/update", "put", rest)
    if "mailingLists" in body:
        schema = {"$ref": SPEC_URI.format(LOOPS) + "#/components/schemas/MailingListSubscriptions"}
        jsonschema.Draft202012Validator(schema, registry=_registry(LOOPS)).validate(body["mailingLists"])
        assert all(isinstance(v, bool) for v in body["mailingLists"].values())
