"""Shopify Admin REST webhook bodies, shaped like Shopify's documented samples for each topic.

The order is the one the pixel fixtures (tests/events/shopify_payloads.py) go through: same
order id (gid://shopify/Order/5678901234), same checkout token, same shopper.
"""

from __future__ import annotations

import copy

from tests.events import shopify_payloads as pixel

ORDER_ID = 5678901234
CHECKOUT_TOKEN = "Z2NwLXVzLWVhc3QxOjAxSjk3"  # = the pixel's data.checkout.token
CART_TOKEN = "Z2NwLXVzLWVhc3QxOjAxSjk3Q0FSVA"
SHOP = "acme.myshopify.com"

ADDRESS = {
    "first_name": "Ada",
    "address1": "1 Main St",
    "phone": "+15035550100",
    "city": "Portland",
    "zip": "97201",
    "province": "Oregon",
    "country": "United States",
    "last_name": "Lovelace",
    "address2": None,
    "company": None,
    "latitude": 45.5152,
    "longitude": -122.6784,
    "name": "Ada Lovelace",
    "country_code": "US",
    "province_code": "OR",
}

LINE_ITEMS = [
    {
        "id": 866550311766439020,
        "admin_graphql_api_id": "gid://shopify/LineItem/866550311766439020",
        "fulfillable_quantity": 2,
        "fulfillment_service": "manual",
        "fulfillment_status": None,
        "gift_card": False,
        "grams": 300,
        "name": "Linen Shirt - Blue / M",
        "price": "59.00",
        "price_set": {"shop_money": {"amount": "59.00", "currency_code": "USD"}},
        "product_exists": True,
        "product_id": 8266836345064,
        "properties": [],
        "quantity": 2,
        "requires_shipping": True,
        "sku": "LS-BLU-M",
        "taxable": True,
        "title": "Linen Shirt",
        "total_discount": "11.80",
        "variant_id": 44610569208040,
        "variant_inventory_management": "shopify",
        "variant_title": "Blue / M",
        "vendor": "Acme",
        "tax_lines": [],
        "duties": [],
        "discount_allocations": [{"amount": "11.80", "discount_application_index": 0}],
    },
    {
        "id": 141249953214522974,
        "admin_graphql_api_id": "gid://shopify/LineItem/141249953214522974",
        "fulfillable_quantity": 1,
        "gift_card": False,
        "grams": 100,
        "name": "Canvas Tote",
        "price": "25.00",
        "product_exists": True,
        "product_id": 444,
        "properties": [],
        "quantity": 1,
        "requires_shipping": True,
        "sku": "",
        "taxable": True,
        "title": "Canvas Tote",
        "total_discount": "0.00",
        "variant_id": 555,
        "variant_title": None,
        "vendor": "Acme",
        "tax_lines": [],
        "duties": [],
        "discount_allocations": [],
    },
]


