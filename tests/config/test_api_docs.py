"""Issue 14, finding 12: /api/docs/ loads only our own, pinned static files (no CDN, works offline)."""

from __future__ import annotations

import re
from pathlib import Path

from django.contrib.staticfiles import finders


def test_api_docs_page_loads_no_third_party_asset(client):
    html = client.get("/api/docs/").content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources, html
    assert all(s.startswith("/static/") for s in sources), sources  # no https://cdn…, no fonts.googleapis.com
    assert "@latest" not in html and "googleapis" not in html
    assert "/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js" in sources


def test_api_docs_page_allows_only_its_own_origin(client):
    csp = client.get("/api/docs/")["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "img-src 'self' data:" in csp
    assert "http" not in csp  # no third-party host allowed


def test_redoc_bundle_is_a_pinned_local_static_file():
    path = finders.find("drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js")
    assert path is not None
    with open(path, encoding="utf-8", errors="replace") as f:
        assert "Redoc" in f.read(200_000)
    pins = (Path(__file__).resolve().parents[2] / "requirements.txt").read_text()
    assert re.search(r"^drf-spectacular-sidecar==\d{4}\.\d+\.\d+$", pins, re.M)


def test_root_redirects_to_the_console_and_favicon_exists(client):
    assert client.get("/").headers["Location"] == "/admin/"
    icon = client.get("/favicon.ico")
    assert icon.status_code == 302
    assert finders.find(icon.headers["Location"].removeprefix("/static/")) is not None
