"""Delivery admin: filters, dead letters, bulk replay, read-only attempts."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.urls import reverse

from tests.admin.conftest import AttemptFactory, DeliveryFactory, DestinationFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:destinations_delivery_changelist")


@pytest.mark.parametrize("n", [3, 40])
def test_delivery_changelist_is_bounded_in_queries(admin_client, n, django_assert_max_num_queries):
    destination = DestinationFactory()
    DeliveryFactory.create_batch(n, destination=destination, status="dead", last_error="400 bad payload")
    with django_assert_max_num_queries(10):
        response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    assert response.content.count(b'class="action-select"') == n


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status__exact": "dead"}, 2),
        ({"status__exact": "succeeded"}, 1),
        ({"destination__kind__exact": "loops"}, 1),
        ({"dry_run__exact": "1"}, 0),
    ],
)
def test_delivery_changelist_filters(admin_client, query, expected):
    klaviyo = DestinationFactory()
    loops = DestinationFactory(kind="loops", merchant=klaviyo.merchant)
    DeliveryFactory.create_batch(2, destination=klaviyo, status="dead")
    DeliveryFactory(destination=loops, status="succeeded")
    response = admin_client.get(CHANGELIST, query)
    assert len(response.context["cl"].result_list) == expected


def test_dead_letter_link_is_offered(admin_client):
    response = admin_client.get(CHANGELIST)
    assert b'href="?state=dead"' in response.content  # the console's state filter (status__exact still works)


def test_bulk_replay_requeues_and_logs(admin_client, admin_user, django_capture_on_commit_callbacks):
    destination = DestinationFactory()
    dead = DeliveryFactory.create_batch(2, destination=destination, status="dead", attempts=3)
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(CHANGELIST, {"action": "replay", "_selected_action": [d.pk for d in dead]})
    assert response.status_code == 302
    assert len(callbacks) == 2  # one delivery task queued per replayed delivery
    assert "2 deliveries queued for replay." in [str(m) for m in get_messages(response.wsgi_request)]
    for delivery in dead:
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert LogEntry.objects.filter(user=admin_user, change_message="Replayed.").count() == 2


def test_delivery_page_shows_attempts_read_only(admin_client, django_assert_max_num_queries):
    delivery = DeliveryFactory(status="dead", attempts=1, last_error="HTTP 400")
    AttemptFactory(delivery=delivery, status_code=400, response_body='{"errors":[{"detail":"bad metric"}]}')
    with django_assert_max_num_queries(12):
        response = admin_client.get(reverse("admin:destinations_delivery_change", args=[delivery.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "bad metric" in html and "400" in html
    assert 'name="_save"' not in html  # read-only log


def test_support_may_replay(support_client):
    delivery = DeliveryFactory(status="dead")
    page = support_client.get(CHANGELIST)
    assert "replay" in dict(page.context["action_form"].fields["action"].choices)
    support_client.post(CHANGELIST, {"action": "replay", "_selected_action": [delivery.pk]})
    delivery.refresh_from_db()
    assert delivery.status == "pending"


def test_staff_without_replay_permission_cannot_replay(client, django_user_model):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("viewer", password="pw-viewer-1", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_delivery"))
    client.force_login(user)
    delivery = DeliveryFactory(status="dead")
    page = client.get(CHANGELIST)
    assert page.status_code == 200
    client.post(CHANGELIST, {"action": "replay", "_selected_action": [delivery.pk]})
    delivery.refresh_from_db()
    assert delivery.status == "dead"
