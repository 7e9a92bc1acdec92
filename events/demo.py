"""The demo storefront (/demo/store/): a page with the demo merchant's pixel installed."""

from __future__ import annotations

import json

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from events import selectors
from events.models import Merchant

DEMO_DOMAIN = "demo-store.myshopify.com"
DEMO_PRODUCT = {
    "ProductName": "Recapture Hoodie",
    "ProductID": "8123456789",
    "VariantID": "44123456789",
    "SKU": "RC-HOODIE-M",
    "Price": 59.0,
    "Currency": "USD",
    "ImageURL": "https://cdn.shopify.com/s/files/demo/hoodie.png",
}


def demo_store(request: HttpRequest) -> HttpResponse:
    """Serve the storefront when the demo is enabled (development by default)."""
    if not getattr(settings, "DEMO_STORE_ENABLED", settings.DEBUG):
        raise Http404("The demo store is disabled.")
    merchant = Merchant.objects.filter(shop_domain=DEMO_DOMAIN, is_active=True).first()
    if merchant is None:
        raise Http404("No demo merchant: run `python manage.py bootstrap_demo`.")
    context = {
        "merchant": merchant,
        "pixel_snippet": selectors.get_pixel_snippet(merchant),
        "product": DEMO_PRODUCT,
        "product_json": json.dumps(DEMO_PRODUCT).replace("<", "\\u003c"),
    }
    return render(request, "demo/store.html", context)
