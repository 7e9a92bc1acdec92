"""Pure normalisation of Shopify Customer Events (Web Pixels API) into the internal event.

The custom pixel forwards the event object as-is: ``{id, name, clientId, timestamp,
context, data}`` (``customData`` for custom events). Ids like ``gid://shopify/X/N``
become ``N``; money ``{amount, currencyCode}`` becomes a number.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

from events.models import EventType

EVENT_TYPES: dict[str, str] = {
    "page_viewed": EventType.PAGE_VIEW,
    "product_viewed": EventType.VIEW_CONTENT,
    "product_added_to_cart": EventType.ADD_TO_CART,
    "checkout_started": EventType.INITIATE_CHECKOUT,
    "checkout_contact_info_submitted": EventType.IDENTIFY,
    "checkout_completed": EventType.PURCHASE,
    "cart_viewed": EventType.VIEW_CART,
    "collection_viewed": EventType.VIEW_COLLECTION,
    "search_submitted": EventType.SEARCH,
    "product_removed_from_cart": EventType.REMOVE_FROM_CART,
    "checkout_address_info_submitted": EventType.ADD_SHIPPING_ADDRESS,
    "checkout_shipping_info_submitted": EventType.ADD_SHIPPING_METHOD,
    "payment_info_submitted": EventType.ADD_PAYMENT_INFO,
}
# Event ids Recapture makes itself for Shopify's server-side data: a client may never send one.
SERVER_EVENT_ID_PREFIX = "shopify:"
CLICK_ID_PARAMS = ("fbclid", "gclid", "gbraid", "wbraid", "ttclid", "msclkid")
UTM_PARAMS = ("source", "medium", "campaign", "term", "content")
ADDRESS_TRAITS = {
    "firstName": "first_name",
    "lastName": "last_name",
    "city": "city",
    "province": "region",
    "zip": "zip",
}


def placed_order_event_id(order_id: str, checkout_token: str | None) -> str:
    """The one event id of an order's Placed Order, whoever reports it (pixel or orders webhook).

    Both reports of one order get this id, so the (merchant, event_id) unique constraint keeps
    one Purchase event per order, race-free, whichever arrives first. The checkout token is part
    of it: Shopify documents the checkout token as "A stable ID that represents the current
    checkout. Matches the `token` field in the WebPixel checkout payload and the `checkout_token`
    field in the REST Admin API `Order` resource" (Checkout Token API). Only the browser that
    went through that checkout knows it, so a forged pixel event naming someone else's order id
    cannot take the order's id and shadow the real Placed Order.
    """
    return f"{SERVER_EVENT_ID_PREFIX}order:{order_id}:{checkout_token or ''}"


# Shopify publishes these too (errors, checkout alerts, DOM interactions): noise, never stored.
NOISE_EVENTS = frozenset(
    {
        "alert_displayed",
        "ui_extension_errored",
        "clicked",
        "form_submitted",
        "input_blurred",
        "input_changed",
        "input_focused",
    }
)


def is_noise(raw: dict[str, Any]) -> bool:
    return is_shopify_event(raw) and raw.get("name") in NOISE_EVENTS


def is_shopify_event(raw: dict[str, Any]) -> bool:
    return "clientId" in raw and "name" in raw and "anonymous_id" not in raw


def normalise_event(raw: dict[str, Any]) -> dict[str, Any]:
    """The NewEvent fields (timestamp still a string) of one Web Pixels event."""
    name = raw.get("name")
    context = _dict(raw.get("context"))
    href = _str(_get(context, "document", "location", "href"))
    data = _dict(raw.get("data"))
    fields: dict[str, Any] = {
        "event_id": raw.get("id"),
        "type": EVENT_TYPES.get(name, name) if isinstance(name, str) else None,
        "anonymous_id": raw.get("clientId"),
        "timestamp": raw.get("timestamp"),
        "context": _context(context, href),
        "identifiers": _url_identifiers(href),
        "traits": {},
        "properties": _dict(raw.get("customData")) if raw.get("type") == "custom" else {},
    }
    if isinstance(raw.get("clientId"), str):
        fields["identifiers"]["client_id"] = raw["clientId"]
    if "productVariant" in data:
        fields["properties"].update(variant_properties(_dict(data["productVariant"]), href))
    if "cartLine" in data:
        fields["properties"].update(cart_line_properties(_dict(data["cartLine"]), href))
        if name == "product_added_to_cart":
            _set(fields["properties"], "CartURL", cart_permalink([fields["properties"]], href))
    if "collection" in data:
        fields["properties"].update(collection_properties(_dict(data["collection"]), href))
    if "searchResult" in data:
        fields["properties"].update(search_properties(_dict(data["searchResult"]), href))
    if "cart" in data:
        fields["properties"].update(cart_properties(_dict(data["cart"]), href))
        _set(fields["properties"], "CartURL", cart_permalink(fields["properties"].get("Items") or [], href))
    if "checkout" in data:
        _apply_checkout(fields, _dict(data["checkout"]), name, href)
    return fields


def cart_permalink(items: list[dict[str, Any]], href: str) -> str | None:
    """``https://shop/cart/VARIANT:QTY,VARIANT:QTY``: Shopify's cart permalink, which fills a new
    cart with those variants on whatever device opens it; None without variants or a shop URL."""
    parts = []
    for item in items:
        quantity = item.get("Quantity", 1)
        if (
            item.get("VariantID")
            and isinstance(quantity, int | float)
            and not isinstance(quantity, bool)
            and quantity > 0
        ):
            parts.append(f"{item['VariantID']}:{int(quantity)}")
    try:
        origin = urlsplit(href)
    except ValueError:
        return None
    if not parts or origin.scheme not in ("http", "https") or not origin.netloc:
        return None
    return f"{origin.scheme}://{origin.netloc}/cart/{','.join(parts)}"


def _set(props: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        props[key] = value


def reduce_gid(value: Any) -> str | None:
    """``gid://shopify/ProductVariant/123`` -> ``123``; plain ids are returned as strings."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    if text.startswith("gid://"):
        text = text.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return text or None


