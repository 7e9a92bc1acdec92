"""Destination admin: write-only key, inline on the merchant, Test button, health badge, actions."""

from __future__ import annotations

import pytest
import responses
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone
from responses import matchers

from destinations.models import Destination
from tests.admin.conftest import DeliveryFactory, DestinationFactory
from tests.admin.test_merchant_admin import merchant_form

pytestmark = pytest.mark.django_db

KEY = "pk_live_secret_abcd1234"
CHANGELIST = reverse("admin:destinations_destination_changelist")


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def destination_form(destination: Destination, **overrides) -> dict[str, str]:
    data = {
        "merchant": str(destination.merchant_id),
        "name": destination.name,
        "kind": destination.kind,
        "api_key": "",
        "enabled": "on",
        "event_types": ["ViewContent", "Purchase"],
        "custom_event_types": "Wishlist Added, Quiz Done",
        "forward_reidentified": "on",
        "forward_returns": "on",
        "profile_sync": "update_only",
        "metric_suffix": " - Recapture",
        "list_id": "XyZ123",
        "name_overrides": '{"Purchase": "Order Placed"}',
    }
    data.update(overrides)
    return data


def test_destination_changelist_shows_last4_never_the_key(admin_client, django_assert_max_num_queries):
    DestinationFactory.create_batch(15)
    with django_assert_max_num_queries(8):
        response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    assert b"\xe2\x80\xa61234" in response.content  # "…1234"
    assert KEY.encode() not in response.content


def test_destination_change_page_never_renders_the_key(admin_client):
    destination = DestinationFactory()
    response = admin_client.get(reverse("admin:destinations_destination_change", args=[destination.pk]))
    assert response.status_code == 200
    assert KEY.encode() not in response.content
    assert b'name="api_key"' in response.content and b'type="password"' in response.content


def test_blank_key_keeps_the_stored_key_and_saves_the_settings(admin_client):
    destination = DestinationFactory()
    url = reverse("admin:destinations_destination_change", args=[destination.pk])
    response = admin_client.post(url, destination_form(destination))
    assert response.status_code == 302, response.content
    destination.refresh_from_db()
    assert destination.api_key == KEY
    assert destination.event_types == ["ViewContent", "Purchase", "Wishlist Added", "Quiz Done"]
    assert destination.profile_sync == "update_only"
    assert destination.name_overrides == {"Purchase": "Order Placed"}
    assert LogEntry.objects.filter(object_id=str(destination.pk)).exists()


def test_typed_key_replaces_the_key_and_resumes_a_paused_destination(admin_client):
    destination = DestinationFactory(status="error", last_error="401 bad key")
    url = reverse("admin:destinations_destination_change", args=[destination.pk])
    response = admin_client.post(url, destination_form(destination, api_key="pk_new_key_9876"))
    assert response.status_code == 302
    destination.refresh_from_db()
    assert destination.api_key == "pk_new_key_9876"
    assert destination.api_key_last4 == "9876"
    assert destination.status == "active"


def test_new_destination_requires_a_key(admin_client, merchant):
    data = destination_form(Destination(merchant=merchant, name="K", kind="klaviyo"))
    response = admin_client.post(reverse("admin:destinations_destination_add"), data)
    assert response.status_code == 200
    assert b"An API key is required" in response.content
    assert not Destination.objects.exists()


def test_destination_added_inline_on_the_merchant_page(admin_client, merchant):
    url = reverse("admin:events_merchant_change", args=[merchant.pk])
    data = merchant_form(name=merchant.name, shop_domain=merchant.shop_domain, allowed_origins="[]")
    data.update(
        {
            "destinations-TOTAL_FORMS": "1",
            "destinations-0-name": "Main Klaviyo",
            "destinations-0-kind": "klaviyo",
            "destinations-0-api_key": "pk_inline_key_5555",
            "destinations-0-enabled": "on",
            "destinations-0-event_types": ["ViewContent", "AddToCart"],
            "destinations-0-profile_sync": "create_update",
            "destinations-0-name_overrides": "{}",
        }
    )
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    destination = Destination.objects.get(merchant=merchant)
    assert (destination.api_key, destination.api_key_last4) == ("pk_inline_key_5555", "5555")
    assert destination.event_types == ["ViewContent", "AddToCart"]
    page = admin_client.get(url)
    assert b"pk_inline_key_5555" not in page.content
    assert b"rc-test-destination" in page.content


