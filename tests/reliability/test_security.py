"""Security: write keys only ingest, secrets encrypted at rest and never shown or logged,
admin login throttled, the Support role's limits, CSRF and security headers."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import timedelta
from importlib.metadata import version

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.urls import reverse

from destinations.models import Delivery, DeliveryAttempt, Destination
from destinations.services import create_destination
from events.models import Event
from returns.parsing import sign_body
from tests.factories import MerchantFactory
from tests.fakes.platforms import FakePlatforms
from tests.reliability.conftest import INGEST, assert_envelope

pytestmark = pytest.mark.django_db

KLAVIYO_KEY = "pk_live_TOPSECRET_" + "k1a2v3i4y5o6"
LOOPS_KEY = "loops_TOPSECRET_" + "l7o8o9p0s1"


def test_django_rest_framework_is_at_least_3_17_2():
    installed = tuple(int(p) for p in version("djangorestframework").split(".")[:3])
    assert installed >= (3, 17, 2)


# --- write keys grant ingest only -------------------------------------------------------------


def test_write_key_opens_nothing_but_ingest(client, merchant):
    key = merchant.write_key
    for url in ["/admin/", reverse("admin:events_event_changelist"), reverse("admin:events_merchant_changelist")]:
        for headers in ({"HTTP_X_WRITE_KEY": key}, {"HTTP_AUTHORIZATION": f"Bearer {key}"}):
            response = client.get(url, **headers)
            assert response.status_code == 302 and "/admin/login/" in response["Location"], url
    body = b'{"topic": "return"}'
    webhook = f"/api/v1/returns/loop/{merchant.returns_webhook_token}"
    assert_envelope(client.post(webhook, data=body, content_type="application/json", HTTP_X_WRITE_KEY=key), 401)
    signed_with_key = sign_body(key, body)
    response = client.post(webhook, data=body, content_type="application/json", HTTP_X_LOOP_SIGNATURE=signed_with_key)
    assert_envelope(response, 401, "invalid_signature")
    assert_envelope(client.post(f"/api/v1/returns/loop/{key}", data=body, content_type="application/json"), 404)
    assert client.get(INGEST, HTTP_X_WRITE_KEY=key).status_code == 405  # ingest is POST only
    assert client.get("/api/schema/", HTTP_X_WRITE_KEY=key).status_code == 200  # public document, no data
    assert key not in client.get("/api/schema/").content.decode()


# --- secrets at rest ----------------------------------------------------------------------------


def _dump_database() -> str:
    """Every row of every table as text: what a database dump would reveal."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            chunks.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(chunks)


def test_database_dump_reveals_no_destination_key_or_webhook_secret(merchant):
    create_destination(merchant, kind="klaviyo", api_key=KLAVIYO_KEY)
    create_destination(merchant, kind="loops", api_key=LOOPS_KEY)
    secret = merchant.returns_webhook_secret
    dump = _dump_database()
    for plaintext in (KLAVIYO_KEY, LOOPS_KEY, secret):
        assert plaintext not in dump
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM destinations_destination")
        stored = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT returns_webhook_secret FROM events_merchant")
        stored += [row[0] for row in cursor.fetchall()]
    assert stored and all(value.startswith("fernet:") for value in stored)
    assert Destination.objects.get(kind="klaviyo").api_key == KLAVIYO_KEY  # the app still reads them


# --- secrets never in logs, attempts or admin pages ---------------------------------------------


@pytest.fixture
def fake(settings):
    with FakePlatforms() as fake:
        settings.KLAVIYO_API_URL = fake.url
        settings.LOOPS_API_URL = fake.url
        yield fake


def _ingest(client, merchant, **fields):
    event = {
        "event_id": uuid.uuid4().hex,
        "type": "AddToCart",
        "anonymous_id": "anon-sec",
        "identifiers": {"email": "sec@shopper.io"},
        "properties": {"ProductName": "Mug", "Price": 10, "Quantity": 1},
        **fields,
    }
    return client.post(
        INGEST, data=json.dumps(event), content_type="application/json", HTTP_X_WRITE_KEY=merchant.write_key
    )


def test_secrets_absent_from_logs_attempts_and_admin_during_full_delivery(
    client, admin_client, merchant, fake, caplog, django_capture_on_commit_callbacks
):
    create_destination(merchant, kind="klaviyo", api_key=KLAVIYO_KEY)
    create_destination(merchant, kind="loops", api_key=LOOPS_KEY)
    caplog.set_level(logging.DEBUG)
    with django_capture_on_commit_callbacks(execute=True):
        assert _ingest(client, merchant).status_code == 202
    fake.configure(fail_every=1)  # an error path too: errors are recorded and logged
    with django_capture_on_commit_callbacks(execute=True):
        assert _ingest(client, merchant).status_code == 202
    fake.configure(fail_every=0, unauthorized=True)  # and a refused key
    with django_capture_on_commit_callbacks(execute=True):
        assert _ingest(client, merchant).status_code == 202

    sent = [r for r in fake.state.requests if r.path in ("/api/events", "/api/v1/events/send")]
    assert any(KLAVIYO_KEY in json.dumps(r.headers) for r in sent)  # the key did go to the platform
    assert any(LOOPS_KEY in json.dumps(r.headers) for r in sent)
    assert Delivery.objects.filter(status="succeeded").count() == 2
    secrets = (KLAVIYO_KEY, LOOPS_KEY, merchant.returns_webhook_secret)
    for secret in secrets:
        assert secret not in caplog.text
    attempts = list(DeliveryAttempt.objects.values())
    assert len(attempts) >= 6
    errors = Destination.objects.values_list("name", "last_error", "api_key_last4")  # api_key itself decrypts
    rows = repr(attempts) + repr(list(Delivery.objects.values())) + repr(list(errors))
    assert any("401" in e or "Invalid" in e for _, e, _ in errors)
    for secret in secrets:
        assert secret not in rows
    pages = [
        reverse("admin:destinations_delivery_changelist"),
    ]
    pages += [reverse("admin:destinations_destination_change", args=[d.pk]) for d in Destination.objects.all()]
    pages += [reverse("admin:destinations_delivery_change", args=[d.pk]) for d in Delivery.objects.all()]
    pages += [
        reverse("admin:events_merchant_change", args=[merchant.pk]),
        reverse("admin:destinations_destination_changelist"),
    ]
    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        for secret in secrets:
            assert secret not in html, url


