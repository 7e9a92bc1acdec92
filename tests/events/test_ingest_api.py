"""POST /api/v1/events end to end through the view: status codes, envelopes, storage, CORS."""

from __future__ import annotations

import uuid

import orjson
import pytest
from django.test import override_settings
from django.urls import reverse

from events.models import Event
from events.services import rotate_write_key
from tests.events import shopify_payloads as shopify_p

URL = "/api/v1/events"


def native(**overrides):
    event = {
        "event_id": str(uuid.uuid4()),
        "type": "ViewContent",
        "anonymous_id": "rc-anon-1",
        "timestamp": "2026-11-23T10:00:00Z",
        "context": {"url": "https://acme.com/p/1"},
        "identifiers": {"gclid": "Cj0KCQ"},
        "properties": {"ProductID": "1", "Price": 10.5},
    }
    event.update(overrides)
    return event


def post(client, body, *, key=None, content_type="application/json", **headers):
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    if key is not None:
        headers["HTTP_X_WRITE_KEY"] = key
    return client.post(URL, data=data, content_type=content_type, **headers)


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


@pytest.mark.django_db
def test_ingest_url_name_resolves():
    assert reverse("ingest-events") == URL


@pytest.mark.django_db
def test_ingest_single_event_with_header_key_is_stored(client, merchant):
    event = native()
    response = post(client, event, key=merchant.write_key)
    assert response.status_code == 202
    assert response.json() == {"accepted": 1, "duplicates": 0, "errors": []}
    row = Event.objects.get(merchant=merchant)
    assert (row.event_id, row.type, row.source, row.anonymous_id) == (
        event["event_id"],
        "ViewContent",
        "pixel",
        "rc-anon-1",
    )
    assert row.timestamp.isoformat() == "2026-11-23T10:00:00+00:00"
    assert row.identifiers == {"gclid": "Cj0KCQ"}
    assert row.properties == {"ProductID": "1", "Price": 10.5}
    assert row.raw == event


@pytest.mark.django_db
def test_ingest_send_beacon_text_plain_with_body_write_key(client, merchant):
    body = {"writeKey": merchant.write_key, "batch": [native(), native()]}
    response = post(client, body, content_type="text/plain;charset=UTF-8")
    assert response.status_code == 202
    assert response.json()["accepted"] == 2
    assert all("writeKey" not in raw for raw in Event.objects.values_list("raw", flat=True))