def _key_check_ok() -> None:
    """The Test's read-only requests to Klaviyo (the key check, then one read per scoped resource)."""
    match = [
        matchers.header_matcher({"Authorization": f"Klaviyo-API-Key {KEY}", "revision": settings.KLAVIYO_API_REVISION})
    ]
    responses.get(
        f"{settings.KLAVIYO_API_URL}/api/accounts", json={"data": [{"type": "account", "id": "A1"}]}, match=match
    )
    for path in ("events", "profiles", "lists", "flows", "metrics"):
        responses.get(f"{settings.KLAVIYO_API_URL}/api/{path}", json={"data": []}, match=match)


@responses.activate
def test_test_button_reports_the_platform_success(admin_client):
    destination = DestinationFactory()
    _key_check_ok()
    back = reverse("admin:events_merchant_change", args=[destination.merchant_id])
    response = admin_client.post(
        reverse("admin:destinations_destination_test", args=[destination.pk]), HTTP_REFERER=f"http://testserver{back}"
    )
    assert response.status_code == 302 and response["Location"] == f"http://testserver{back}"
    assert any("Klaviyo accepted the key (HTTP 200). API key is valid (account A1)." in m for m in _messages(response))
    assert LogEntry.objects.get(object_id=str(destination.pk)).change_message == "Tested: ok (HTTP 200)."


@responses.activate
def test_test_button_reports_the_platform_error_and_marks_the_badge_red(admin_client):
    destination = DestinationFactory()
    responses.get(
        f"{settings.KLAVIYO_API_URL}/api/accounts",
        status=401,
        json={
            "errors": [{"status": 401, "code": "not_authenticated", "detail": "Incorrect authentication credentials."}]
        },
    )
    response = admin_client.post(reverse("admin:destinations_destination_test", args=[destination.pk]))
    assert response.status_code == 302
    refused = "Klaviyo refused the API key (HTTP 401): Incorrect authentication credentials."
    assert any(refused in m for m in _messages(response))
    destination.refresh_from_db()
    assert destination.status == "error"
    page = admin_client.get(CHANGELIST)
    assert b"Incorrect authentication credentials." in page.content and b"#cf222e" in page.content


def test_test_view_refuses_get(admin_client):
    destination = DestinationFactory()
    url = reverse("admin:destinations_destination_test", args=[destination.pk])
    assert admin_client.get(url).status_code == 403


@responses.activate
def test_test_view_ignores_an_offsite_referer(admin_client):
    destination = DestinationFactory()
    _key_check_ok()
    url = reverse("admin:destinations_destination_test", args=[destination.pk])
    response = admin_client.post(url, HTTP_REFERER="https://evil.example/")
    assert response["Location"] == reverse("admin:destinations_destination_change", args=[destination.pk])


def test_replay_dead_action_requeues_dead_deliveries(admin_client):
    destination = DestinationFactory(dry_run=True)
    dead = DeliveryFactory.create_batch(3, destination=destination, status="dead", attempts=4)
    response = admin_client.post(CHANGELIST, {"action": "replay_dead", "_selected_action": [destination.pk]})
    assert response.status_code == 302
    assert any("3 dead deliveries queued again" in m for m in _messages(response))
    for delivery in dead:
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert LogEntry.objects.get(object_id=str(destination.pk)).change_message == "Replayed 3 dead deliveries."


def test_backfill_action_reports_how_many_events(admin_client):
    from tests.factories import EventFactory

    destination = DestinationFactory(dry_run=True)
    EventFactory.create_batch(2, merchant=destination.merchant, timestamp=timezone.now())
    response = admin_client.post(CHANGELIST, {"action": "backfill_7_days", "_selected_action": [destination.pk]})
    assert response.status_code == 302
    assert any("events queued for backfill" in m for m in _messages(response))


def test_support_can_configure_destinations_but_not_delete_them(support_client):
    destination = DestinationFactory()
    url = reverse("admin:destinations_destination_change", args=[destination.pk])
    assert support_client.get(url).status_code == 200
    response = support_client.post(url, destination_form(destination, name="Renamed"))
    assert response.status_code == 302
    destination.refresh_from_db()
    assert destination.name == "Renamed" and destination.api_key == KEY
    assert (
        support_client.get(reverse("admin:destinations_destination_delete", args=[destination.pk])).status_code == 403
    )


@responses.activate
def test_test_action_reports_each_destination(admin_client):
    first, second = DestinationFactory(), DestinationFactory()
    _key_check_ok()
    response = admin_client.post(CHANGELIST, {"action": "test_destinations", "_selected_action": [first.pk, second.pk]})
    assert response.status_code == 302
    shown = _messages(response)
    assert sum("accepted the key (HTTP 200)" in m for m in shown) == 2
    assert len(responses.calls) == 12 and {c.request.method for c in responses.calls} == {"GET"}
    assert LogEntry.objects.filter(change_message="Tested: ok (HTTP 200).").count() == 2
