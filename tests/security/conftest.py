"""Helpers of the abuse suite: each test performs one attack from issue 14 and checks it does no harm."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.returns.conftest import post_loop  # noqa: F401 - the signed-webhook poster, shared

INGEST = "/api/v1/events"


def post_event(client, key: str, *, ip: str = "198.51.100.1", **fields):
    body = {"event_id": uuid.uuid4().hex, "type": "ViewContent", "anonymous_id": "a", **fields}
    return client.post(
        INGEST, data=json.dumps(body), content_type="application/json", HTTP_X_WRITE_KEY=key, REMOTE_ADDR=ip
    )


def post_batch(client, key: str, events: list[dict], *, ip: str = "198.51.100.1"):
    return client.post(
        INGEST,
        data=json.dumps({"batch": events}),
        content_type="application/json",
        HTTP_X_WRITE_KEY=key,
        REMOTE_ADDR=ip,
    )


@pytest.fixture
def no_rate_limits(settings):
    settings.INGEST_RATE_LIMIT_PER_KEY = 0
    settings.INGEST_RATE_LIMIT_PER_IP = 0
