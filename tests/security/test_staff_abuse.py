"""Findings 5, 7 and 10: what a Support login can do with the Loop secret, login guessing, secrets in cookies."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages.storage.cookie import CookieStorage
from django.test import Client, RequestFactory
from django.urls import reverse

from config import request_limits
from events.models import Merchant
from tests.admin.test_merchant_admin import merchant_form

pytestmark = pytest.mark.django_db
ATTACK = pytest.mark.xfail(strict=True, reason="issue 14: the attack still works before its fix")

FORGED = "whsec_forged_by_support"


@pytest.fixture
def support_client(client, django_user_model):
    user = django_user_model.objects.create_user("support", "s@example.com", "pw-support-1", is_staff=True)
    user.groups.add(Group.objects.get(name="Support"))
    client.force_login(user)
    return client


# --- 5. the Loop webhook secret is for superusers only -------------------------------------------


def test_staff_support_cannot_set_the_loop_webhook_secret(support_client, merchant):
    url = reverse("admin:events_merchant_change", args=[merchant.pk])
    old = merchant.returns_webhook_secret
    page = support_client.get(url)
    assert page.status_code == 200 and b'name="loop_webhook_secret"' not in page.content
    data = merchant_form(name=merchant.name, shop_domain=merchant.shop_domain, loop_webhook_secret=FORGED)
    assert support_client.post(url, data).status_code == 302  # the rest of the form still saves
    merchant.refresh_from_db()
    assert merchant.returns_webhook_secret == old


def test_staff_support_creating_a_merchant_is_not_shown_its_secret(support_client):
    response = support_client.post(reverse("admin:events_merchant_add"), merchant_form(loop_webhook_secret=FORGED))
    assert response.status_code == 302
    merchant = Merchant.objects.get()
    assert merchant.returns_webhook_secret != FORGED
    page = support_client.get(response["Location"])
    assert merchant.returns_webhook_secret.encode() not in page.content


def test_staff_superuser_still_sets_the_loop_webhook_secret(admin_client, merchant):
    url = reverse("admin:events_merchant_change", args=[merchant.pk])
    assert b'name="loop_webhook_secret"' in admin_client.get(url).content
    data = merchant_form(name=merchant.name, shop_domain=merchant.shop_domain, loop_webhook_secret="whsec_from_loop")
    admin_client.post(url, data)
    merchant.refresh_from_db()
    assert merchant.returns_webhook_secret == "whsec_from_loop"


# --- 10. a secret shown once never travels in a cookie ----------------------------------------------


def _cookie_messages(response) -> list[str]:
    cookie = response.cookies.get("messages")
    if cookie is None or not cookie.value:
        return []
    storage = CookieStorage(RequestFactory().get("/"))
    return [str(m) for m in storage._decode(cookie.value) or []]


def test_staff_the_shown_once_secret_is_not_in_the_messages_cookie(admin_client, merchant):
    changelist = reverse("admin:events_merchant_changelist")
    response = admin_client.post(
        changelist, {"action": "rotate_returns_webhook_secret", "_selected_action": [merchant.pk], "confirmed": "yes"}
    )
    merchant.refresh_from_db()
    assert not any(merchant.returns_webhook_secret in m for m in _cookie_messages(response))
    assert merchant.returns_webhook_secret not in str(response.cookies)
    shown = admin_client.get(response["Location"])  # it is still shown once, from the server-side session
    assert merchant.returns_webhook_secret.encode() in shown.content


# --- 7. the admin login lockout under a parallel burst ----------------------------------------------


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("ops", "ops@example.com", "right-horse-battery", is_staff=True)


def _request(ip: str = "192.0.2.10"):
    return RequestFactory().post("/admin/login/", REMOTE_ADDR=ip)


def test_staff_a_parallel_burst_of_guesses_cannot_outrun_the_lockout(staff, settings, monkeypatch):
    """24 guesses all in flight at once: each one's slow hash starts before any failure is counted."""
    settings.LOGIN_FAILURE_LIMIT = 5
    guesses = [f"wrong-{i}" for i in range(23)] + ["right-horse-battery"]
    pending = list(guesses)
    backend = request_limits.LoginThrottleBackend()
    hashed: list[str] = []
    results: dict[str, object] = {}
    real = request_limits.ModelBackend.authenticate

    def interleaved(self, request, username=None, password=None, **kwargs):
        hashed.append(password)
        while pending:  # every other guess arrives while this one is hashing
            attempt(pending.pop(0))
        return real(self, request, username=username, password=password, **kwargs)

    def attempt(password: str) -> None:
        try:
            results[password] = backend.authenticate(_request(), username="ops", password=password)
        except request_limits.PermissionDenied:
            results[password] = "locked"

    monkeypatch.setattr(request_limits.ModelBackend, "authenticate", interleaved)
    attempt(pending.pop(0))
    assert len(results) == len(guesses)
    assert len(hashed) <= settings.LOGIN_FAILURE_LIMIT
    assert results["right-horse-battery"] in ("locked", None)


def test_staff_guesses_spread_over_many_addresses_hit_a_per_username_ceiling(staff, settings):
    settings.LOGIN_FAILURE_LIMIT, settings.LOGIN_USERNAME_FAILURE_LIMIT = 5, 10
    for i in range(10):
        Client().post(reverse("admin:login"), {"username": "ops", "password": "wrong"}, REMOTE_ADDR=f"192.0.2.{i}")
    response = Client().post(
        reverse("admin:login"), {"username": "ops", "password": "right-horse-battery"}, REMOTE_ADDR="198.51.100.7"
    )
    assert response.status_code == 200  # the form again: locked for every address
