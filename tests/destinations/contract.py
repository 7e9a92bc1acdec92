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


def _openapi30(node: Any) -> Any:
    """Two OpenAPI 3.0 readings JSON Schema does not make by itself, applied to the Klaviyo spec:

    - ``nullable: true`` allows null (the Flows API requires some nullable members, such as
      both links of a conditional split, and a definition read back carries nulls);
    - ``oneOf: [{type: integer}, {type: number}]`` rejects every integer (valid under both
      branches, and oneOf wants exactly one), so that one pattern becomes anyOf.
    """
    if isinstance(node, list):
        return [_openapi30(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: _openapi30(v) for k, v in node.items()}
    one_of = node.get("oneOf")
    if isinstance(one_of, list) and sorted(str(b.get("type")) for b in one_of if isinstance(b, dict)) == [
        "integer",
        "number",
    ]:
        node["anyOf"] = node.pop("oneOf")
    if node.pop("nullable", False) is True:
        if isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
        else:
            inner = {k: node.pop(k) for k in ("$ref", "oneOf", "anyOf", "allOf") if k in node}
            if inner:
                node["anyOf"] = [inner, {"type": "null"}]
    return node


@cache
def _flows_registry() -> Registry:
    resource = Resource.from_contents(_openapi30(_spec(KLAVIYO)), default_specification=DRAFT202012)
    return Registry().with_resource(SPEC_URI.format(KLAVIYO), resource)


def validate_klaviyo_request(path: str, method: str, body: Any) -> None:
    """Like validate_request for Klaviyo, reading the spec as OpenAPI 3.0 means it (``_openapi30``)."""
    schema = request_schema(KLAVIYO, path, method)
    jsonschema.Draft202012Validator(schema, registry=_flows_registry()).validate(body)