def order(**overrides) -> dict:
    """An orders/create body (the REST Order resource)."""
    body = {
        "id": ORDER_ID,
        "admin_graphql_api_id": f"gid://shopify/Order/{ORDER_ID}",
        "app_id": 580111,
        "browser_ip": "203.0.113.7",
        "buyer_accepts_marketing": True,
        "cancel_reason": None,
        "cancelled_at": None,
        "cart_token": CART_TOKEN,
        "checkout_id": 901414060,
        "checkout_token": CHECKOUT_TOKEN,
        "client_details": {"accept_language": "en-US", "browser_ip": "203.0.113.7", "user_agent": "Mozilla/5.0"},
        "closed_at": None,
        "confirmation_number": "ZBN3K8QJQ",
        "confirmed": True,
        "contact_email": "ada@lovelace-engines.com",
        "created_at": "2026-11-23T05:20:00-05:00",
        "currency": "USD",
        "current_total_price": "143.20",
        "customer_locale": "en-US",
        "discount_codes": [{"code": "SPRING10", "amount": "11.80", "type": "percentage"}],
        "email": "ada@lovelace-engines.com",
        "financial_status": "paid",
        "fulfillment_status": None,
        "landing_site": "/products/linen-shirt?utm_source=klaviyo&utm_medium=email&_kx=kx_token.ABC123",
        "name": "#1001",
        "note": None,
        "order_number": 1001,
        "order_status_url": "https://acme.com/548380009/orders/b1946ac92492d2347c6235b4d2611184/authenticate?key=x",
        "phone": None,
        "presentment_currency": "USD",
        "processed_at": "2026-11-23T05:20:01-05:00",
        "referring_site": "https://mail.example.com/",
        "source_name": "web",
        "subtotal_price": "133.20",
        "tags": "",
        "test": False,
        "token": "b1946ac92492d2347c6235b4d2611184",
        "total_discounts": "11.80",
        "total_line_items_price": "143.00",
        "total_price": "143.20",
        "total_tax": "5.00",
        "updated_at": "2026-11-23T05:20:02-05:00",
        "user_id": None,
        "billing_address": copy.deepcopy(ADDRESS),
        "customer": {
            "id": 7001,
            "email": "ada@lovelace-engines.com",
            "created_at": "2026-11-23T05:19:00-05:00",
            "updated_at": "2026-11-23T05:20:02-05:00",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "state": "disabled",
            "note": None,
            "verified_email": True,
            "multipass_identifier": None,
            "tax_exempt": False,
            "phone": None,
            "email_marketing_consent": {
                "state": "subscribed",
                "opt_in_level": "single_opt_in",
                "consent_updated_at": "2026-11-23T05:20:00-05:00",
            },
            "sms_marketing_consent": None,
            "tags": "",
            "currency": "USD",
            "admin_graphql_api_id": "gid://shopify/Customer/7001",
            "default_address": {**copy.deepcopy(ADDRESS), "id": 1, "customer_id": 7001, "default": True},
        },
        "line_items": copy.deepcopy(LINE_ITEMS),
        "shipping_address": {**copy.deepcopy(ADDRESS), "city": "Salem"},
        "shipping_lines": [{"id": 1, "code": "Standard", "price": "5.00", "title": "Standard"}],
        "refunds": [],
    }
    body.update(overrides)
    return body


def cancelled_order(**overrides) -> dict:
    return order(
        cancel_reason="customer",
        cancelled_at="2026-11-23T09:00:00-05:00",
        financial_status="refunded",
        updated_at="2026-11-23T09:00:01-05:00",
        **overrides,
    )


def refund(**overrides) -> dict:
    """A refunds/create body (the REST Refund resource): it names its order, not the customer."""
    body = {
        "id": 890088186047892319,
        "order_id": ORDER_ID,
        "created_at": "2026-11-25T10:00:00-05:00",
        "note": "Too small",
        "user_id": 548380009,
        "processed_at": "2026-11-25T10:00:00-05:00",
        "restock": True,
        "duties": [],
        "return": None,
        "admin_graphql_api_id": "gid://shopify/Refund/890088186047892319",
        "refund_line_items": [
            {
                "id": 487817672276298627,
                "quantity": 1,
                "line_item_id": 866550311766439020,
                "location_id": None,
                "restock_type": "return",
                "subtotal": 53.1,
                "total_tax": 2.0,
                "line_item": copy.deepcopy(LINE_ITEMS[0]),
            }
        ],
        "transactions": [
            {
                "id": 245135271310201185,
                "order_id": ORDER_ID,
                "kind": "refund",
                "gateway": "bogus",
                "status": "success",
                "amount": "55.10",
                "currency": "USD",
                "test": False,
                "parent_id": 801038806,
            },
            {"id": 2, "order_id": ORDER_ID, "kind": "refund", "status": "failure", "amount": "55.10"},
        ],
        "order_adjustments": [],
    }
    body.update(overrides)
    return body


