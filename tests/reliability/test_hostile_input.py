"""Hostile and malformed input at the two public endpoints: always a 4xx in the envelope, never a 500."""

from __future__ import annotations

import json
import uuid

import pytest
from django.urls import reverse

from events.models import Event
from identity.models import Profile
from identity.services import resolve_events
from returns.models import LoopWebhook
from returns.parsing import sign_body
from returns.services import set_loop_webhook_secret
from tests.factories import MerchantFactory
from tests.reliability.conftest import INGEST, assert_envelope

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_rate_limits")]

SCRIPT = "<script>alert('xss')</script>"
SQL = "'; DROP TABLE events_event; --"
HOSTILE = f'{SCRIPT}{SQL}"><img src=x onerror=alert(1)>'


def _post(client, body: bytes | str, key: str, **extra):
    data = body.encode() if isinstance(body, str) else body
    return client.post(INGEST, data=data, content_type="application/json", HTTP_X_WRITE_KEY=key, **extra)


def _event(**overrides) -> dict:
    return {"event_id": uuid.uuid4().hex, "type": "ViewContent", "anonymous_id": "anon-1", **overrides}


def test_ingest_json_nested_10000_deep_is_400(client, merchant):
    body = '{"event_id":"e","type":"t","anonymous_id":"a","properties":' + "[" * 10_000 + "]" * 10_000 + "}"
    assert_envelope(_post(client, body, merchant.write_key), 400, "invalid_json")
    assert not Event.objects.exists()


def test_ingest_nested_within_the_parser_limit_but_too_deep_to_store_is_400(client, merchant):
    deep: object = "x"
    for _ in range(50):
        deep = {"k": deep}
    error = assert_envelope(_post(client, json.dumps(_event(properties=deep)), merchant.write_key), 400)
    assert error["fields"]["errors"][0]["code"] == "too_deep"


def test_ingest_10_mb_body_is_413_before_parsing(client, merchant):
    body = json.dumps(_event(properties={"blob": "x" * (10 * 1024 * 1024)}))
    assert_envelope(_post(client, body, merchant.write_key), 413, "payload_too_large")
    assert not Event.objects.exists()


def test_ingest_body_longer_than_its_content_length_header_is_read_only_up_to_it(client, merchant, settings):
    settings.INGEST_MAX_BODY_BYTES = 1000
    body = json.dumps(_event(properties={"blob": "x" * 5000})).encode()
    response = _post(client, body, merchant.write_key, CONTENT_LENGTH="900")
    assert_envelope(response, 400, "invalid_json")  # the first 900 bytes, truncated JSON
    assert not Event.objects.exists()


def test_ingest_batch_of_100000_tiny_events_is_413(client, merchant):
    body = '{"batch":[' + ",".join(["{}"] * 100_000) + "]}"
    error = assert_envelope(_post(client, body, merchant.write_key), 413, "batch_too_large")
    assert "100000" in error["message"]
    assert not Event.objects.exists()


@pytest.mark.parametrize("raw", [b"\xff\xfe\xfd", b'{"event_id":"\xc3\x28","type":"t","anonymous_id":"a"}'])
def test_ingest_invalid_utf8_is_400(client, merchant, raw):
    assert_envelope(_post(client, raw, merchant.write_key), 400, "invalid_json")


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999999"])
def test_ingest_nan_and_infinity_are_400(client, merchant, number):
    body = '{"event_id":"e1","type":"t","anonymous_id":"a","properties":{"Price":' + number + "}}"
    response = _post(client, body, merchant.write_key)
    assert_envelope(response, 400, "invalid_json")
    assert not Event.objects.exists()


def test_ingest_duplicate_keys_keep_the_last_value_consistently(client, merchant):
    body = '{"event_id":"dup-1","type":"ViewContent","type":"AddToCart","anonymous_id":"a","properties":{"v":1,"v":2}}'
    response = _post(client, body, merchant.write_key)
    assert response.status_code == 202, response.content
    event = Event.objects.get()
    assert (event.type, event.properties, event.raw["type"]) == ("AddToCart", {"v": 2}, "AddToCart")