@pytest.mark.django_db
def test_ingest_hands_off_to_processing_on_commit(client, merchant, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post(client, native(), key=merchant.write_key)
    assert response.status_code == 202
    assert len(callbacks) == 1
    assert Event.objects.get(merchant=merchant).processed_at is not None


@pytest.mark.django_db
def test_ingest_shopify_payload_as_is(client, merchant):
    body = {"writeKey": merchant.write_key, **shopify_p.checkout_completed()}
    response = post(client, body, content_type="text/plain")
    assert response.status_code == 202, response.content
    row = Event.objects.get(merchant=merchant)
    assert (row.type, row.source, row.anonymous_id) == ("Purchase", "shopify", shopify_p.CLIENT_ID)
    assert row.properties["OrderID"] == "5678901234"
    assert row.identifiers["email"] == "ada@example.com"
    assert row.raw == shopify_p.checkout_completed()


@pytest.mark.django_db
def test_ingest_duplicate_event_id_is_counted_not_stored_twice(client, merchant):
    event = native()
    assert post(client, event, key=merchant.write_key).json() == {"accepted": 1, "duplicates": 0, "errors": []}
    again = post(client, {"batch": [event, native(), native(event_id=event["event_id"])]}, key=merchant.write_key)
    assert again.status_code == 202
    assert again.json() == {"accepted": 1, "duplicates": 2, "errors": []}
    assert Event.objects.filter(merchant=merchant).count() == 2


@pytest.mark.django_db
def test_ingest_same_event_id_for_another_merchant_is_not_a_duplicate(client, merchant):
    from tests.factories import MerchantFactory

    other = MerchantFactory()
    event = native()
    assert post(client, event, key=merchant.write_key).json()["accepted"] == 1
    assert post(client, event, key=other.write_key).json()["accepted"] == 1


@pytest.mark.django_db
def test_ingest_invalid_event_in_batch_others_stored(client, merchant):
    bad = native(event_id="bad", colour="red")
    batch = [native(), bad, native(timestamp="2099-01-01T00:00:00Z"), "nope", native()]
    response = post(client, {"batch": batch}, key=merchant.write_key)
    assert response.status_code == 202
    assert response.json() == {
        "accepted": 2,
        "duplicates": 0,
        "errors": [
            {"index": 1, "code": "unknown_keys", "message": "Unknown keys: colour."},
            {"index": 2, "code": "timestamp_in_future", "message": "timestamp is too far in the future."},
            {"index": 3, "code": "invalid_event", "message": "Each event must be a JSON object."},
        ],
    }
    assert set(Event.objects.values_list("event_id", flat=True)) == {batch[0]["event_id"], batch[4]["event_id"]}


@pytest.mark.django_db
def test_ingest_far_future_single_event_is_400(client, merchant):
    error = assert_error(
        post(client, native(timestamp="2099-01-01T00:00:00Z"), key=merchant.write_key), 400, "timestamp_in_future"
    )
    assert error["fields"] == {
        "errors": [{"index": 0, "code": "timestamp_in_future", "message": "timestamp is too far in the future."}]
    }
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_ingest_unknown_keys_single_event_is_400(client, merchant):
    error = assert_error(post(client, native(userId="u1"), key=merchant.write_key), 400, "unknown_keys")
    assert error["message"] == "Unknown keys: userId."


@pytest.mark.django_db
def test_ingest_whole_batch_invalid_is_400(client, merchant):
    error = assert_error(post(client, {"batch": [{}, {}]}, key=merchant.write_key), 400, "invalid_events")
    assert [e["index"] for e in error["fields"]["errors"]] == [0, 1]


@pytest.mark.django_db
def test_ingest_empty_batch_is_accepted_as_nothing(client, merchant):
    response = post(client, {"batch": []}, key=merchant.write_key)
    assert response.status_code == 202
    assert response.json() == {"accepted": 0, "duplicates": 0, "errors": []}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"event_id": NaN}',
        b'{"a": 1e999}',
        b"\xff\xfe\x00{",
        b'"\\ud800"',
        b"[" * 5000 + b"]" * 5000,
    ],
    ids=["syntax", "nan", "infinity", "invalid-utf8", "lone-surrogate", "deep-nesting"],
)
def test_ingest_bad_json_is_400(client, merchant, body):
    error = assert_error(post(client, body, key=merchant.write_key), 400, "invalid_json")
    assert error["message"].startswith("The body is not valid JSON")


@pytest.mark.django_db
@pytest.mark.parametrize("body", [b"[]", b"42", b'"event"', b"null"])
def test_ingest_body_not_an_object_is_400(client, merchant, body):
    assert_error(post(client, body, key=merchant.write_key), 400, "invalid_payload")


@pytest.mark.django_db
@pytest.mark.parametrize("body", [b"", b"  \n"])
def test_ingest_empty_body_is_400(client, merchant, body):
    response = client.generic(
        "POST", URL, data=body, CONTENT_TYPE="application/json", HTTP_X_WRITE_KEY=merchant.write_key
    )
    assert_error(response, 400, "empty_body")


@pytest.mark.django_db
def test_ingest_deep_but_valid_json_is_a_per_event_error_not_500(client, merchant):
    deep = b'{"a":' * 1000 + b"1" + b"}" * 1000
    body = orjson.dumps(native(properties={})).replace(b'"properties":{}', b'"properties":' + deep)
    response = post(client, body, key=merchant.write_key)
    assert_error(response, 400, "too_deep")


@pytest.mark.django_db
def test_ingest_nul_character_is_a_per_event_error(client, merchant):
    assert_error(post(client, native(type="View\u0000Content"), key=merchant.write_key), 400, "invalid_string")


