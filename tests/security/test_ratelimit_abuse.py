"""Finding 1: one client with the public write key must not shut a store's shoppers out of ingest."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import MerchantFactory
from tests.security.conftest import post_event

pytestmark = pytest.mark.django_db
ATTACK = pytest.mark.xfail(strict=True, reason="issue 14: the attack still works before its fix")


def _shopper_ips(n: int) -> list[str]:
    return [f"203.0.113.{i}" for i in range(1, n + 1)]


def test_ratelimit_requests_refused_per_ip_never_count_against_the_write_key(client, settings):
    settings.INGEST_RATE_LIMIT_PER_IP, settings.INGEST_RATE_LIMIT_PER_KEY = 5, 20
    merchant = MerchantFactory()
    hostile = [post_event(client, merchant.write_key, ip="192.0.2.66").status_code for _ in range(100)]
    assert hostile.count(202) == 5 and hostile.count(429) == 95
    shoppers = [post_event(client, merchant.write_key, ip=ip).status_code for ip in _shopper_ips(10)]
    assert shoppers == [202] * 10  # the 95 refused requests were not charged to the store


def test_ratelimit_over_the_store_quota_sheds_the_heavy_sources_not_the_shoppers(client, settings):
    """A source under its own IP limit but far above a shopper's rate pushes the store over its quota."""
    settings.INGEST_RATE_LIMIT_PER_IP, settings.INGEST_RATE_LIMIT_PER_KEY = 1000, 20
    settings.INGEST_RATE_LIMIT_SHED_PER_IP = 3
    merchant = MerchantFactory()
    hostile = [post_event(client, merchant.write_key, ip="192.0.2.66") for _ in range(60)]
    codes = [r.status_code for r in hostile]
    assert codes[:20] == [202] * 20 and set(codes[20:]) == {429}
    assert "this store" in hostile[-1].json()["error"]["message"]
    shoppers = [post_event(client, merchant.write_key, ip=ip).status_code for ip in _shopper_ips(10) for _ in range(2)]
    assert shoppers == [202] * 20  # over quota, each shopper (2 requests) is still let in


def test_ratelimit_over_quota_raises_a_console_alert_once_per_window(client, admin_client, settings):
    from events.models import MerchantAlert

    settings.INGEST_RATE_LIMIT_PER_IP, settings.INGEST_RATE_LIMIT_PER_KEY = 1000, 5
    settings.INGEST_RATE_LIMIT_SHED_PER_IP = 2
    merchant = MerchantFactory()
    for _ in range(30):
        post_event(client, merchant.write_key, ip="192.0.2.66")
    [alert] = MerchantAlert.objects.filter(merchant=merchant)
    assert alert.kind == "ingest_quota" and alert.resolved_at is None
    assert "quota" in alert.message and alert.count >= 1
    page = admin_client.get(reverse("admin:events_merchant_change", args=[merchant.pk]))
    assert b"Alert: " in page.content and b"over the store&#x27;s quota" in page.content