def test_ingest_one_mb_string_is_413_and_a_long_string_within_the_body_limit_is_a_per_event_400(client, merchant):
    assert_envelope(_post(client, json.dumps(_event(type="x" * 1024 * 1024)), merchant.write_key), 413)
    error = assert_envelope(_post(client, json.dumps(_event(properties={"n": "x" * 100_000})), merchant.write_key), 400)
    assert error["fields"]["errors"][0]["code"] == "string_too_long"


def test_ingest_nul_characters_are_refused_per_event(client, merchant):
    error = assert_envelope(_post(client, json.dumps(_event(properties={"n": "a\u0000b"})), merchant.write_key), 400)
    assert error["fields"]["errors"][0]["code"] == "invalid_string"


def test_ingest_proto_key_is_plain_data(client, merchant):
    props = {"__proto__": {"admin": True}, "constructor": {"prototype": {"x": 1}}}
    response = _post(client, json.dumps(_event(properties=props)), merchant.write_key)
    assert response.status_code == 202
    assert Event.objects.get().properties == props
    top = _post(client, json.dumps({**_event(), "__proto__": {"admin": True}}), merchant.write_key)
    assert assert_envelope(top, 400)["fields"]["errors"][0]["code"] == "unknown_keys"


@pytest.mark.parametrize(("timestamp", "status"), [("1970-01-01T00:00:00Z", 202), ("2100-01-01T00:00:00Z", 400)])
def test_ingest_timestamps_in_1970_and_2100(client, merchant, timestamp, status):
    response = _post(client, json.dumps(_event(timestamp=timestamp)), merchant.write_key)
    assert response.status_code == status, response.content
    if status == 202:
        assert Event.objects.get().timestamp.year == 1970
    else:
        assert assert_envelope(response, 400)["fields"]["errors"][0]["code"] == "timestamp_in_future"


@pytest.mark.parametrize("timestamp", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "yesterday", 12])
def test_ingest_timestamps_out_of_range_are_400(client, merchant, timestamp):
    response = _post(client, json.dumps(_event(timestamp=timestamp)), merchant.write_key)
    assert assert_envelope(response, 400)["fields"]["errors"][0]["code"] in ("invalid_timestamp", "timestamp_in_future")


def test_ingest_with_another_merchants_key_from_this_merchants_origin_is_403(client, merchant):
    other = MerchantFactory()
    response = _post(client, json.dumps(_event()), other.write_key, HTTP_ORIGIN=merchant.allowed_origins[0])
    assert_envelope(response, 403, "origin_not_allowed")
    assert not Event.objects.exists()


def test_ingest_events_land_under_the_keys_merchant_only(client, merchant):
    other = MerchantFactory()
    assert _post(client, json.dumps(_event(event_id="shared-id")), other.write_key).status_code == 202
    assert _post(client, json.dumps(_event(event_id="shared-id")), merchant.write_key).status_code == 202
    assert sorted(Event.objects.values_list("merchant_id", flat=True)) == sorted([merchant.pk, other.pk])


@pytest.mark.parametrize("key", ["", "wk_", "wk_" + "a" * 500, "wk_\u00e9\u00e9", "' OR 1=1 --", "wk_%00"])
def test_ingest_junk_write_keys_are_401(client, key):
    response = client.post(INGEST, data=json.dumps(_event()), content_type="application/json", HTTP_X_WRITE_KEY=key)
    assert_envelope(response, 401)


@pytest.mark.parametrize("key", ["wk_\u0000abc", "wk_abc\u0000", "wk_ab cd", "wk_\u00e9"])
def test_ingest_write_key_in_the_body_with_nul_or_junk_is_401_not_a_database_error(client, key):
    """PostgreSQL refuses NUL in a text parameter (DataError): such keys never reach the database."""
    body = json.dumps({**_event(), "writeKey": key})
    assert_envelope(client.post(INGEST, data=body, content_type="application/json"), 401, "write_key_invalid")