# --- admin login throttling -------------------------------------------------------------------


def _login(client, password: str, *, ip: str = "192.0.2.10", username: str = "ops"):
    return client.post(
        reverse("admin:login"), {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=ip
    )


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("ops", "ops@shopper.io", "right-horse-battery", is_staff=True)


def test_admin_login_locks_out_ip_and_username_after_failures_then_recovers(client, staff, settings):
    settings.LOGIN_FAILURE_LIMIT, settings.LOGIN_LOCKOUT_MINUTES = 5, 15
    with time_machine.travel("2026-11-23 12:00:00+00:00", tick=False) as traveller:
        for _ in range(5):
            assert _login(client, "wrong").status_code == 200  # the form again, with an error
        locked = _login(client, "right-horse-battery")
        assert locked.status_code == 200 and "_auth_user_id" not in client.session  # even the right password
        assert _login(Client(), "right-horse-battery", ip="192.0.2.11").status_code == 302  # another IP is fine
        traveller.shift(timedelta(minutes=14))
        assert _login(Client(), "right-horse-battery").status_code == 200
        traveller.shift(timedelta(minutes=1, seconds=1))
        assert _login(Client(), "right-horse-battery").status_code == 302


def test_admin_login_success_resets_the_failure_count(client, staff, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    for _ in range(2):
        _login(client, "wrong")
    assert _login(Client(), "right-horse-battery").status_code == 302
    for _ in range(2):
        _login(client, "wrong")
    assert _login(Client(), "right-horse-battery").status_code == 302  # 2 + 2 failures never reached 3 in a row


def test_admin_login_lockout_is_per_username(client, staff, django_user_model, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    django_user_model.objects.create_user("other", "o@shopper.io", "other-horse-battery", is_staff=True)
    for _ in range(2):
        _login(client, "wrong")
    assert _login(Client(), "other-horse-battery", username="other").status_code == 302
    assert _login(Client(), "right-horse-battery").status_code == 200


def test_admin_login_requires_csrf_token(staff):
    csrf_client = Client(enforce_csrf_checks=True)
    response = csrf_client.post(reverse("admin:login"), {"username": "ops", "password": "right-horse-battery"})
    assert response.status_code == 403


def test_admin_responses_carry_security_headers(client):
    response = client.get(reverse("admin:login"))
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


# --- the Support role ------------------------------------------------------------------------------


@pytest.fixture
def support(client, django_user_model):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user("support", "s@shopper.io", "pw-support-1", is_staff=True)
    user.groups.add(Group.objects.get(name="Support"))
    client.force_login(user)
    return client


def test_support_role_limits_are_enforced(support, merchant):
    destination = create_destination(merchant, kind="klaviyo", api_key=KLAVIYO_KEY)
    event = Event.objects.create(
        merchant=merchant, event_id="e1", type="ViewContent", anonymous_id="a", timestamp="2026-01-01T00:00:00Z"
    )
    allowed = [
        reverse("admin:events_merchant_change", args=[merchant.pk]),
        reverse("admin:destinations_destination_change", args=[destination.pk]),
        reverse("admin:destinations_delivery_changelist"),
        reverse("admin:events_event_change", args=[event.pk]),
    ]
    for url in allowed:
        response = support.get(url)
        assert response.status_code == 200, url
        assert KLAVIYO_KEY not in response.content.decode()
        assert merchant.returns_webhook_secret not in response.content.decode()
    refused = [
        reverse("admin:events_merchant_delete", args=[merchant.pk]),
        reverse("admin:destinations_destination_delete", args=[destination.pk]),
        reverse("admin:auth_user_changelist"),
        reverse("admin:auth_group_changelist"),
        reverse("admin:events_event_delete", args=[event.pk]),
    ]
    for url in refused:
        assert support.get(url).status_code == 403, url
    response = support.post(reverse("admin:events_event_change", args=[event.pk]), {"type": "Hacked"})
    assert response.status_code == 403
    assert Event.objects.get(pk=event.pk).type == "ViewContent"
    assert support.get(reverse("admin:django_q_schedule_changelist")).status_code == 403
    bulk_delete = support.post(
        reverse("admin:events_merchant_changelist"),
        {"action": "delete_selected", "_selected_action": [merchant.pk], "post": "yes"},
    )
    assert bulk_delete.status_code in (200, 302, 403)
    assert MerchantFactory._meta.model.objects.filter(pk=merchant.pk).exists()
