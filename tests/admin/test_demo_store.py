"""The demo storefront and bootstrap_demo's dry-run destinations."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from destinations.models import Destination
from events.demo import DEMO_DOMAIN
from tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db


def test_demo_store_serves_the_pixel_and_buttons(client, settings):
    settings.DEMO_STORE_ENABLED = True
    merchant = MerchantFactory(shop_domain=DEMO_DOMAIN)
    response = client.get("/demo/store/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f"pixel.js?key={merchant.write_key}" in html
    for button in ("view-product", "add-to-cart", "start-checkout", "buy"):
        assert f'id="{button}"' in html


def test_demo_store_is_off_unless_enabled(client, settings):
    settings.DEMO_STORE_ENABLED = False
    MerchantFactory(shop_domain=DEMO_DOMAIN)
    assert client.get("/demo/store/").status_code == 404


def test_demo_store_without_demo_merchant_is_404(client, settings):
    settings.DEMO_STORE_ENABLED = True
    assert client.get("/demo/store/").status_code == 404


def test_bootstrap_demo_creates_dry_run_destinations_once():
    out = StringIO()
    call_command("bootstrap_demo", stdout=out)
    call_command("bootstrap_demo", stdout=StringIO())
    destinations = Destination.objects.filter(merchant__shop_domain=DEMO_DOMAIN).order_by("kind")
    assert [(d.kind, d.dry_run) for d in destinations] == [("klaviyo", True), ("loops", True)]
    assert f'"shop_domain": "{DEMO_DOMAIN}"' in out.getvalue()
    assert "dry-run-key" not in out.getvalue()