def test_ingest_sql_and_html_everywhere_is_stored_verbatim_and_escaped_in_the_admin(client, admin_client, merchant):
    # Markup in identity fields and non-http(s) URLs are refused at ingest since issue 14
    # (tests/security/test_payload_abuse.py); everything else hostile is stored verbatim.
    refused = _event(identifiers={"email": f"{SCRIPT}@example.com"}, properties={"URL": "javascript:alert(1)"})
    assert _post(client, json.dumps(refused), merchant.write_key).status_code == 400
    event = _event(
        event_id=HOSTILE[:120],
        type=HOSTILE[:120],
        anonymous_id="anon-hostile",
        context={"url": "https://shop.example/?q=" + HOSTILE, "user_agent": HOSTILE, "utm": {"source": HOSTILE}},
        identifiers={"email": "shopper@example.com", "external_id": SQL},
        traits={"last_name": SQL, HOSTILE: SQL},
        properties={"ProductName": HOSTILE, HOSTILE: [HOSTILE]},
    )
    assert _post(client, json.dumps(event), merchant.write_key).status_code == 202
    stored = Event.objects.get()
    assert stored.properties["ProductName"] == HOSTILE and stored.type == HOSTILE[:120]
    resolve_events(events=[stored])
    profile = Profile.objects.get()
    pages = [
        reverse("admin:events_event_change", args=[stored.pk]),
        reverse("admin:events_event_changelist"),
        reverse("admin:identity_profile_change", args=[profile.pk]),
        reverse("admin:identity_profile_changelist"),
    ]
    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert SCRIPT not in html, url
        assert "<img src=x" not in html, url
        assert 'href="javascript:' not in html, url
    detail = admin_client.get(pages[0]).content.decode()
    assert "&lt;script&gt;" in detail or "\\u003cscript\\u003e" in detail


# --- Loop Returns webhook ------------------------------------------------------------------


def _loop(client, merchant, body: bytes, *, secret: str | None = None, **extra):
    signature = sign_body(secret or merchant.returns_webhook_secret, body)
    url = f"/api/v1/returns/loop/{merchant.returns_webhook_token}"
    return client.post(url, data=body, content_type="application/json", HTTP_X_LOOP_SIGNATURE=signature, **extra)


RETURN_BODY = json.dumps(
    {"topic": "return", "trigger": "return.created", "id": "9001", "state": "open", "customer": "ann@example.com"}
).encode()


