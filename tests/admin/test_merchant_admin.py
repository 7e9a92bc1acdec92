"""Merchant admin: onboarding, snippets, secrets shown once, rotation, Support limits."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.messages import get_messages
from django.urls import reverse

from events.models import Merchant
from tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:events_merchant_changelist")


def _inline_management(prefix: str = "destinations", total: int = 0, initial: int = 0) -> dict[str, str]:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def merchant_form(**overrides) -> dict[str, str]:
    data = {
        "name": "Acme",
        "shop_domain": "acme.myshopify.com",
        "allowed_origins": '["https://acme.com"]',
        "timezone": "UTC",
        "is_active": "on",
        "blocked_identifier_values": "[]",
        "reidentify_lookback_hours": "24",
        "consent_policy": "anonymise",
        "attribution_window_days": "5",
        **_inline_management(),
    }
    data.update(overrides)
    return data


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_merchant_changelist_is_bounded_in_queries(admin_client, django_assert_max_num_queries):
    MerchantFactory.create_batch(30)
    with django_assert_max_num_queries(8):
        response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    assert response.content.count(b'class="action-select"') == 30


def test_merchant_add_page_renders(admin_client):
    response = admin_client.get(reverse("admin:events_merchant_add"))
    assert response.status_code == 200


def test_merchant_create_shows_the_webhook_secret_once(admin_client):
    response = admin_client.post(reverse("admin:events_merchant_add"), merchant_form())
    assert response.status_code == 302
    merchant = Merchant.objects.get(shop_domain="acme.myshopify.com")
    shown = _messages(response)
    assert any(merchant.returns_webhook_secret in m for m in shown)
    url = reverse("admin:events_merchant_change", args=[merchant.pk])
    first = admin_client.get(url)  # the redirect target displays the message once...
    assert merchant.returns_webhook_secret.encode() in first.content
    again = admin_client.get(url)  # ...and never again
    assert merchant.returns_webhook_secret.encode() not in again.content


def test_merchant_change_page_shows_write_key_snippets_and_webhook_url(admin_client, merchant):
    from events import selectors

    response = admin_client.get(reverse("admin:events_merchant_change", args=[merchant.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert merchant.write_key in html
    assert selectors.get_returns_webhook_url(merchant) in html
    assert "analytics.subscribe" in html  # the Shopify Custom Pixel code
    assert "pixel.js?key=" in html  # the <script> snippet (escaped inside <pre>)
    assert merchant.returns_webhook_secret not in html


def test_merchant_change_page_with_dashboard_is_bounded_in_queries(admin_client, django_assert_max_num_queries):
    from tests.admin.conftest import DeliveryFactory

    merchant = MerchantFactory()
    for _ in range(20):
        DeliveryFactory(destination__merchant=merchant, status="succeeded")
    with django_assert_max_num_queries(15):
        response = admin_client.get(reverse("admin:events_merchant_change", args=[merchant.pk]))
    assert response.status_code == 200
    assert b'id="rc-dashboard"' in response.content


def test_rotate_write_key_action_changes_the_key_and_logs(admin_client, merchant, admin_user):
    old = merchant.write_key
    response = admin_client.post(
        CHANGELIST, {"action": "rotate_write_key", "_selected_action": [merchant.pk], "confirmed": "yes"}, follow=False
    )
    assert response.status_code == 302
    merchant.refresh_from_db()
    assert merchant.write_key != old
    assert merchant.write_key_rotated_at is not None
    entry = LogEntry.objects.get(object_id=str(merchant.pk), user=admin_user)
    assert entry.action_flag == CHANGE and entry.change_message == "Rotated the write key."
    assert any(merchant.write_key in m for m in _messages(response))


@pytest.mark.parametrize("action", ["rotate_write_key", "rotate_returns_webhook_secret"])
def test_rotate_actions_ask_for_confirmation_first(admin_client, merchant, action):
    old = (merchant.write_key, merchant.returns_webhook_secret)
    page = admin_client.post(CHANGELIST, {"action": action, "_selected_action": [merchant.pk]})
    assert page.status_code == 200  # a confirmation page, nothing rotated yet
    html = page.content.decode()
    assert 'name="confirmed" value="yes"' in html and str(merchant) in html
    merchant.refresh_from_db()
    assert (merchant.write_key, merchant.returns_webhook_secret) == old
    if action == "rotate_write_key":
        assert "Re-install the pixel &lt;script&gt; snippet" in html


def test_rotate_write_key_reminds_to_reinstall_the_snippet(admin_client, merchant):
    response = admin_client.post(
        CHANGELIST, {"action": "rotate_write_key", "_selected_action": [merchant.pk], "confirmed": "yes"}
    )
    (message,) = _messages(response)
    assert "re-install the pixel snippet and the Shopify Custom Pixel code" in message


def test_rotate_secret_action_shows_the_new_secret_once_and_logs(admin_client, merchant):
    old = merchant.returns_webhook_secret
    response = admin_client.post(
        CHANGELIST, {"action": "rotate_returns_webhook_secret", "_selected_action": [merchant.pk], "confirmed": "yes"}
    )
    assert response.status_code == 302
    merchant.refresh_from_db()
    assert merchant.returns_webhook_secret != old
    assert any(merchant.returns_webhook_secret in m for m in _messages(response))
    assert LogEntry.objects.filter(change_message="Rotated the returns webhook secret.").count() == 1


def test_support_cannot_rotate_the_secret_nor_delete_merchants(support_client, merchant):
    page = support_client.get(CHANGELIST)
    assert page.status_code == 200
    actions = dict(page.context["action_form"].fields["action"].choices)
    assert "rotate_write_key" in actions
    assert "rotate_returns_webhook_secret" not in actions
    assert "delete_selected" not in actions
    old = merchant.returns_webhook_secret
    support_client.post(
        CHANGELIST, {"action": "rotate_returns_webhook_secret", "_selected_action": [merchant.pk], "confirmed": "yes"}
    )
    merchant.refresh_from_db()
    assert merchant.returns_webhook_secret == old
    delete = support_client.get(reverse("admin:events_merchant_delete", args=[merchant.pk]))
    assert delete.status_code == 403


def test_support_can_open_and_create_merchants(support_client):
    response = support_client.post(reverse("admin:events_merchant_add"), merchant_form(shop_domain="b.myshopify.com"))
    assert response.status_code == 302
    assert Merchant.objects.filter(shop_domain="b.myshopify.com").exists()


def test_loop_webhook_secret_is_write_only_and_not_logged(admin_client, merchant):
    url = reverse("admin:events_merchant_change", args=[merchant.pk])
    data = merchant_form(name=merchant.name, shop_domain=merchant.shop_domain, loop_webhook_secret="loop-secret-xyz")
    response = admin_client.post(url, data)
    assert response.status_code == 302
    merchant.refresh_from_db()
    assert merchant.returns_webhook_secret == "loop-secret-xyz"
    entry = LogEntry.objects.get(object_id=str(merchant.pk))
    assert "Loop webhook secret" in entry.get_change_message()
    assert "loop-secret-xyz" not in entry.change_message
    assert b"loop-secret-xyz" not in admin_client.get(url).content


def test_blank_loop_webhook_secret_keeps_the_current_one(admin_client, merchant):
    old = merchant.returns_webhook_secret
    url = reverse("admin:events_merchant_change", args=[merchant.pk])
    admin_client.post(url, merchant_form(name="Renamed", shop_domain=merchant.shop_domain))
    merchant.refresh_from_db()
    assert (merchant.name, merchant.returns_webhook_secret) == ("Renamed", old)


def test_create_with_the_loop_secret_does_not_echo_it(admin_client):
    response = admin_client.post(reverse("admin:events_merchant_add"), merchant_form(loop_webhook_secret="from-loop-1"))
    assert response.status_code == 302
    assert Merchant.objects.get().returns_webhook_secret == "from-loop-1"
    assert not any("from-loop-1" in m for m in _messages(response))
