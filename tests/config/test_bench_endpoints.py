"""The benchmark-only ceiling endpoint: absent unless BENCH_ENDPOINTS=true, and it only parses and answers."""

from __future__ import annotations

import importlib

import orjson
import pytest
from django.urls import Resolver404, clear_url_caches, resolve
from rest_framework.test import APIRequestFactory

from bench.endpoints import CeilingView


def test_bench_endpoints_not_mounted_by_default(client):
    with pytest.raises(Resolver404):
        resolve("/bench/ceiling")
    assert client.post("/bench/ceiling", b"{}", content_type="application/json").status_code == 404


def test_bench_endpoints_mounted_with_setting(settings):
    import config.urls

    settings.BENCH_ENDPOINTS = True
    try:
        clear_url_caches()
        importlib.reload(config.urls)
        assert resolve("/bench/ceiling").url_name == "bench-ceiling"
    finally:
        settings.BENCH_ENDPOINTS = False
        importlib.reload(config.urls)
        clear_url_caches()


@pytest.mark.parametrize(("body", "accepted"), [({"event_id": "a"}, 1), ({"batch": [{}, {}, {}]}, 3)])
def test_ceiling_view_parses_and_answers_202(body, accepted):
    request = APIRequestFactory().post("/bench/ceiling", orjson.dumps(body), content_type="text/plain")
    response = CeilingView.as_view()(request)
    assert response.status_code == 202
    assert response.data == {"accepted": accepted, "duplicates": 0, "errors": []}


def test_ceiling_view_rejects_bad_json_like_ingest():
    request = APIRequestFactory().post("/bench/ceiling", b"{not json", content_type="application/json")
    response = CeilingView.as_view()(request)
    assert response.status_code == 400
    assert response.data["error"]["code"] == "invalid_json"
