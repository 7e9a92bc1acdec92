import pytest

from returns.selectors import get_product_data
from tests.factories import EventFactory, MerchantFactory

pytestmark = pytest.mark.django_db


def test_get_product_data_matches_sku_and_numeric_or_string_variant_ids(merchant, django_assert_num_queries):
    EventFactory(merchant=merchant, type="ViewContent", properties={"VariantID": 41000000002, "ImageURL": "int.jpg"})
    EventFactory(merchant=merchant, type="AddToCart", properties={"VariantID": "555", "VariantTitle": "Red / S"})
    EventFactory(merchant=merchant, type="ViewContent", properties={"SKU": "TEE", "ImageURL": "tee.jpg"})
    EventFactory(merchant=merchant, type="Purchase", properties={"SKU": "TEE", "ImageURL": "purchase.jpg"})
    EventFactory(merchant=MerchantFactory(), type="ViewContent", properties={"SKU": "TEE", "ImageURL": "other.jpg"})
    with django_assert_num_queries(1):
        found = get_product_data(merchant, skus={"TEE", "NOPE"}, variant_ids={"41000000002", "555"})
    assert found[("sku", "TEE")]["ImageURL"] == "tee.jpg"
    assert found[("variant", "41000000002")]["ImageURL"] == "int.jpg"
    assert found[("variant", "555")]["VariantTitle"] == "Red / S"
    assert ("sku", "NOPE") not in found


def test_get_product_data_newest_value_wins_older_fills_gaps(merchant):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    EventFactory(
        merchant=merchant,
        type="ViewContent",
        timestamp=now - timedelta(days=3),
        properties={"SKU": "TEE", "ImageURL": "old.jpg", "VariantTitle": "Black / M"},
    )
    EventFactory(merchant=merchant, type="ViewContent", timestamp=now, properties={"SKU": "TEE", "ImageURL": "new.jpg"})
    found = get_product_data(merchant, skus={"TEE"}, variant_ids=set())
    assert found[("sku", "TEE")] == {"ImageURL": "new.jpg", "VariantTitle": "Black / M"}


def test_get_product_data_no_keys_no_query(merchant, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert get_product_data(merchant, skus=set(), variant_ids=set()) == {}