@pytest.mark.django_db
def test_ingest_missing_write_key_is_401(client, merchant):
    error = assert_error(post(client, native()), 401, "write_key_missing")
    assert "X-Write-Key" in error["message"]


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["wk_doesnotexist", "garbage", "wk_" + "x" * 100])
def test_ingest_unknown_write_key_is_401(client, merchant, key):
    assert_error(post(client, native(), key=key), 401, "write_key_invalid")


@pytest.mark.django_db
def test_ingest_inactive_merchant_key_is_401(client, merchant):
    merchant.is_active = False
    merchant.save()
    assert_error(post(client, native(), key=merchant.write_key), 401, "write_key_invalid")


@pytest.mark.django_db
def test_ingest_rotated_write_key_old_rejected_new_accepted(client, merchant):
    old = merchant.write_key
    rotate_write_key(merchant)
    assert_error(post(client, native(), key=old), 401, "write_key_invalid")
    assert_error(post(client, {"writeKey": old, **native()}, content_type="text/plain"), 401, "write_key_invalid")
    assert post(client, native(), key=merchant.write_key).status_code == 202


@pytest.mark.django_db
def test_ingest_write_key_never_logged(client, merchant, caplog):
    caplog.set_level("DEBUG")
    post(client, native(), key=merchant.write_key)
    post(client, {"writeKey": merchant.write_key, "bad": 1}, content_type="text/plain")
    rendered = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert merchant.write_key not in rendered
    assert "rc-anon-1" not in rendered


@pytest.mark.django_db
def test_ingest_request_log_line_carries_the_counts(client, merchant, caplog):
    caplog.set_level("INFO", logger="recapture.request")
    batch = {"batch": [native(event_id="e1"), native(event_id="e1"), {"type": "x"}]}
    assert post(client, batch, key=merchant.write_key).status_code == 202
    (line,) = [r for r in caplog.records if r.name == "recapture.request"]
    counts = {k: getattr(line, k) for k in ("merchant_id", "received", "accepted", "duplicates", "invalid")}
    assert counts == {"merchant_id": merchant.pk, "received": 3, "accepted": 1, "duplicates": 1, "invalid": 1}


@pytest.mark.django_db
def test_ingest_wrong_origin_is_403_without_cors_headers(client, merchant):
    response = post(client, native(), key=merchant.write_key, HTTP_ORIGIN="https://evil.example")
    assert_error(response, 403, "origin_not_allowed")
    assert "Access-Control-Allow-Origin" not in response.headers
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_ingest_allowed_origin_gets_cors_headers(client, merchant):
    origin = merchant.allowed_origins[0]
    response = post(client, native(), key=merchant.write_key, HTTP_ORIGIN=origin)
    assert response.status_code == 202
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert response.headers["Vary"] == "Origin"


@pytest.mark.django_db
def test_ingest_origin_allowed_for_another_merchant_only_is_403(client, merchant):
    from tests.factories import MerchantFactory

    other = MerchantFactory()
    response = post(client, native(), key=merchant.write_key, HTTP_ORIGIN=other.allowed_origins[0])
    assert_error(response, 403, "origin_not_allowed")


@pytest.mark.django_db
def test_ingest_error_for_allowed_origin_is_readable_by_the_browser(client, merchant):
    origin = merchant.allowed_origins[0]
    response = post(client, b"{bad", key=merchant.write_key, HTTP_ORIGIN=origin)
    assert_error(response, 400, "invalid_json")
    assert response.headers["Access-Control-Allow-Origin"] == origin


