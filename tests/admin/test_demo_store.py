"""The demo storefront and bootstrap_demo's dry-run destinations."""

from __future__ import annotations

import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from destinations.models import Destination
from events.demo import DEMO_DOMAIN
from tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


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


def test_bootstrap_demo_keeps_an_existing_admin_password():
    from django.contrib.auth import get_user_model

    call_command("bootstrap_demo", stdout=StringIO())
    admin = get_user_model().objects.get(username="admin")
    admin.set_password("my-own-password-42")
    admin.save()
    out = StringIO()
    call_command("bootstrap_demo", stdout=out)  # the second `make run`
    admin.refresh_from_db()
    assert admin.check_password("my-own-password-42")
    assert "password unchanged" in out.getvalue()


def test_bootstrap_demo_follows_run_addr(settings, client):
    from events.models import Merchant

    call_command("bootstrap_demo", stdout=StringIO())  # first run on the default port
    settings.RUN_ADDR = "127.0.0.1:9000"
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:9000"  # what the settings derive from RUN_ADDR
    settings.DEMO_STORE_ENABLED = True
    out = StringIO()
    call_command("bootstrap_demo", stdout=out)
    merchant = Merchant.objects.get(shop_domain=DEMO_DOMAIN)
    assert {"http://127.0.0.1:9000", "http://localhost:9000", "http://127.0.0.1:8000"} <= set(merchant.allowed_origins)
    assert "http://127.0.0.1:9000/admin/" in out.getvalue()
    assert "http://127.0.0.1:9000/demo/store/" in out.getvalue()
    assert 'src="http://127.0.0.1:9000/pixel.js?key=' in client.get("/demo/store/").content.decode()


def test_public_base_url_defaults_to_run_addr():
    code = "from django.conf import settings; print(settings.PUBLIC_BASE_URL)"
    env = {"RUN_ADDR": "127.0.0.1:9000", "DJANGO_SETTINGS_MODULE": "config.settings.base", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, cwd=str(ROOT)
    )
    assert result.stdout.strip() == "http://127.0.0.1:9000", result.stderr
