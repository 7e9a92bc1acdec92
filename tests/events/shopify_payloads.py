"""Realistic Shopify Web Pixels API event objects, as `analytics.subscribe` hands them over."""

from __future__ import annotations

import copy

CLIENT_ID = "4f7d1a0e-21c7-4b3f-9a6b-0c1f6e2b9d11"
LANDING = (
    "https://acme.com/products/linen-shirt?variant=44610569208040&utm_source=facebook&utm_medium=paid"
    "&utm_campaign=spring&fbclid=IwAR0abc&_kx=kx_token.ABC123"
)
CHECKOUT_URL = "https://acme.com/checkouts/cn/Z2NwLXVzLWVhc3QxOjAxSjk3"


def _context(href: str) -> dict:
    return {
        "document": {
            "location": {
                "href": href,
                "hash": "",
                "host": "acme.com",
                "hostname": "acme.com",
                "origin": "https://acme.com",
                "pathname": "/products/linen-shirt",
                "port": "",
                "protocol": "https:",
                "search": href.partition("?")[2] and "?" + href.partition("?")[2],
            },
            "referrer": "https://www.facebook.com/",
            "characterSet": "UTF-8",
            "title": "Linen Shirt – Acme",
        },
        "navigator": {
            "language": "en-US",
            "cookieEnabled": True,
            "languages": ["en-US", "en"],
            "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
        },
        "window": {
            "innerHeight": 844,
            "innerWidth": 390,
            "outerHeight": 844,
            "outerWidth": 390,
            "pageXOffset": 0,
            "pageYOffset": 0,
            "location": {"href": href, "origin": "https://acme.com"},
            "origin": "https://acme.com",
            "screen": {"height": 844, "width": 390},
            "screenX": 0,
            "screenY": 0,
            "scrollX": 0,
            "scrollY": 0,
        },
    }


VARIANT = {
    "id": "gid://shopify/ProductVariant/44610569208040",
    "image": {"src": "//cdn.shopify.com/s/files/1/0604/4211/6328/files/linen-shirt.jpg?v=1689256168"},
    "price": {"amount": 59.0, "currencyCode": "USD"},
    "product": {
        "id": "gid://shopify/Product/8266836345064",
        "title": "Linen Shirt",
        "untranslatedTitle": "Linen Shirt",
        "url": "/products/linen-shirt",
        "vendor": "Acme",
        "type": "Shirts",
    },
    "sku": "LS-BLU-M",
    "title": "Blue / M",
    "untranslatedTitle": "Blue / M",
}

ADDRESS = {
    "address1": "1 Main St",
    "address2": None,
    "city": "Portland",
    "country": "United States",
    "countryCode": "US",
    "firstName": "Ada",
    "lastName": "Lovelace",
    "phone": "+15035550100",
    "province": "Oregon",
    "provinceCode": "OR",
    "zip": "97201",
}


def _checkout(*, with_order: bool = False) -> dict:
    checkout = {
        "attributes": [],
        "billingAddress": copy.deepcopy(ADDRESS),
        "shippingAddress": {**ADDRESS, "firstName": "Ada", "city": "Salem"},
        "currencyCode": "USD",
        "discountApplications": [
            {
                "allocationMethod": "ACROSS",
                "targetSelection": "ALL",
                "targetType": "LINE_ITEM",
                "title": "SPRING10",
                "type": "DISCOUNT_CODE",
                "value": {"percentage": 10},
            },
            {"title": "Auto sale", "type": "AUTOMATIC", "value": {"amount": 1.0, "currencyCode": "USD"}},
        ],
        "email": "ada@example.com",
        "phone": "",
        "lineItems": [
            {
                "id": "gid://shopify/CheckoutLineItem/b3c1d7e2?checkout=abc",
                "quantity": 2,
                "title": "Linen Shirt",
                "variant": copy.deepcopy(VARIANT),
                "finalLinePrice": {"amount": 106.2, "currencyCode": "USD"},
                "discountAllocations": [],
            },
            {
                "id": "gid://shopify/CheckoutLineItem/77aa",
                "quantity": 1,
                "title": "Canvas Tote",
                "variant": {
                    "id": "gid://shopify/ProductVariant/555",
                    "image": {"src": "https://cdn.shopify.com/tote.jpg"},
                    "price": {"amount": "25.00", "currencyCode": "USD"},
                    "product": {"id": "gid://shopify/Product/444", "title": "Canvas Tote", "url": "/products/tote"},
                    "sku": "",
                    "title": "Default Title",
                },
            },
        ],
        "order": {"id": None},
        "shippingLine": {"price": {"amount": 5.0, "currencyCode": "USD"}},
        "subtotalPrice": {"amount": 133.2, "currencyCode": "USD"},
        "token": "Z2NwLXVzLWVhc3QxOjAxSjk3",
        "totalPrice": {"amount": 143.2, "currencyCode": "USD"},
        "totalTax": {"amount": 5.0, "currencyCode": "USD"},
    }
    if with_order:
        checkout["order"] = {
            "id": "gid://shopify/Order/5678901234",
            "customer": {"id": "gid://shopify/Customer/7001", "isFirstOrder": True},
        }
    return checkout


def event(name: str, data: dict | None = None, *, href: str = LANDING, event_id: str | None = None) -> dict:
    return {
        "id": event_id or f"sh-{name}-88153c5a-8F2D-4CCA-3231-EF5C032A4C3B",
        "name": name,
        "type": "standard",
        "seq": 3,
        "clientId": CLIENT_ID,
        "timestamp": "2026-11-23T10:15:30.123Z",
        "context": _context(href),
        "data": data if data is not None else {},
    }