@pytest.mark.django_db
def test_ingest_preflight_allowed_origin(client, merchant):
    origin = merchant.allowed_origins[0]
    response = client.options(
        URL,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type,x-write-key",
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert response.headers["Access-Control-Allow-Methods"] == "POST, OPTIONS"
    assert response.headers["Access-Control-Allow-Headers"] == "Content-Type, X-Write-Key"
    assert response.headers["Access-Control-Max-Age"] == "7200"
    assert response.headers["Vary"] == "Origin"


@pytest.mark.django_db
def test_ingest_preflight_other_origin_is_403_without_cors_headers(client, merchant):
    response = client.options(URL, HTTP_ORIGIN="https://evil.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert response.status_code == 403
    assert not [h for h in response.headers if h.lower().startswith("access-control-")]


@pytest.mark.django_db
def test_ingest_sandboxed_null_origin_needs_null_in_allowed_origins(client, merchant):
    assert_error(post(client, native(), key=merchant.write_key, HTTP_ORIGIN="null"), 403, "origin_not_allowed")
    merchant.allowed_origins = [*merchant.allowed_origins, "null"]
    merchant.save()
    response = post(client, native(), key=merchant.write_key, HTTP_ORIGIN="null")
    assert response.status_code == 202
    assert response.headers["Access-Control-Allow-Origin"] == "null"


@pytest.mark.django_db
def test_ingest_origin_comparison_ignores_case_and_trailing_slash(client, merchant):
    origin = merchant.allowed_origins[0].upper() + "/"
    assert post(client, native(), key=merchant.write_key, HTTP_ORIGIN=origin).status_code == 202


@pytest.mark.django_db
def test_ingest_server_to_server_without_origin_is_allowed(client, merchant):
    response = post(client, native(), key=merchant.write_key)
    assert response.status_code == 202
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.django_db
def test_ingest_batch_too_many_events_is_413(client, merchant, settings):
    settings.INGEST_MAX_BATCH_EVENTS = 3
    response = post(client, {"batch": [native() for _ in range(4)]}, key=merchant.write_key)
    error = assert_error(response, 413, "batch_too_large")
    assert error["message"] == "A batch holds at most 3 events; this one has 4."
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_ingest_body_too_many_bytes_is_413(client, merchant, settings):
    settings.INGEST_MAX_BODY_BYTES = 2000
    body = {"batch": [native(properties={"Description": "x" * 500}) for _ in range(5)]}
    error = assert_error(post(client, body, key=merchant.write_key), 413, "payload_too_large")
    assert error["message"] == "The body is larger than 2000 bytes."


@pytest.mark.django_db
def test_ingest_500_events_fit_the_default_limits(client, merchant):
    body = {"batch": [native() for _ in range(500)]}
    response = post(client, body, key=merchant.write_key)
    assert response.status_code == 202
    assert response.json()["accepted"] == 500


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml", ""]
)
def test_ingest_unsupported_content_type_is_415(client, merchant, content_type):
    response = client.generic(
        "POST", URL, data=b'{"a":1}', content_type=content_type, HTTP_X_WRITE_KEY=merchant.write_key
    )
    error = assert_error(response, 415, "unsupported_media_type")
    assert "application/json or text/plain" in error["message"]


@pytest.mark.django_db
def test_ingest_get_is_405(client, merchant):
    response = client.get(URL, HTTP_X_WRITE_KEY=merchant.write_key)
    assert_error(response, 405, "method_not_allowed")


def _batch(n: int) -> dict:
    return {"batch": [native(anonymous_id=f"anon-{i}") for i in range(n)]}


@pytest.mark.django_db
@pytest.mark.parametrize("size", [1, 500])
# Ingest's own queries; the rate limiter's cache operations (SQL only on the database cache,
# none with REDIS_URL) are bounded separately in tests/reliability/test_request_limits.py.
@override_settings(INGEST_RATE_LIMIT_PER_KEY=0, INGEST_RATE_LIMIT_PER_IP=0)
def test_ingest_query_count_is_bounded_whatever_the_batch_size(client, merchant, django_assert_max_num_queries, size):
    body = orjson.dumps(_batch(size))
    # the write-key lookup and one INSERT ... RETURNING id (no transaction of its own)
    with django_assert_max_num_queries(2):
        response = client.post(URL, data=body, content_type="application/json", HTTP_X_WRITE_KEY=merchant.write_key)
    assert response.status_code == 202
    assert response.json()["accepted"] == size
