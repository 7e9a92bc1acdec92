"""Fixtures for the returns tests: Loop payload fixtures and a signed-webhook poster."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from returns.parsing import sign_body

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> dict:
    return json.loads(fixture_bytes(name))


@pytest.fixture
def post_loop(client, merchant, django_capture_on_commit_callbacks):
    """POST raw bytes to the merchant's webhook URL, signed with its secret unless told otherwise.

    On-commit callbacks run (django-q2 is synchronous in tests), so processing happens inline.
    """

    def post(body: bytes | str, *, secret: str | None = None, signature: str | None = "sign", token: str | None = None):
        raw = body.encode() if isinstance(body, str) else body
        headers = {}
        if signature == "sign":
            headers["HTTP_X_LOOP_SIGNATURE"] = sign_body(secret or merchant.returns_webhook_secret, raw)
        elif signature is not None:
            headers["HTTP_X_LOOP_SIGNATURE"] = signature
        url = f"/api/v1/returns/loop/{token or merchant.returns_webhook_token}"
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, data=raw, content_type="application/json", **headers)

    return post


@pytest.fixture
def responses_mock():
    import responses

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
