import json
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from events.models import Merchant

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()


def _raw_secret(merchant_id: int) -> str:
    with connection.cursor() as cur:
        cur.execute("SELECT returns_webhook_secret FROM events_merchant WHERE id = %s", [merchant_id])
        return cur.fetchone()[0]


@pytest.mark.django_db
def test_rotate_encryption_key_reencrypts_with_the_new_primary_key(settings):
    from tests.factories import MerchantFactory

    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    merchant = MerchantFactory()
    secret = merchant.returns_webhook_secret
    before = _raw_secret(merchant.pk)

    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    out = StringIO()
    call_command("rotate_encryption_key", stdout=out)
    assert json.loads(out.getvalue())["events.Merchant.returns_webhook_secret"] == 1
    assert _raw_secret(merchant.pk) != before

    settings.FIELD_ENCRYPTION_KEYS = [NEW]  # the old key is gone: still readable
    assert Merchant.objects.get(pk=merchant.pk).returns_webhook_secret == secret


@pytest.mark.django_db
def test_secret_is_unreadable_without_its_key(settings):
    from tests.factories import MerchantFactory

    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    merchant = MerchantFactory()
    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    with pytest.raises(ValueError, match="unknown encryption key"):
        Merchant.objects.get(pk=merchant.pk)