def money(value: Any) -> float | None:
    """``{amount, currencyCode}`` (or a bare number/string) -> float."""
    amount = value.get("amount") if isinstance(value, dict) else value
    if isinstance(amount, bool) or amount is None:
        return None
    try:
        number = float(amount)
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None


def variant_properties(variant: dict[str, Any], href: str) -> dict[str, Any]:
    product = _dict(variant.get("product"))
    price = variant.get("price")
    props = {
        "ProductName": product.get("title") or variant.get("title"),
        "ProductID": reduce_gid(product.get("id")),
        "VariantID": reduce_gid(variant.get("id")),
        "SKU": variant.get("sku") or None,
        "Price": money(price),
        "Currency": _get(price, "currencyCode"),
        "ImageURL": _absolute(_get(variant, "image", "src"), href),
        "URL": _absolute(product.get("url"), href),
        "Brand": product.get("vendor") or None,
        "VariantName": variant.get("title") or None,
    }
    return _compact(props)


def cart_line_properties(line: dict[str, Any], href: str) -> dict[str, Any]:
    props = variant_properties(_dict(line.get("merchandise")), href)
    quantity = line.get("quantity")
    if isinstance(quantity, int | float) and not isinstance(quantity, bool):
        props["Quantity"] = quantity
    total = _get(line, "cost", "totalAmount")
    if money(total) is not None:
        props["LineTotal"] = money(total)
        props.setdefault("Currency", _get(total, "currencyCode"))
    return _compact(props)


def collection_properties(collection: dict[str, Any], href: str) -> dict[str, Any]:
    variants = [variant_properties(_dict(v), href) for v in _list(collection.get("productVariants"))]
    return _compact(
        {
            "CollectionID": reduce_gid(collection.get("id")),
            "CollectionName": _str(collection.get("title")) or None,
            "Items": variants[:20],
        }
    )


def search_properties(result: dict[str, Any], href: str) -> dict[str, Any]:
    variants = [variant_properties(_dict(v), href) for v in _list(result.get("productVariants"))]
    return _compact({"SearchQuery": _str(result.get("query")) or None, "Items": variants[:20]})


def cart_properties(cart: dict[str, Any], href: str) -> dict[str, Any]:
    """A Cart (cart_viewed, and the cart of product_added_to_cart): its token, lines and value.

    ``cart.id`` is ``gid://shopify/Cart/<token>?key=...``; the token is the order's ``cart_token``.
    """
    lines = [cart_line_properties(_dict(line), href) for line in _list(cart.get("lines"))]
    total = _get(cart, "cost", "totalAmount")
    return _compact(
        {
            "CartToken": reduce_gid(cart.get("id")),
            "Items": lines,
            "ItemCount": cart.get("totalQuantity") if isinstance(cart.get("totalQuantity"), int) else None,
            "CartValue": money(total),
            "Currency": _get(total, "currencyCode") or None,
        }
    )


def line_item(item: dict[str, Any], href: str) -> dict[str, Any]:
    variant = _dict(item.get("variant"))
    base = variant_properties(variant, href)
    return _compact(
        {
            "ProductName": item.get("title") or base.get("ProductName"),
            "ProductID": base.get("ProductID"),
            "VariantID": base.get("VariantID"),
            "SKU": base.get("SKU"),
            "Price": base.get("Price"),
            "Quantity": item.get("quantity"),
            "ImageURL": base.get("ImageURL"),
            "URL": base.get("URL"),
            # what returns take the variant title from; "Default Title" is Shopify's "no variants"
            "VariantName": None if base.get("VariantName") == "Default Title" else base.get("VariantName"),
            "LineItemID": reduce_gid(item.get("id")),
            # what the line cost after line-level discounts (Web Pixels CheckoutLineItem.finalLinePrice)
            "FinalLinePrice": money(item.get("finalLinePrice")),
        }
    )


