"""Benchmark-only endpoints, mounted under /bench/ only when BENCH_ENDPOINTS=true.

``POST /bench/ceiling`` is the ceiling of this stack: the same middleware, DRF and orjson
body parsing as the ingest endpoint, then a bare 202, with no authentication, validation
or database work. Ingest throughput is reported as a ratio of it.
"""

from __future__ import annotations

from typing import Any

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from events.api.parsers import OrjsonParser, TextPlainJsonParser


class CeilingView(APIView):
    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []
    parser_classes = [OrjsonParser, TextPlainJsonParser]

    def post(self, request: Request) -> Response:
        data = request.data
        count = len(data["batch"]) if isinstance(data, dict) and isinstance(data.get("batch"), list) else 1
        return Response({"accepted": count, "duplicates": 0, "errors": []}, status=202)


urlpatterns = [path("ceiling", CeilingView.as_view(), name="bench-ceiling")]
