"""Pure validation of native events and request bodies (no DB)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from events.exceptions import BatchTooLargeError, EventInvalidError, PayloadInvalidError
from events.ingest import clean_identifiers, parse_event, parse_timestamp, split_payload

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


def native(**overrides):
    event = {
        "event_id": "7d0c6a8e-1d2b-4c55-9f0e-2b8e1c9b0a11",
        "type": "AddToCart",
        "anonymous_id": "rc-anon-1",
        "timestamp": "2026-11-23T11:59:00Z",
        "context": {"url": "https://acme.com/p/1", "utm": {"source": "google"}},
        "identifiers": {"email": " ada@example.com ", "gclid": "Cj0KCQ", "shopify_customer_id": 7001},
        "traits": {"first_name": "Ada"},
        "properties": {"ProductID": "1", "Price": 10.5, "Quantity": 2, "Custom": {"nested": [1, 2]}},
    }
    event.update(overrides)
    return event


def _parse(raw):
    return parse_event(raw, now=NOW, max_future=DAY)


def test_parse_event_native_keeps_fields_and_raw():
    raw = native()
    event = _parse(raw)
    assert event.source == "pixel"
    assert (event.event_id, event.type, event.anonymous_id) == (raw["event_id"], "AddToCart", "rc-anon-1")
    assert event.timestamp == datetime(2026, 11, 23, 11, 59, tzinfo=UTC)
    assert event.identifiers == {"email": "ada@example.com", "gclid": "Cj0KCQ", "shopify_customer_id": "7001"}
    assert event.traits == {"first_name": "Ada"}
    assert event.properties == raw["properties"]
    assert event.context == raw["context"]
    assert event.raw is raw


def test_parse_event_custom_type_is_kept():
    assert _parse(native(type="Wishlist Added")).type == "Wishlist Added"


def test_parse_event_unknown_top_level_keys_are_named():
    with pytest.raises(EventInvalidError) as err:
        _parse(native(userId="x", foo=1))
    assert err.value.code == "unknown_keys"
    assert err.value.message == "Unknown keys: foo, userId."


@pytest.mark.parametrize("field", ["event_id", "type", "anonymous_id"])
def test_parse_event_required_fields(field):
    raw = native()
    del raw[field]
    with pytest.raises(EventInvalidError, match=f"{field} is required") as err:
        _parse(raw)
    assert err.value.code == "missing_field"


@pytest.mark.parametrize("value", ["", "   ", None, [], {}])
def test_parse_event_blank_anonymous_id_rejected(value):
    with pytest.raises(EventInvalidError, match="anonymous_id is required"):
        _parse(native(anonymous_id=value))


def test_parse_event_overlong_event_id_rejected():
    with pytest.raises(EventInvalidError, match="longer than 128"):
        _parse(native(event_id="x" * 129))


@pytest.mark.parametrize("field", ["context", "identifiers", "traits", "properties"])
def test_parse_event_object_fields_must_be_objects(field):
    with pytest.raises(EventInvalidError, match=f"{field} must be an object"):
        _parse(native(**{field: [1]}))


def test_parse_event_null_object_field_is_empty():
    assert _parse(native(traits=None)).traits == {}


def test_parse_event_not_an_object():
    with pytest.raises(EventInvalidError, match="must be a JSON object"):
        _parse(["not", "an", "event"])


def test_parse_event_rejects_nul_characters():
    with pytest.raises(EventInvalidError) as err:
        _parse(native(properties={"ProductName": "bad\x00name"}))
    assert err.value.code == "invalid_string"


def test_parse_event_rejects_deep_nesting():
    deep: dict = {}
    node = deep
    for _ in range(20):
        node["a"] = {}
        node = node["a"]
    with pytest.raises(EventInvalidError) as err:
        _parse(native(properties=deep))
    assert err.value.code == "too_deep"


def test_parse_event_rejects_huge_strings():
    with pytest.raises(EventInvalidError, match="limited to 8192"):
        _parse(native(properties={"x": "a" * 9000}))


def test_clean_identifiers_drops_empty_and_rejects_objects():
    assert clean_identifiers({"email": "", "phone": None, "fbp": "fb.1.2", "ok": True}) == {"fbp": "fb.1.2"}
    with pytest.raises(EventInvalidError, match=r"identifiers\.email must be a string"):
        clean_identifiers({"email": {"x": 1}})


def test_parse_timestamp_default_is_now():
    assert parse_timestamp(None, now=NOW, max_future=DAY) == NOW


def test_parse_timestamp_naive_is_utc_and_offsets_are_converted():
    assert parse_timestamp("2026-11-23T10:00:00", now=NOW, max_future=DAY) == datetime(2026, 11, 23, 10, tzinfo=UTC)
    assert parse_timestamp("2026-11-23T12:00:00+02:00", now=NOW, max_future=DAY) == datetime(
        2026, 11, 23, 10, tzinfo=UTC
    )


def test_parse_timestamp_far_future_rejected_near_future_allowed():
    assert parse_timestamp("2026-11-24T11:59:00Z", now=NOW, max_future=DAY) == datetime(
        2026, 11, 24, 11, 59, tzinfo=UTC
    )
    with pytest.raises(EventInvalidError) as err:
        parse_timestamp("2026-11-24T12:00:01Z", now=NOW, max_future=DAY)
    assert err.value.code == "timestamp_in_future"


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00:00Z", 1700000000, "0001-01-01T00:00:00+05:00"])
def test_parse_timestamp_invalid(value):
    with pytest.raises(EventInvalidError) as err:
        parse_timestamp(value, now=NOW, max_future=DAY)
    assert err.value.code == "invalid_timestamp"


def test_split_payload_single_event_drops_write_key():
    assert split_payload({"writeKey": "wk_x", "type": "A"}, max_events=5) == [{"type": "A"}]


def test_split_payload_batch():
    assert split_payload({"writeKey": "wk_x", "batch": [{"a": 1}, 2]}, max_events=5) == [{"a": 1}, 2]


def test_split_payload_batch_over_limit():
    with pytest.raises(BatchTooLargeError, match="at most 2 events; this one has 3"):
        split_payload({"batch": [{}, {}, {}]}, max_events=2)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "must be a JSON object"),
        ("x", "must be a JSON object"),
        ({"batch": {}}, "batch must be a list"),
        ({"batch": [], "extra": 1}, "Unknown keys next to batch: extra"),
    ],
)
def test_split_payload_invalid(payload, message):
    with pytest.raises(PayloadInvalidError, match=message):
        split_payload(payload, max_events=5)
