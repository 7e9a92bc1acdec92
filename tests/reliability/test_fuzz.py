"""Generated input against the two public endpoints: schemathesis from the project's own OpenAPI
schema (in-process over WSGI) and hypothesis bodies. Never a 500; every rejection a 4xx in the
house envelope. RELIABILITY_FUZZ_EXAMPLES raises the example count (default: CI-sized)."""

from __future__ import annotations

import json
import os

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from returns.models import LoopWebhook
from returns.parsing import sign_body
from shopify.models import ShopifyStore, ShopifyWebhook
from shopify.webhooks import sign_body as shopify_sign_body
from tests.factories import MerchantFactory
from tests.reliability.conftest import INGEST

EXAMPLES = int(os.environ.get("RELIABILITY_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_rate_limits")]


def assert_no_500_and_enveloped(status: int, body: bytes, content_type: str = "application/json") -> None:
    assert status < 500, body[:300]
    if status >= 400:
        assert content_type.startswith("application/json"), (status, content_type, body[:200])
        error = json.loads(body)["error"]
        assert set(error) == {"code", "message", "fields"} and error["code"] and error["message"], body[:300]


# --- schemathesis ---------------------------------------------------------------------------


@pytest.fixture
def fuzz_merchant(db):
    return MerchantFactory()


