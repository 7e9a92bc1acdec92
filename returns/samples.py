"""A realistic sample Loop return, used by send_test_return_events (data only)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from events.models import Merchant


def test_email(merchant: Merchant) -> str:
    return f"returns-test@{merchant.shop_domain}"


def sample_return(merchant: Merchant, *, return_id: str, now: datetime) -> dict[str, Any]:
    created = (now - timedelta(minutes=5)).isoformat()
    return {
        "topic": "return",
        "trigger": "return.created",
        "id": return_id,
        "state": "open",
        "created_at": created,
        "edited_at": None,
        "total": "82.00",
        "order_id": 2871,
        "order_name": "#TEST-1001",
        "provider_order_id": "5550000000001",
        "customer": test_email(merchant),
        "customer_detail": {"email": test_email(merchant), "first_name": "Test", "last_name": "Returner"},
        "address": {
            "city": "Columbus",
            "state": "OH",
            "zip": "43215",
            "country": "United States",
            "country_code": "US",
        },
        "currency": "USD",
        "return_total": "82.00",
        "refund": "42.00",
        "exchange_total": "40.00",
        "gift_card": "0.00",
        "status_page_url": f"https://{merchant.shop_domain}/a/loop_returns/#/return/{return_id}",
        "is_gift_return": False,
        "labels": [
            {
                "status": "new",
                "url": "https://easypost-files.s3.amazonaws.com/files/postage_label/test.pdf",
                "carrier": "USPS",
                "tracking_number": "9400100000000000000000",
            }
        ],
        "line_items": [
            {
                "line_item_id": 1,
                "product_id": 1001,
                "variant_id": 2001,
                "sku": "TEST-TEE-M",
                "title": "Test Tee",
                "variant_title": "Medium / Black",
                "image": "https://cdn.shopify.com/s/files/test-tee.jpg",
                "price": "42.00",
                "return_reason": "Too small",
                "parent_return_reason": "Size",
            },
            {
                "line_item_id": 2,
                "product_id": 1002,
                "variant_id": 2002,
                "sku": "TEST-HOODIE-L",
                "title": "Test Hoodie",
                "variant_title": "Large / Grey",
                "image": "https://cdn.shopify.com/s/files/test-hoodie.jpg",
                "price": "40.00",
                "return_reason": "Changed my mind",
                "parent_return_reason": "Other",
            },
        ],
        "exchanges": [
            {"product_id": 1002, "variant_id": 2003, "sku": "TEST-HOODIE-XL", "title": "Test Hoodie", "price": "40.00"}
        ],
    }


def sample_triggers(ret: dict[str, Any], *, now: datetime) -> list[tuple[str, dict[str, Any], str]]:
    """(trigger, webhook payload, return state) for every forwarded metric."""
    label = {
        "topic": "label",
        "id": ret["id"],
        "carrier": "USPS",
        "tracking_number": "9400100000000000000000",
        "label_updated_at": now.isoformat(),
    }
    giftcard = {
        "topic": "giftcard",
        "trigger": "giftcard.requested",
        "id": None,
        "return_id": ret["id"],
        "total_credit_issued": "10.00",
        "gift_card_subtotal": "10.00",
        "currency": "USD",
        "email": ret["customer"],
    }
    return [
        ("return.created", ret, "open"),
        ("return.updated", {**ret, "state": "open"}, "open"),
        ("return.updated", {**ret, "state": "cancelled"}, "cancelled"),
        ("return.updated", {**ret, "state": "expired"}, "expired"),
        ("return.closed", {**ret, "state": "closed"}, "closed"),
        ("label.created", {**label, "trigger": "label.created", "label_status": "pre_transit"}, "open"),
        ("label.updated", {**label, "trigger": "label.updated", "label_status": "delivered"}, "open"),
        ("giftcard.requested", giftcard, "closed"),
    ]
