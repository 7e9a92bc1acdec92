"""Lists and mappings in the console are edited one per line, not as raw JSON text."""

from __future__ import annotations

import pytest
from django import forms
from django.urls import reverse

from config.forms import LinesField, MappingField
from events.models import Merchant
from tests.admin.conftest import DestinationFactory
from tests.admin.test_destination_admin import destination_form
from tests.admin.test_merchant_admin import merchant_form

pytestmark = pytest.mark.django_db


def test_lines_field_reads_lines_commas_and_json():
    field = LinesField(required=False)
    assert field.clean("https://acme.com\nhttps://www.acme.com, null\n\n") == [
        "https://acme.com",
        "https://www.acme.com",
        "null",
    ]
    assert field.clean('["https://acme.com"]') == ["https://acme.com"]
    assert field.clean("") == []
    assert field.prepare_value(["a", "b"]) == "a\nb"
    with pytest.raises(forms.ValidationError):
        field.clean("[not json")


def test_mapping_field_reads_name_equals_value_lines():
    field = MappingField(required=False)
    assert field.clean("Purchase = Order Placed\nAddToCart=Added to Bag") == {
        "Purchase": "Order Placed",
        "AddToCart": "Added to Bag",
    }
    assert field.clean('{"Purchase": "Order Placed"}') == {"Purchase": "Order Placed"}
    assert field.prepare_value({"Purchase": "Order Placed"}) == "Purchase = Order Placed"
    with pytest.raises(forms.ValidationError, match="Line 2 is not `name = value`"):
        field.clean("Purchase = Order Placed\nAddToCart")


def test_merchant_page_shows_origins_one_per_line_and_saves_them(admin_client):
    response = admin_client.post(
        reverse("admin:events_merchant_add"),
        merchant_form(allowed_origins="https://acme.com\nhttps://www.acme.com/", blocked_identifier_values="test@x.io"),
    )
    assert response.status_code == 302, response.content
    merchant = Merchant.objects.get(shop_domain="acme.myshopify.com")
    assert merchant.allowed_origins == ["https://acme.com", "https://www.acme.com"]
    assert merchant.blocked_identifier_values == ["test@x.io"]
    page = admin_client.get(reverse("admin:events_merchant_change", args=[merchant.pk])).content.decode()
    assert "\nhttps://acme.com\nhttps://www.acme.com</textarea>" in page
    assert '["https://acme.com"' not in page


def test_merchant_origin_with_a_path_is_a_clear_error(admin_client):
    response = admin_client.post(reverse("admin:events_merchant_add"), merchant_form(allowed_origins="acme.com/shop"))
    assert response.status_code == 200
    assert "Not an origin (scheme://host[:port], no path): acme.com/shop" in response.content.decode()
    assert not Merchant.objects.exists()


def test_destination_name_overrides_one_per_line(admin_client):
    destination = DestinationFactory()
    url = reverse("admin:destinations_destination_change", args=[destination.pk])
    response = admin_client.post(url, destination_form(destination, name_overrides="Purchase = Order Placed"))
    assert response.status_code == 302, response.content
    destination.refresh_from_db()
    assert destination.name_overrides == {"Purchase": "Order Placed"}
    assert "\nPurchase = Order Placed</textarea>" in admin_client.get(url).content.decode()
