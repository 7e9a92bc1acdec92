"""Profile admin (identifiers, timeline, merges, forget, re-send) and the Loop Returns admins."""

from __future__ import annotations

import hashlib

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from events.models import Event
from identity.models import ErasureRecord, Identifier, Profile, ProfileMerge
from returns.models import LoopReturn, LoopWebhook
from tests.admin.conftest import ProfileFactory
from tests.factories import EventFactory, MerchantFactory

pytestmark = pytest.mark.django_db

PROFILES = reverse("admin:identity_profile_changelist")


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _profile_with_history(merchant, email="carol@example.com") -> Profile:
    profile = ProfileFactory(merchant=merchant, email=email, traits={"first_name": "Carol", "city": "Lyon"})
    now = timezone.now()
    Identifier.objects.create(
        merchant=merchant, profile=profile, type="email", value=email, source="pixel", first_seen=now, last_seen=now
    )
    Identifier.objects.create(
        merchant=merchant, profile=profile, type="anonymous_id", value="anon-1", first_seen=now, last_seen=now
    )
    ProfileMerge.objects.create(
        merchant=merchant,
        from_profile_id=9999,
        into_profile_id=profile.pk,
        identifier_type="email",
        identifier_value=email,
    )
    for kind in ("ViewContent", "AddToCart", "Purchase"):
        EventFactory(merchant=merchant, profile=profile, type=kind, identification="native")
    return profile


@pytest.mark.parametrize("n", [2, 25])
def test_profile_changelist_is_bounded(admin_client, merchant, n, django_assert_max_num_queries):
    ProfileFactory.create_batch(n, merchant=merchant)
    with django_assert_max_num_queries(8):
        response = admin_client.get(PROFILES)
    assert response.status_code == 200
    assert response.content.count(b'class="action-select"') == n


def test_profile_search_by_identifier_value(admin_client, merchant):
    _profile_with_history(merchant)
    ProfileFactory(merchant=merchant)
    response = admin_client.get(PROFILES, {"q": "anon-1"})
    assert [p.email for p in response.context["cl"].result_list] == ["carol@example.com"]


def test_profile_page_shows_identifiers_traits_timeline_and_merges(
    admin_client, merchant, django_assert_max_num_queries
):
    profile = _profile_with_history(merchant)
    with django_assert_max_num_queries(14):
        response = admin_client.get(reverse("admin:identity_profile_change", args=[profile.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "anon-1" in html and "Lyon" in html
    assert html.count("class='rc-timeline'") == 1 and "AddToCart" in html and "Purchase" in html
    assert "#9999 → #" in html


def test_forget_action_erases_and_logs_without_pii(admin_client, merchant, admin_user):
    profile = _profile_with_history(merchant)
    admin_client.post(PROFILES, {"action": "resend_recent", "_selected_action": [profile.pk]})  # history names her
    response = admin_client.post(PROFILES, {"action": "forget", "_selected_action": [profile.pk]})
    assert response.status_code == 302
    assert not Profile.objects.filter(pk=profile.pk).exists()
    assert not Event.objects.filter(merchant=merchant).exists()
    record = ErasureRecord.objects.get(profile_id=profile.pk)
    assert record.actor == "admin" and record.events_deleted == 3
    entry = LogEntry.objects.get(user=admin_user, action_flag=ADDITION)
    assert "carol@example.com" not in entry.object_repr + entry.change_message
    assert not LogEntry.objects.filter(object_repr__contains="carol@example.com").exists()
    assert LogEntry.objects.filter(object_repr=f"profile #{profile.pk} (erased)").count() == 1
    assert "1 profiles erased; erasure records kept." in _messages(response)


def test_resend_action_reports_the_count(admin_client, merchant):
    profile = _profile_with_history(merchant)
    response = admin_client.post(PROFILES, {"action": "resend_recent", "_selected_action": [profile.pk]})
    assert response.status_code == 302
    assert f"{profile}: 3 events queued again." in _messages(response)
    assert LogEntry.objects.get(object_id=str(profile.pk)).change_message == "Re-sent 3 recent events."


def test_support_can_resend_but_not_forget(support_client, merchant):
    profile = _profile_with_history(merchant)
    actions = dict(support_client.get(PROFILES).context["action_form"].fields["action"].choices)
    assert "resend_recent" in actions and "forget" not in actions
    support_client.post(PROFILES, {"action": "forget", "_selected_action": [profile.pk]})
    assert Profile.objects.filter(pk=profile.pk).exists()


def test_erasure_and_merge_pages_render(admin_client, merchant):
    _profile_with_history(merchant)
    ErasureRecord.objects.create(merchant=merchant, profile_id=1, actor="x")
    for name in ("identity_erasurerecord_changelist", "identity_profilemerge_changelist"):
        assert admin_client.get(reverse(f"admin:{name}")).status_code == 200


def _webhook(merchant, state="failed", body='{"id": "R1", "topic": "return"}') -> LoopWebhook:
    return LoopWebhook.objects.create(
        merchant=merchant,
        topic="return",
        trigger="return.created",
        return_id="R1",
        body=body,
        body_sha256=hashlib.sha256(body.encode()).hexdigest(),
        signature_valid=True,
        state=state,
        error="boom" if state == "failed" else "",
    )


@pytest.mark.parametrize("n", [2, 20])
def test_webhook_changelist_is_bounded(admin_client, n, django_assert_max_num_queries):
    for i in range(n):
        _webhook(MerchantFactory(), body=f'{{"id": "R{i}"}}')
    with django_assert_max_num_queries(9):
        response = admin_client.get(reverse("admin:returns_loopwebhook_changelist"))
    assert response.status_code == 200


def test_webhook_page_pretty_prints_the_body(admin_client, merchant):
    webhook = _webhook(merchant)
    response = admin_client.get(reverse("admin:returns_loopwebhook_change", args=[webhook.pk]))
    assert response.status_code == 200
    assert "&quot;topic&quot;: &quot;return&quot;" in response.content.decode()


def test_reprocess_action_requeues_and_logs(admin_client, merchant, django_capture_on_commit_callbacks):
    webhook = _webhook(merchant)
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(
            reverse("admin:returns_loopwebhook_changelist"), {"action": "reprocess", "_selected_action": [webhook.pk]}
        )
    assert response.status_code == 302 and len(callbacks) == 1
    webhook.refresh_from_db()
    assert (webhook.state, webhook.error) == ("received", "")
    assert LogEntry.objects.get(object_id=str(webhook.pk)).change_message == "Queued for reprocessing."


def test_loop_return_pages_render(admin_client, merchant):
    ret = LoopReturn.objects.create(merchant=merchant, return_id="R1", state="open", email="d@example.com")
    assert admin_client.get(reverse("admin:returns_loopreturn_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:returns_loopreturn_change", args=[ret.pk])).status_code == 200


def test_send_test_return_events_action(admin_client, merchant):
    response = admin_client.post(
        reverse("admin:events_merchant_changelist"),
        {"action": "send_test_return_events", "_selected_action": [merchant.pk]},
    )
    assert response.status_code == 302
    count = Event.objects.filter(merchant=merchant, source="returns").count()
    assert count > 0
    assert f"{merchant}: {count} test return events recorded." in _messages(response)