def page_viewed() -> dict:
    return event("page_viewed")


def product_viewed() -> dict:
    return event("product_viewed", {"productVariant": copy.deepcopy(VARIANT)})


def product_added_to_cart() -> dict:
    line = {
        "cost": {"totalAmount": {"amount": 118.0, "currencyCode": "USD"}},
        "merchandise": copy.deepcopy(VARIANT),
        "quantity": 2,
    }
    return event("product_added_to_cart", {"cartLine": line})


def checkout_started() -> dict:
    return event("checkout_started", {"checkout": _checkout()}, href=CHECKOUT_URL)


def checkout_contact_info_submitted() -> dict:
    return event("checkout_contact_info_submitted", {"checkout": _checkout()}, href=CHECKOUT_URL)


def checkout_completed() -> dict:
    href = "https://acme.com/checkouts/cn/Z2NwLXVzLWVhc3QxOjAxSjk3/thank-you"
    return event("checkout_completed", {"checkout": _checkout(with_order=True)}, href=href)


def custom_event() -> dict:
    payload = event("wishlist_added")
    payload["type"] = "custom"
    del payload["data"]
    payload["customData"] = {"ProductID": "8266836345064", "list": "favourites"}
    return payload


# --- The rest of the standard catalogue (shapes from shopify.dev/docs/api/web-pixels-api/standard-events)


def _tote() -> dict:
    return {
        "id": "gid://shopify/ProductVariant/555",
        "image": {"src": "https://cdn.shopify.com/tote.jpg"},
        "price": {"amount": 25.0, "currencyCode": "USD"},
        "product": {
            "id": "gid://shopify/Product/444",
            "title": "Canvas Tote",
            "url": "/products/tote",
            "vendor": "Acme",
        },
        "sku": "",
        "title": "Default Title",
    }


CART_ID = "gid://shopify/Cart/Z2NwLXVzLWVhc3QxOjAxSjk3Q0FSVA?key=4c1b3b0d2e"


def cart_viewed() -> dict:
    """data.cart: {id, cost.totalAmount, lines[{cost, merchandise, quantity}], totalQuantity, attributes}."""
    cart = {
        "id": CART_ID,
        "attributes": [],
        "cost": {"totalAmount": {"amount": 143.0, "currencyCode": "USD"}},
        "lines": [
            {
                "cost": {"totalAmount": {"amount": 118.0, "currencyCode": "USD"}},
                "merchandise": copy.deepcopy(VARIANT),
                "quantity": 2,
            },
            {"cost": {"totalAmount": {"amount": 25.0, "currencyCode": "USD"}}, "merchandise": _tote(), "quantity": 1},
        ],
        "totalQuantity": 3,
    }
    return event("cart_viewed", {"cart": cart}, href="https://acme.com/cart")


def collection_viewed() -> dict:
    """data.collection: {id, title, productVariants[]}."""
    collection = {
        "id": "gid://shopify/Collection/291112345",
        "title": "Summer Linen",
        "productVariants": [copy.deepcopy(VARIANT), _tote()],
    }
    return event("collection_viewed", {"collection": collection}, href="https://acme.com/collections/summer-linen")


def search_submitted() -> dict:
    """data.searchResult: {query, productVariants[]}."""
    result = {"query": "linen shirt", "productVariants": [copy.deepcopy(VARIANT)]}
    return event("search_submitted", {"searchResult": result}, href="https://acme.com/search?q=linen+shirt")


def product_removed_from_cart() -> dict:
    line = {
        "cost": {"totalAmount": {"amount": 25.0, "currencyCode": "USD"}},
        "merchandise": _tote(),
        "quantity": 1,
    }
    return event("product_removed_from_cart", {"cartLine": line}, href="https://acme.com/cart")


def checkout_address_info_submitted() -> dict:
    return event("checkout_address_info_submitted", {"checkout": _checkout()}, href=CHECKOUT_URL)


def checkout_shipping_info_submitted() -> dict:
    return event("checkout_shipping_info_submitted", {"checkout": _checkout()}, href=CHECKOUT_URL)


def payment_info_submitted() -> dict:
    return event("payment_info_submitted", {"checkout": _checkout()}, href=CHECKOUT_URL)


def alert_displayed() -> dict:
    """UI noise: Shopify publishes it when checkout shows an alert; never forwarded."""
    alert = {"target": "cart.lines[0].quantity", "type": "INPUT_REQUIRED", "value": "", "message": "Enter a quantity"}
    return event("alert_displayed", {"alert": alert}, href=CHECKOUT_URL)


def ui_extension_errored() -> dict:
    error = {"apiVersion": "2025-10", "appId": "1", "appName": "X", "extensionName": "y", "message": "boom"}
    return event("ui_extension_errored", {"error": error}, href=CHECKOUT_URL)


STANDARD_EVENTS = {
    "page_viewed": page_viewed,
    "product_viewed": product_viewed,
    "collection_viewed": collection_viewed,
    "search_submitted": search_submitted,
    "cart_viewed": cart_viewed,
    "product_added_to_cart": product_added_to_cart,
    "product_removed_from_cart": product_removed_from_cart,
    "checkout_started": checkout_started,
    "checkout_contact_info_submitted": checkout_contact_info_submitted,
    "checkout_address_info_submitted": checkout_address_info_submitted,
    "checkout_shipping_info_submitted": checkout_shipping_info_submitted,
    "payment_info_submitted": payment_info_submitted,
    "checkout_completed": checkout_completed,
}
