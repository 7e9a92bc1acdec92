"""Ingest problems: refused requests and unknown event types, per merchant, grouped by reason, bounded."""

from __future__ import annotations

import uuid

import orjson
import pytest
from django.urls import reverse

from events import problems
from events.services import rotate_write_key

URL = "/api/v1/events"
pytestmark = pytest.mark.django_db


def event(**overrides):
    body = {"event_id": str(uuid.uuid4()), "type": "AddToCart", "anonymous_id": "a1", "properties": {"Price": 5}}
    body.update(overrides)
    return body


def post(client, body, *, key=None, origin="https://acme.com", **headers):
    if key is not None:
        headers["HTTP_X_WRITE_KEY"] = key
    if origin:
        headers["HTTP_ORIGIN"] = origin
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return client.post(URL, data=data, content_type=headers.pop("content_type", "application/json"), **headers)


@pytest.fixture(autouse=True)
def _write_at_once(settings):
    """Every problem written to the cache at once (elsewhere the suite keeps the 1 s default: cheap floods)."""
    settings.INGEST_PROBLEMS_FLUSH_SECONDS = 0


@pytest.fixture
def shop(merchant):
    merchant.allowed_origins = ["https://acme.com"]
    merchant.save()
    return merchant


def by_reason(merchant) -> dict[str, problems.Problem]:
    return {p.reason: p for p in problems.list_problems(merchant.pk)}


def test_unknown_event_type_is_accepted_with_a_warning_and_counted(client, shop):
    response = post(client, {"batch": [event(type="AddToKart"), event()]}, key=shop.write_key)
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 2 and body["errors"] == []
    assert body["warnings"] == [
        {
            "index": 0,
            "code": "unknown_event_type",
            "message": "'AddToKart' is not a standard event type (did you mean AddToCart?): it is stored, and "
            "forwarded only to destinations that list it as a custom event.",
        }
    ]
    unknown = by_reason(shop)["unknown_type"]
    assert unknown.count == 1 and unknown.origins == [("https://acme.com", 1)]


def test_a_standard_batch_has_no_warnings_key(client, shop):
    assert post(client, event(), key=shop.write_key).json() == {"accepted": 1, "duplicates": 0, "errors": []}
    assert problems.list_problems(shop.pk) == []


def test_refusals_are_grouped_by_reason_with_origin_counts_and_a_redacted_sample(client, shop):
    assert post(client, event(), key=shop.write_key, origin="https://evil.example").status_code == 403
    assert post(client, event(), key=shop.write_key, origin="https://evil.example").status_code == 403
    bad = event(traits={"email": "ann@example.com"}, type="")
    assert post(client, bad, key=shop.write_key).status_code == 400
    old_key = shop.write_key
    rotate_write_key(shop)
    assert post(client, {**event(), "writeKey": old_key}).status_code == 401  # old snippet still installed
    assert post(client, b"{not json", key=shop.write_key).status_code == 400

    rows = by_reason(shop)
    assert rows["origin"].count == 2 and rows["origin"].origins == [("https://evil.example", 2)]
    assert rows["key"].count == 1 and rows["key"].codes == [("write_key_invalid", 1)]
    assert rows["key"].origins == [("https://acme.com", 1)]  # no valid key: attributed by its allowed Origin
    assert rows["schema"].count == 2
    sample = rows["key"].sample
    assert old_key not in str(sample) and "wk_…" in sample["body"]
    assert rows["origin"].sample["ip"] == "127.0.0.x"
    schema_samples = str(rows["schema"].sample) + str(problems.list_problems(shop.pk))
    assert "ann@example.com" not in schema_samples


def test_a_refusal_with_no_key_and_an_unknown_origin_is_not_attributed(client, shop):
    assert post(client, event(), origin="https://nobody.example").status_code == 401
    assert problems.list_problems(shop.pk) == []


def test_the_tally_is_bounded_in_origins_and_writes(settings, shop):
    """A flood from many origins: one cache entry per merchant-hour, at most MAX_ORIGINS origins, one write a second."""
    from unittest import mock

    settings.INGEST_PROBLEMS_FLUSH_SECONDS = 1
    with mock.patch.object(problems, "_write", wraps=problems._write) as write:
        for i in range(500):
            problems.record_problem(shop.pk, code="origin_not_allowed", origin=f"https://o{i}.example", now=1000.0)
        problems.record_problem(shop.pk, code="origin_not_allowed", origin="https://late.example", now=1001.5)
    assert write.call_count == 2  # the first at once, the rest one second later
    (row,) = problems.list_problems(shop.pk, now=1002.0)
    assert row.count == 501
    assert len(row.origins) == problems.MAX_ORIGINS + 1  # ten origins and "(other origins)"
    assert dict(row.origins)[problems.OTHER_ORIGINS] == 501 - problems.MAX_ORIGINS


def test_problems_older_than_a_day_are_not_listed(shop):
    problems.record_problem(shop.pk, code="write_key_invalid", now=10 * 3600.0)
    assert problems.list_problems(shop.pk, now=10 * 3600.0 + 60)[0].count == 1
    assert problems.list_problems(shop.pk, now=10 * 3600.0 + 25 * 3600) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"writeKey": "wk_abc123XYZ"}', '{"writeKey": "wk_…"}'),
        ("mail ann.lee+x@shop.example.com now", "mail …@shop.example.com now"),
        ("call +1 (415) 555-0100", "call …"),
    ],
)
def test_redact(text, expected):
    assert problems.redact(text) == expected


def test_ingest_problems_page_groups_by_reason(admin_client, client, shop):
    post(client, event(), key=shop.write_key, origin="https://evil.example")
    post(client, event(type="AddToKart"), key=shop.write_key)
    page = admin_client.get(reverse("admin:events_merchant_ingest_problems", args=[shop.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('class="rc-problem"') == 2
    assert "Origin not allowed" in html and "https://evil.example" in html and "AddToKart" in html
    merchant_page = admin_client.get(reverse("admin:events_merchant_change", args=[shop.pk])).content.decode()
    assert "Ingest problems (2)" in merchant_page
    assert "2 ingest problems in the last 24 h" in merchant_page


def test_ingest_problems_page_needs_view_permission(client, django_user_model, shop):
    user = django_user_model.objects.create_user("nobody", password="pw-nobody-1", is_staff=True)
    client.force_login(user)
    assert client.get(reverse("admin:events_merchant_ingest_problems", args=[shop.pk])).status_code == 403
