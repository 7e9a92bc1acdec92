"""The Support group created by the events data migration."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from events.roles import SUPPORT_PERMISSIONS, ensure_support_group

pytestmark = pytest.mark.django_db


def _codenames(group: Group) -> set[str]:
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


def test_support_group_exists_with_exactly_the_listed_permissions():
    group = Group.objects.get(name="Support")
    expected = {f"{app}.{code}" for app, codes in SUPPORT_PERMISSIONS.items() for code in codes}
    assert _codenames(group) == expected


def test_support_group_never_deletes_merchants_or_changes_events():
    perms = _codenames(Group.objects.get(name="Support"))
    assert "events.delete_merchant" not in perms
    assert "events.change_event" not in perms
    assert "destinations.delete_destination" not in perms


def test_ensure_support_group_is_idempotent():
    first = ensure_support_group()
    assert ensure_support_group() == first
    assert Group.objects.filter(name="Support").count() == 1
