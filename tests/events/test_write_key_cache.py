"""Write-key lookups are remembered per process for INGEST_MERCHANT_CACHE_SECONDS."""

from __future__ import annotations

import pytest

from events import selectors
from events.models import Merchant
from events.selectors import get_merchant_by_write_key
from events.services import rotate_write_key
from tests.factories import MerchantFactory


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(selectors.time, "monotonic", lambda: now[0])
    return now


@pytest.mark.django_db
def test_write_key_lookup_is_remembered(merchant, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert get_merchant_by_write_key(merchant.write_key) == merchant
        assert get_merchant_by_write_key(merchant.write_key) == merchant


@pytest.mark.django_db
def test_unknown_write_key_is_remembered_too(django_assert_num_queries):
    with django_assert_num_queries(1):
        assert get_merchant_by_write_key("wk_unknown") is None
        assert get_merchant_by_write_key("wk_unknown") is None


@pytest.mark.django_db
def test_change_made_in_another_process_applies_after_the_ttl(merchant, settings, clock):
    settings.INGEST_MERCHANT_CACHE_SECONDS = 10
    assert get_merchant_by_write_key(merchant.write_key) == merchant
    Merchant.objects.filter(pk=merchant.pk).update(is_active=False)  # no signal: as if elsewhere
    clock[0] += 9.9
    assert get_merchant_by_write_key(merchant.write_key) == merchant
    clock[0] += 0.2
    assert get_merchant_by_write_key(merchant.write_key) is None


@pytest.mark.django_db
@pytest.mark.parametrize("change", ["rotate", "deactivate", "delete"])
def test_change_saved_in_this_process_applies_at_once(merchant, change):
    old = merchant.write_key
    assert get_merchant_by_write_key(old) == merchant
    if change == "rotate":
        rotate_write_key(merchant)
        assert get_merchant_by_write_key(merchant.write_key) == merchant
    elif change == "deactivate":
        merchant.is_active = False
        merchant.save()
    else:
        merchant.delete()
    assert get_merchant_by_write_key(old) is None


@pytest.mark.django_db
def test_zero_seconds_disables_the_memory(merchant, settings, django_assert_num_queries):
    settings.INGEST_MERCHANT_CACHE_SECONDS = 0
    with django_assert_num_queries(2):
        get_merchant_by_write_key(merchant.write_key)
        get_merchant_by_write_key(merchant.write_key)


@pytest.mark.django_db
def test_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(selectors, "MERCHANT_CACHE_MAX_ENTRIES", 3)
    for i in range(10):
        get_merchant_by_write_key(f"wk_made_up_{i}")
        assert len(selectors._merchants_by_key) <= 3


def test_junk_keys_are_not_remembered():
    selectors.get_merchant_by_write_key("not a key")
    assert selectors._merchants_by_key == {}


@pytest.mark.django_db
def test_second_request_with_the_same_key_costs_one_query(client, settings, django_assert_max_num_queries):
    settings.INGEST_RATE_LIMIT_PER_KEY = settings.INGEST_RATE_LIMIT_PER_IP = 0
    merchant = MerchantFactory()
    body = '{"event_id": "e1", "type": "PageView", "anonymous_id": "a"}'
    headers = {"HTTP_X_WRITE_KEY": merchant.write_key}
    assert client.post("/api/v1/events", body, content_type="application/json", **headers).status_code == 202
    with django_assert_max_num_queries(1):  # the INSERT only
        body = body.replace("e1", "e2")
        assert client.post("/api/v1/events", body, content_type="application/json", **headers).status_code == 202