def test_loop_webhook_replayed_body_is_recognised_and_processed_once(
    client, merchant, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as first:
        assert _loop(client, merchant, RETURN_BODY).json()["duplicate"] is False
    events = Event.objects.count()
    with django_capture_on_commit_callbacks(execute=True) as second:
        replay = _loop(client, merchant, RETURN_BODY)
    assert replay.status_code == 200 and replay.json()["duplicate"] is True
    assert LoopWebhook.objects.count() == 1
    assert first and not second  # the replay queued nothing
    assert events == Event.objects.count() == 1


def test_loop_webhook_signed_with_the_old_secret_after_rotation_is_401(client, merchant):
    old = merchant.returns_webhook_secret
    set_loop_webhook_secret(merchant, secret="whsec_new_" + uuid.uuid4().hex)
    assert_envelope(_loop(client, merchant, RETURN_BODY, secret=old), 401, "invalid_signature")
    assert _loop(client, merchant, RETURN_BODY).status_code == 200
    assert LoopWebhook.objects.count() == 1


def test_loop_webhook_10_mb_body_is_413_in_the_envelope(client, merchant):
    body = b'{"a":"' + b"x" * (10 * 1024 * 1024) + b'"}'
    assert_envelope(_loop(client, merchant, body), 413, "payload_too_large")
    assert not LoopWebhook.objects.exists()


@pytest.mark.parametrize(
    "body",
    [b"[" * 10_000 + b"]" * 10_000, b"\xff\xfe\xfd", b'{"id": NaN}', b'{"__proto__": {"x": 1}}', b"", b"null"],
)
def test_loop_webhook_hostile_signed_bodies_are_stored_and_never_500(
    client, merchant, body, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _loop(client, merchant, body)
    assert response.status_code == 200, response.content[:300]
    webhook = LoopWebhook.objects.get()
    assert webhook.state in ("failed", "ignored")


RETURN_PREFIX = b'{"topic": "return", "trigger": "return.created", "id": "77", "state": "open", "customer": '


@pytest.mark.parametrize(
    "value",
    [b"NaN", b"Infinity", b"-Infinity", b"1e999999", b'"a\\u0000b"', b'"\\ud800"', b'"\x00"', b'{"\\u0000": 1}'],
    ids=["nan", "inf", "-inf", "overflow", "nul-escape", "lone-surrogate", "nul-byte", "nul-key"],
)
def test_loop_webhook_signed_return_with_unstorable_values_fails_cleanly(
    client, merchant, value, django_capture_on_commit_callbacks
):
    """Values Python's json accepts but JSON columns do not (PostgreSQL: NUL, lone surrogates;
    both: NaN/Infinity) used to crash processing with IntegrityError/DataError."""
    with django_capture_on_commit_callbacks(execute=True):
        response = _loop(client, merchant, RETURN_PREFIX + value + b"}")
    assert response.status_code == 200, response.content[:300]
    webhook = LoopWebhook.objects.get()
    if value == b'"\x00"':  # a raw NUL byte is stored as U+FFFD (text columns take no NUL), then processed
        assert webhook.state == "processed" and "\x00" not in webhook.body and "\ufffd" in webhook.body
        return
    assert (webhook.state, webhook.error) == ("failed", "The body is not a JSON object.")
    assert not Event.objects.exists()


@pytest.mark.parametrize("token", ["%00", "abc%00def", "a" * 300, "%E2%80%AE", "..%2F..%2Fadmin"])
def test_loop_webhook_junk_tokens_are_404(client, token):
    response = client.post(f"/api/v1/returns/loop/{token}", data=b"{}", content_type="application/json")
    assert_envelope(response, 404, "not_found")


def test_loop_webhook_return_id_longer_than_the_column_fails_cleanly(
    client, merchant, django_capture_on_commit_callbacks
):
    body = RETURN_PREFIX.replace(b'"id": "77"', b'"id": "' + b"9" * 80 + b'"') + b'"ann@example.com"}'
    with django_capture_on_commit_callbacks(execute=True):
        assert _loop(client, merchant, body).status_code == 200
    webhook = LoopWebhook.objects.get()
    assert (webhook.state, webhook.error) == ("failed", "The return id is longer than 64 characters.")


def test_loop_webhook_unsigned_hostile_body_is_401_and_not_parsed(client, merchant):
    url = f"/api/v1/returns/loop/{merchant.returns_webhook_token}"
    response = client.post(url, data=b"[" * 10_000, content_type="application/json")
    assert_envelope(response, 401, "invalid_signature")
    assert not LoopWebhook.objects.exists()


def test_unknown_api_urls_are_404_in_the_envelope_and_other_urls_keep_the_html_page(client):
    assert_envelope(client.post("/api/v1/nope", data=b"{}", content_type="application/json"), 404, "not_found")
    assert_envelope(client.get("/api/v1/returns/loop/a/b"), 404, "not_found")
    assert client.get("/nope")["Content-Type"].startswith("text/html")


def test_a_database_error_that_is_not_an_outage_is_not_reported_as_retryable(rf):
    from django.db import DataError

    from config.errors import api_exception_handler

    assert api_exception_handler(DataError("value too long"), {}) is None  # a logged 500, not a 503
