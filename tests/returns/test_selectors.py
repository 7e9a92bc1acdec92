from datetime import timedelta

import pytest
from django.utils import timezone

from returns.selectors import get_order_line_items
from tests.factories import EventFactory, MerchantFactory

pytestmark = pytest.mark.django_db

ITEMS = [
    {"ProductName": "Classic Tee", "VariantID": "41000000001", "SKU": "TEE-BLK-M", "VariantName": "Black / M"},
    {"ProductName": "Logo Cap", "VariantID": "41000000002", "SKU": "CAP-NVY", "ImageURL": "https://cdn/cap.jpg"},
]


def test_get_order_line_items_takes_the_orders_own_purchase_only(merchant, django_assert_num_queries):
    """Not whatever product pages the pixel saw: a ViewContent of the same SKU, another order and
    another merchant's order are ignored."""
    EventFactory(merchant=merchant, type="ViewContent", properties={"SKU": "CAP-NVY", "ImageURL": "viewed.jpg"})
    EventFactory(merchant=merchant, type="Purchase", properties={"OrderID": "999", "Items": [{"SKU": "CAP-NVY"}]})
    EventFactory(merchant=MerchantFactory(), type="Purchase", properties={"OrderID": "5840219373812", "Items": []})
    EventFactory(merchant=merchant, type="Purchase", properties={"OrderID": 5840219373812, "Items": ITEMS})
    with django_assert_num_queries(1):
        found = get_order_line_items(merchant, order_id="5840219373812")
    assert found[("variant", "41000000002")]["ImageURL"] == "https://cdn/cap.jpg"
    assert found[("sku", "TEE-BLK-M")]["VariantName"] == "Black / M"
    assert set(found) == {
        ("variant", "41000000001"),
        ("variant", "41000000002"),
        ("sku", "TEE-BLK-M"),
        ("sku", "CAP-NVY"),
    }


def test_get_order_line_items_newest_report_of_the_order_wins(merchant):
    now = timezone.now()
    old = [{"SKU": "TEE-BLK-M", "VariantName": "old"}]
    EventFactory(
        merchant=merchant,
        type="Purchase",
        timestamp=now - timedelta(hours=1),
        properties={"OrderID": "7", "Items": old},
    )
    EventFactory(merchant=merchant, type="Purchase", timestamp=now, properties={"OrderID": "7", "Items": ITEMS})
    assert get_order_line_items(merchant, order_id="7")[("sku", "TEE-BLK-M")]["VariantName"] == "Black / M"


def test_get_order_line_items_without_an_order_id_makes_no_query(merchant, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert get_order_line_items(merchant, order_id="") == {}
    EventFactory(merchant=merchant, type="Purchase", properties={"OrderID": "8", "Items": "junk"})
    assert get_order_line_items(merchant, order_id="8") == {}