def customers_redact() -> dict:
    return {
        "shop_id": 954889,
        "shop_domain": SHOP,
        "customer": {"id": 7001, "email": "ada@lovelace-engines.com", "phone": "+15035550100"},
        "orders_to_redact": [ORDER_ID],
    }


def customers_data_request() -> dict:
    return {
        "shop_id": 954889,
        "shop_domain": SHOP,
        "orders_requested": [ORDER_ID],
        "customer": {"id": 7001, "email": "ada@lovelace-engines.com", "phone": "+15035550100"},
        "data_request": {"id": 9999},
    }


def shop_redact() -> dict:
    return {"shop_id": 954889, "shop_domain": SHOP}


def pixel_checkout_started() -> dict:
    return pixel.checkout_started()


def pixel_checkout_completed() -> dict:
    return pixel.checkout_completed()


RECOVERY_URL = f"https://{SHOP}/548380009/checkouts/ac/{CHECKOUT_TOKEN}/recover?key=4d2a5e1f0b9c8a7e"


def checkout(**overrides) -> dict:
    """A checkouts/create (or checkouts/update) body: the REST checkout resource, shaped like
    Shopify's webhook sample (token, cart_token, email, abandoned_checkout_url, line_items...)."""
    body = {
        "id": 981820079255243500,
        "token": CHECKOUT_TOKEN,
        "cart_token": CART_TOKEN,
        "email": "ada@lovelace-engines.com",
        "gateway": None,
        "buyer_accepts_marketing": False,
        "buyer_accepts_sms_marketing": False,
        "sms_marketing_phone": None,
        "created_at": "2026-11-23T05:10:00-05:00",
        "updated_at": "2026-11-23T05:11:00-05:00",
        "landing_site": "/products/linen-shirt?utm_source=klaviyo",
        "note": None,
        "note_attributes": [],
        "referring_site": None,
        "shipping_lines": [],
        "taxes_included": False,
        "total_weight": 700,
        "currency": "USD",
        "completed_at": None,
        "closed_at": None,
        "user_id": None,
        "location_id": None,
        "source_identifier": None,
        "source_url": None,
        "device_id": None,
        "phone": None,
        "customer_locale": "en-US",
        "line_items": [
            {
                "applied_discounts": [],
                "discount_allocations": [],
                "key": "cb7ea1d3e40a3c9a1e2e6ba5f8d1c2b0",
                "destination_location_id": None,
                "fulfillment_service": "manual",
                "gift_card": False,
                "grams": 300,
                "origin_location_id": None,
                "presentment_title": "Linen Shirt",
                "presentment_variant_title": "Blue / M",
                "product_id": 8266836345064,
                "properties": None,
                "quantity": 2,
                "requires_shipping": True,
                "sku": "LS-BLU-M",
                "tax_lines": [],
                "taxable": True,
                "title": "Linen Shirt",
                "variant_id": 44610569208040,
                "variant_title": "Blue / M",
                "variant_price": "59.00",
                "vendor": "Acme",
                "user_id": None,
                "unit_price_measurement": {"measured_type": None},
                "rank": None,
                "compare_at_price": None,
                "line_price": "118.00",
                "price": "59.00",
            }
        ],
        "name": "#981820079255243500",
        "source": None,
        "abandoned_checkout_url": RECOVERY_URL,
        "discount_codes": [],
        "tax_lines": [],
        "source_name": "web",
        "presentment_currency": "USD",
        "total_discounts": "0.00",
        "total_line_items_price": "118.00",
        "total_price": "123.00",
        "total_tax": "0.00",
        "subtotal_price": "118.00",
        "total_duties": None,
        "billing_address": copy.deepcopy(ADDRESS),
        "shipping_address": copy.deepcopy(ADDRESS),
        "customer": {
            "id": 7001,
            "email": "ada@lovelace-engines.com",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "state": "disabled",
            "phone": None,
            "currency": "USD",
            "admin_graphql_api_id": "gid://shopify/Customer/7001",
        },
    }
    body.update(overrides)
    return body
