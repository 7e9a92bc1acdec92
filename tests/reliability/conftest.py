"""Shared helpers of the reliability suite: the house error envelope and request helpers."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import fake_platforms, stack_factory  # noqa: F401 - shared with the e2e suite

INGEST = "/api/v1/events"


def assert_envelope(response, status: int, code: str | None = None) -> dict:
    """A rejection in the house shape {"error": {"code", "message", "fields"}}."""
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


@pytest.fixture
def no_rate_limits(settings):
    settings.INGEST_RATE_LIMIT_PER_KEY = 0
    settings.INGEST_RATE_LIMIT_PER_IP = 0
