"""The Klaviyo double's scope-probe reads and data-privacy deletion, against the docs they cite."""

from __future__ import annotations

import pytest
import requests
import responses

from tests.fakes.core import mount
from tests.fakes.klaviyo import KlaviyoDouble

BASE = "https://a.klaviyo.com"
HEADERS = {"Authorization": "Klaviyo-API-Key pk_test", "revision": "2026-10-15"}


@pytest.fixture
def klaviyo():
    double = KlaviyoDouble()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mount(rsps, double, BASE)
        yield double


def deletion(**attributes: str) -> dict:
    profile = {"data": {"type": "profile", "attributes": attributes}}
    return {"data": {"type": "data-privacy-deletion-job", "attributes": {"profile": profile}}}


def delete(body: dict) -> requests.Response:
    return requests.post(f"{BASE}/api/data-privacy-deletion-jobs", json=body, headers=HEADERS, timeout=5)


def test_klaviyo_double_get_endpoints_need_their_read_scope(klaviyo):
    # spec: get_flows "Scopes: flows:read"; a key without it gets a JSON 403 permission_denied
    assert requests.get(f"{BASE}/api/flows", headers=HEADERS, timeout=5).status_code == 200
    klaviyo.scopes.discard("flows:read")
    denied = requests.get(f"{BASE}/api/flows", headers=HEADERS, timeout=5)
    assert denied.status_code == 403 and denied.json()["errors"][0]["code"] == "permission_denied"


def test_klaviyo_double_deletion_job_deletes_every_profile_with_the_identifier(klaviyo):
    # "All profiles that match the provided identifier will be deleted." (Request Profile Deletion)
    ann = klaviyo.seed_profile(email="ann@example.com", phone_number="+14155550100")
    bob = klaviyo.seed_profile(email="bob@example.com")
    assert delete(deletion(email="ann@example.com")).status_code == 202
    assert set(klaviyo.profiles) == {bob.id}
    assert klaviyo.profile_by("phone_number", "+14155550100") is None and ann.id not in klaviyo.profiles
    assert klaviyo.deletions == [("email", "ann@example.com")]


def test_klaviyo_double_deletion_job_refuses_two_identifiers(klaviyo):
    # "If multiple identifiers are provided, we will return an error."
    klaviyo.seed_profile(email="ann@example.com")
    response = delete(deletion(email="ann@example.com", phone_number="+14155550100"))
    assert response.status_code == 400 and len(klaviyo.profiles) == 1


def test_klaviyo_double_deletion_job_needs_data_privacy_write(klaviyo):
    klaviyo.scopes.discard("data-privacy:write")
    assert delete(deletion(email="ann@example.com")).status_code == 403
