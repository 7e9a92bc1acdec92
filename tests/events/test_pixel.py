"""pixel.js, the theme snippet, the Shopify Custom Pixel code and the OpenAPI schema."""

from __future__ import annotations

import pytest

from events import selectors
from events.services import rotate_write_key

SHOPIFY_EVENTS = [
    "page_viewed",
    "product_viewed",
    "product_added_to_cart",
    "checkout_started",
    "checkout_contact_info_submitted",
    "checkout_completed",
]


@pytest.mark.django_db
def test_pixel_js_served_with_js_content_type_key_and_endpoint(client, merchant, settings):
    settings.PUBLIC_BASE_URL = "https://rc.example.com"
    response = client.get("/pixel.js", {"key": merchant.write_key})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/javascript; charset=utf-8"
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    body = response.content.decode()
    assert f'var KEY = "{merchant.write_key}";' in body
    assert 'var URL_ = "https://rc.example.com/api/v1/events";' in body


@pytest.mark.django_db
def test_pixel_js_has_the_documented_behaviour(client, merchant):
    body = client.get("/pixel.js", {"key": merchant.write_key}).content.decode()
    for needle in [
        '"_rc_aid"',
        "max-age=31536000; SameSite=Lax",
        '"fbclid", "gclid", "gbraid", "wbraid", "ttclid", "msclkid"',
        '"_kx"',
        '"utm_"',
        "sessionStorage",
        'readCookie("_fbp")',
        "track: function (type, properties)",
        "identify: function (email, traits)",
        "navigator.sendBeacon",
        'type: "text/plain"',
        "keepalive: true",
    ]:
        assert needle in body, needle
    assert "{{" not in body and "{%" not in body


@pytest.mark.django_db
@pytest.mark.parametrize("query", [{}, {"key": "wk_unknown"}, {"key": "nope"}])
def test_pixel_js_unknown_key_is_404_js(client, merchant, query):
    response = client.get("/pixel.js", query)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/javascript; charset=utf-8"
    assert b"unknown or rotated write key" in response.content


@pytest.mark.django_db
def test_pixel_js_old_key_stops_working_after_rotation(client, merchant):
    old = merchant.write_key
    rotate_write_key(merchant)
    assert client.get("/pixel.js", {"key": old}).status_code == 404
    assert client.get("/pixel.js", {"key": merchant.write_key}).status_code == 200


@pytest.mark.django_db
def test_get_pixel_snippet_is_a_script_tag_with_the_key(merchant, settings):
    settings.PUBLIC_BASE_URL = "https://rc.example.com"
    assert selectors.get_pixel_snippet(merchant) == (
        f'<script async src="https://rc.example.com/pixel.js?key={merchant.write_key}"></script>'
    )


@pytest.mark.django_db
def test_get_shopify_custom_pixel_code_subscribes_to_every_standard_event(merchant, settings):
    settings.PUBLIC_BASE_URL = "https://rc.example.com"
    code = selectors.get_shopify_custom_pixel_code(merchant)
    for name in SHOPIFY_EVENTS:
        assert f'analytics.subscribe("{name}", recaptureSend);' in code
    assert f'const RECAPTURE_WRITE_KEY = "{merchant.write_key}";' in code
    assert 'const RECAPTURE_URL = "https://rc.example.com/api/v1/events";' in code
    assert "keepalive: true" in code
    assert "{{" not in code


@pytest.mark.django_db
def test_snippet_values_are_escaped_for_script_context(merchant, settings):
    settings.PUBLIC_BASE_URL = "https://rc.example.com/</script><x>"
    code = selectors.get_shopify_custom_pixel_code(merchant)
    assert "</script>" not in code
    assert "\\u003c/script\\u003e" in code


@pytest.mark.django_db
def test_openapi_schema_documents_the_ingest_endpoint(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    operation = schema["paths"]["/api/v1/events"]["post"]
    assert operation["operationId"] == "ingest_events"
    assert set(operation["requestBody"]["content"]) == {"application/json", "text/plain"}
    assert {"202", "400", "401", "403", "413", "415"} <= set(operation["responses"])
    assert schema["components"]["securitySchemes"]["WriteKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Write-Key",
    }
    request_schema = schema["components"]["schemas"]["IngestRequest"]
    assert len(request_schema["oneOf"]) == 3