@pytest.fixture
def keep_test_connection():
    """Raw WSGI calls end with close_old_connections, which closes the test's transaction-wrapped
    PostgreSQL connection; Django's test Client disconnects it the same way."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def _schema_operations() -> list:
    schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    return [result.ok() for result in schema.get_all_operations()]


def test_schema_covers_the_ingest_and_returns_operations(db):
    paths = sorted(f"{op.method.upper()} {op.path}" for op in _schema_operations())
    assert paths == [
        "POST /api/v1/events",
        "POST /api/v1/returns/loop/{token}",
        "POST /api/v1/shopify/webhooks/{token}",
    ]


@pytest.mark.parametrize("path", ["/api/v1/events", "/api/v1/returns/loop/{token}", "/api/v1/shopify/webhooks/{token}"])
def test_schema_generated_requests_never_500_and_errors_use_the_envelope(fuzz_merchant, keep_test_connection, path):
    """schemathesis builds requests from the project's /api/schema/ (bodies, headers, parameters)
    and sends them to the WSGI app in-process; the pytest plugin is not used (pytest 9)."""
    (operation,) = [op for op in _schema_operations() if op.path == path]
    statuses: set[int] = set()

    @FUZZ
    @given(case=operation.as_strategy())
    def run(case):
        if case.path_parameters and "token" in case.path_parameters and "shopify" in path:
            case.path_parameters["token"] = ShopifyStore.objects.get_or_create(merchant=fuzz_merchant)[0].webhook_token
        elif case.path_parameters and "token" in case.path_parameters:
            case.path_parameters["token"] = fuzz_merchant.returns_webhook_token
        else:
            case.headers = {**(case.headers or {}), "X-Write-Key": fuzz_merchant.write_key}
        response = case.call()
        statuses.add(response.status_code)
        assert_no_500_and_enveloped(
            response.status_code, response.content, response.headers.get("content-type", [""])[0]
        )

    run()
    if path == "/api/v1/events":  # valid events stored, invalid ones refused
        assert 202 in statuses and statuses & {400, 413, 415}, statuses
    else:  # unsigned: refused before the body is looked at (signed bodies: see below)
        assert statuses == {401}, statuses


# --- hypothesis: bodies the schema does not describe -----------------------------------------

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=25,
)
keys = st.sampled_from(
    ["event_id", "type", "anonymous_id", "timestamp", "context", "identifiers", "traits", "properties"]
)
event_like = st.dictionaries(keys | st.text(max_size=10), json_values, max_size=9)
bodies = event_like | st.fixed_dictionaries({"batch": st.lists(event_like | json_values, max_size=6)}) | json_values


@given(body=bodies)
@FUZZ
def test_ingest_any_json_body_is_202_or_an_enveloped_4xx(client, fuzz_merchant, body):
    response = client.post(
        INGEST, data=json.dumps(body), content_type="application/json", HTTP_X_WRITE_KEY=fuzz_merchant.write_key
    )
    assert_no_500_and_enveloped(response.status_code, response.content, response["Content-Type"])
    assert response.status_code in (202, 400, 413)


@given(raw=st.binary(max_size=300))
@FUZZ
def test_ingest_any_bytes_are_202_or_an_enveloped_4xx(client, fuzz_merchant, raw):
    response = client.post(INGEST, data=raw, content_type="text/plain", HTTP_X_WRITE_KEY=fuzz_merchant.write_key)
    assert_no_500_and_enveloped(response.status_code, response.content, response["Content-Type"])


loop_payloads = (
    st.fixed_dictionaries(
        {
            "topic": st.sampled_from(["return", "label", "giftcard", "restock", "x"]) | json_values,
            "trigger": st.sampled_from(
                [
                    "return.created",
                    "return.updated",
                    "return.closed",
                    "label.created",
                    "label.updated",
                    "giftcard.issued",
                ]
            )
            | json_values,
            "id": json_values,
            "state": st.sampled_from(["open", "closed", "cancelled", "canceled"]) | json_values,
            "customer": json_values,
            "line_items": json_values,
            "total": json_values,
        }
    )
    | json_values
)


@given(payload=loop_payloads)
@FUZZ
def test_loop_webhook_any_signed_json_is_stored_and_processing_never_raises(
    client, fuzz_merchant, payload, django_capture_on_commit_callbacks
):
    raw = json.dumps(payload).encode()
    url = f"/api/v1/returns/loop/{fuzz_merchant.returns_webhook_token}"
    signature = sign_body(fuzz_merchant.returns_webhook_secret, raw)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, data=raw, content_type="application/json", HTTP_X_LOOP_SIGNATURE=signature)
    assert response.status_code == 200, response.content[:300]
    webhook = LoopWebhook.objects.get(id=response.json()["id"])
    assert webhook.state in ("processed", "ignored", "failed", "waiting")
    if webhook.state == "failed":
        assert "Error" not in webhook.error.split(":")[0], webhook.error  # a reason, not a crash


shopify_payloads = (
    st.fixed_dictionaries(
        {
            "id": json_values,
            "order_id": json_values,
            "email": json_values,
            "checkout_token": json_values,
            "cart_token": json_values,
            "total_price": json_values,
            "line_items": json_values,
            "customer": json_values,
            "refund_line_items": json_values,
            "transactions": json_values,
            "landing_site": json_values,
            "processed_at": json_values,
        }
    )
    | json_values
)
shopify_topics = st.sampled_from(
    ["orders/create", "orders/paid", "orders/cancelled", "refunds/create", "customers/data_request"]
)


@given(payload=shopify_payloads, topic=shopify_topics)
@FUZZ
def test_shopify_webhook_any_signed_json_is_answered_and_processing_never_raises(
    client, fuzz_merchant, payload, topic, django_capture_on_commit_callbacks
):
    store, _ = ShopifyStore.objects.get_or_create(merchant=fuzz_merchant, defaults={"webhook_secret": "shpss_fuzz"})
    raw = json.dumps(payload).encode()
    stored = ShopifyWebhook.objects.count()
    headers = {"HTTP_X_SHOPIFY_TOPIC": topic, "HTTP_X_SHOPIFY_HMAC_SHA256": shopify_sign_body("shpss_fuzz", raw)}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/api/v1/shopify/webhooks/{store.webhook_token}", data=raw, content_type="application/json", **headers
        )
    assert_no_500_and_enveloped(response.status_code, response.content, response["Content-Type"])
    if response.status_code == 400:  # not an object, or not storable (NUL, Infinity): refused, nothing kept
        assert response.json()["error"]["code"] == "invalid_json"
        assert ShopifyWebhook.objects.count() == stored
        return
    assert isinstance(payload, dict)
    assert response.status_code == 200, response.content[:300]
    webhook = ShopifyWebhook.objects.get(id=response.json()["id"])
    assert webhook.state in ("processed", "failed", "waiting")
    if webhook.state == "failed":
        assert "Error" not in webhook.error.split(":")[0], webhook.error  # a reason, not a crash