def _apply_checkout(fields: dict[str, Any], checkout: dict[str, Any], name: Any, href: str) -> None:
    identifiers, traits, props = fields["identifiers"], fields["traits"], fields["properties"]
    for key in ("email", "phone"):
        if _str(checkout.get(key)):
            identifiers[key] = checkout[key].strip()
    customer_id = reduce_gid(_get(checkout, "order", "customer", "id"))
    if customer_id:
        identifiers["shopify_customer_id"] = customer_id
    traits.update(address_traits(checkout))
    if "phone" not in identifiers and traits.get("phone"):
        identifiers["phone"] = traits["phone"]
    props.update(checkout_properties(checkout, href))
    total = money(checkout.get("totalPrice"))
    if name == "checkout_completed":
        order_id = reduce_gid(_get(checkout, "order", "id"))
        props.update(_compact({"OrderID": order_id, "Revenue": total}))
        if order_id:
            fields["event_id"] = placed_order_event_id(order_id, _str(checkout.get("token")) or None)
    elif total is not None:
        props["CartValue"] = total
    if name == "checkout_started" and href:
        # The checkout page's own URL is tied to the shopper's browser session; a cart permalink
        # rebuilds the same cart (then checkout) on any device, e.g. from the reminder email.
        props["CheckoutURL"] = cart_permalink(props.get("Items") or [], href) or href
        props["CheckoutPageURL"] = href


def checkout_properties(checkout: dict[str, Any], href: str) -> dict[str, Any]:
    items = [line_item(_dict(li), href) for li in _list(checkout.get("lineItems"))]
    codes = [
        d.get("title")
        for d in map(_dict, _list(checkout.get("discountApplications")))
        if d.get("type") == "DISCOUNT_CODE" and d.get("title")
    ]
    currency = checkout.get("currencyCode") or _get(checkout.get("totalPrice"), "currencyCode")
    return _compact(
        {
            "Items": items,
            "ItemCount": _item_count(items) if items else None,
            "Currency": currency,
            "DiscountCodes": codes or None,
            "CheckoutToken": checkout.get("token") or None,
            "Subtotal": money(checkout.get("subtotalPrice")),
            "Tax": money(checkout.get("totalTax")),
        }
    )


def _item_count(items: list[dict[str, Any]]) -> int | float:
    return sum(i["Quantity"] for i in items if isinstance(i.get("Quantity"), int | float))


def address_traits(checkout: dict[str, Any]) -> dict[str, Any]:
    """Names and place from the billing address, falling back to the shipping address."""
    traits: dict[str, Any] = {}
    for address in (_dict(checkout.get("billingAddress")), _dict(checkout.get("shippingAddress"))):
        for source, target in ADDRESS_TRAITS.items():
            if _str(address.get(source)) and target not in traits:
                traits[target] = address[source].strip()
        country = _str(address.get("countryCode")) or _str(address.get("country"))
        if country and "country" not in traits:
            traits["country"] = country
        if _str(address.get("phone")) and "phone" not in traits:
            traits["phone"] = address["phone"].strip()
    return traits


def _context(context: dict[str, Any], href: str) -> dict[str, Any]:
    out = {
        "url": href or None,
        "referrer": _str(_get(context, "document", "referrer")) or None,
        "user_agent": _str(_get(context, "navigator", "userAgent")) or None,
    }
    utm = {key: value for key in UTM_PARAMS if (value := _query(href).get(f"utm_{key}"))}
    if utm:
        out["utm"] = utm
    return _compact(out)


def _url_identifiers(href: str) -> dict[str, Any]:
    query = _query(href)
    identifiers = {key: query[key] for key in CLICK_ID_PARAMS if query.get(key)}
    if query.get("_kx"):
        identifiers["kx"] = query["_kx"]
    return identifiers


def _query(href: str) -> dict[str, str]:
    if not href:
        return {}
    try:
        pairs = parse_qs(urlsplit(href).query, keep_blank_values=False)
    except ValueError:
        return {}
    return {key: values[0] for key, values in pairs.items() if values}


def _absolute(url: Any, href: str) -> str | None:
    if not _str(url):
        return None
    if url.startswith("//"):
        return "https:" + url
    if url.startswith("/") and href:
        try:
            return urljoin(href, url)
        except ValueError:
            return url
    return url


def _get(value: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _compact(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None and value != []}
