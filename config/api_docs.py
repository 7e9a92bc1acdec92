"""/api/docs/: Redoc from our own static files (drf-spectacular-sidecar, pinned), nothing from elsewhere.

The page runs on the admin's origin, so it also carries a Content-Security-Policy that
allows only this origin: the bundle's one outside reference (a Redocly logo image) is
never fetched, and no script from anywhere else could run.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView

DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


class RedocView(SpectacularRedocView):
    template_name = "api/redoc.html"

    @extend_schema(exclude=True)
    def get(self, request, *args: Any, **kwargs: Any):
        response = super().get(request, *args, **kwargs)
        response["Content-Security-Policy"] = DOCS_CSP
        return response
