"""Root URLs: the top of the layer order (README, "Layers"). Apps are named here by string
(include), as in INSTALLED_APPS; config imports no app."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView

from config import health
from config.api_docs import RedocView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index"), name="home"),  # the console is the product UI
    path("favicon.ico", health.favicon, name="favicon"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        RedocView.as_view(url_name="api-schema"),
        name="api-docs",
    ),
    path("", include("events.urls")),
    path("api/v1/returns/", include("returns.api.urls")),
    path("api/v1/shopify/", include("shopify.api.urls")),
    path("admin/", admin.site.urls),
]

if settings.BENCH_ENDPOINTS:  # benchmark-only ceiling endpoint (bench/endpoints.py), off by default
    urlpatterns.append(path("bench/", include("bench.endpoints")))

handler404 = "config.errors.not_found_view"
handler500 = "config.errors.server_error_view"
