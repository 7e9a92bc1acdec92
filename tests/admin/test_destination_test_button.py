"""The Test button's in-place answer: words a support agent can act on, and the badge it leaves."""

from __future__ import annotations

import pytest
import requests
import responses
from django.conf import settings
from django.urls import reverse

from destinations.admin_test import describe_test, network_reason
from destinations.services import TestResult
from tests.admin.conftest import DestinationFactory
from tests.admin.test_destination_admin import _key_check_ok

pytestmark = pytest.mark.django_db
DNS_FAILURE = (
    "HTTPSConnectionPool(host='a.klaviyo.com', port=443): Max retries exceeded with url: /api/accounts "
    "(Caused by NameResolutionError(\"Failed to resolve 'a.klaviyo.com' ([Errno -3] Temporary failure in name "
    'resolution)"))'
)


def _test_json(client, destination):
    url = reverse("admin:destinations_destination_test", args=[destination.pk])
    return client.post(url, HTTP_ACCEPT="application/json")


@responses.activate
def test_unreachable_platform_reads_couldnt_reach_and_leaves_the_key_unverified(admin_client):
    destination = DestinationFactory()
    responses.get(f"{settings.KLAVIYO_API_URL}/api/accounts", body=requests.exceptions.ConnectionError(DNS_FAILURE))
    response = _test_json(admin_client, destination)
    assert response.status_code == 200
    data = response.json()
    assert data["ok"] is False
    assert data["text"] == "Couldn't reach Klaviyo (DNS lookup failed); the key was not checked."
    assert data["badge"] == "unverified" and "unverified" in data["badge_html"]
    assert "Traceback" not in data["html"] and "HTTPSConnectionPool" not in data["html"]
    destination.refresh_from_db()
    assert destination.status == "active"  # not paused: the key may be fine
    page = admin_client.get(reverse("admin:events_merchant_change", args=[destination.merchant_id])).content.decode()
    assert "rc-status-unverified" in page  # the stored badge says so too, after a reload


@responses.activate
def test_in_place_success_reports_and_turns_the_badge_verified(admin_client):
    destination = DestinationFactory()
    _key_check_ok()
    data = _test_json(admin_client, destination).json()
    assert data["ok"] is True and data["badge"] == "verified"
    assert data["text"].startswith("Klaviyo accepted the key (HTTP 200). API key is valid (account A1).")
    assert "rc-test-features" in data["html"]


def test_test_button_is_a_plain_button_not_a_form_submit(admin_client):
    destination = DestinationFactory()
    page = admin_client.get(reverse("admin:events_merchant_change", args=[destination.merchant_id])).content.decode()
    test_url = reverse("admin:destinations_destination_test", args=[destination.pk])
    assert f'<button type="button" class="button rc-test-destination" data-url="{test_url}"' in page
    assert "formaction=" not in page
    assert "recapture/console.js" in page


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (DNS_FAILURE, "DNS lookup failed"),
        ("timeout: Read timed out. (read timeout=10)", "the request timed out"),
        ("network: [Errno 111] Connection refused", "connection refused"),
        ("network: SSLError(SSLCertVerificationError", "TLS certificate error"),
        ("network: something else", "network error"),
    ],
)
def test_network_reason(message, reason):
    assert network_reason(message) == reason


def test_describe_test_other_http_answer_is_unverified():
    report = describe_test("Loops", TestResult(False, 503, "Service Unavailable"))
    assert (report.badge, report.text) == (
        "unverified",
        "Loops answered HTTP 503: Service Unavailable; the key was not checked.",
    )
