import json

import pytest
from django.core.management import CommandError, call_command

from events.models import Merchant


def _run(*args) -> dict:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.django_db
def test_create_merchant_prints_credentials_json():
    data = _run("create_merchant", "Acme", "--domain", "ACME.myshopify.com", "--origin", "https://acme.com")
    merchant = Merchant.objects.get(pk=data["id"])
    assert merchant.shop_domain == "acme.myshopify.com"
    assert merchant.allowed_origins == ["https://acme.com"]
    assert data["write_key"] == merchant.write_key and data["write_key"].startswith("wk_")
    assert data["returns_webhook_url"].endswith(f"/api/v1/returns/loop/{merchant.returns_webhook_token}")
    assert data["returns_webhook_secret"] == merchant.returns_webhook_secret


@pytest.mark.django_db
def test_create_merchant_duplicate_domain_is_a_clear_error():
    _run("create_merchant", "Acme", "--domain", "acme.myshopify.com")
    with pytest.raises(CommandError, match="already exists"):
        _run("create_merchant", "Acme 2", "--domain", "acme.myshopify.com")


@pytest.mark.django_db
def test_rotate_write_key_issues_a_new_key(merchant):
    old = merchant.write_key
    data = _run("rotate_write_key", str(merchant.pk))
    merchant.refresh_from_db()
    assert data["write_key"] == merchant.write_key != old
    assert merchant.write_key_rotated_at is not None


@pytest.mark.django_db
def test_rotate_write_key_unknown_merchant():
    with pytest.raises(CommandError, match="no merchant"):
        _run("rotate_write_key", "999999")


@pytest.mark.django_db
def test_webhook_secret_is_encrypted_at_rest(merchant):
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT returns_webhook_secret FROM events_merchant WHERE id = %s", [merchant.pk])
        raw = cur.fetchone()[0]
    assert raw.startswith("fernet:")
    assert merchant.returns_webhook_secret not in raw
