"""Every registered admin list renders for a superuser with a bounded number of queries."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

pytestmark = pytest.mark.django_db

OUR_APPS = {"events", "identity", "destinations", "returns"}
MODELS = sorted(
    (model._meta.app_label, model._meta.model_name)
    for model in admin.site._registry
    if model._meta.app_label in OUR_APPS
)


def test_every_app_model_is_registered():
    assert {label for label, _ in MODELS} == OUR_APPS
    assert ("destinations", "deliveryattempt") not in MODELS  # attempts live inline on their delivery


@pytest.mark.parametrize(("app_label", "model_name"), MODELS)
def test_changelist_renders_with_bounded_queries(admin_client, app_label, model_name, django_assert_max_num_queries):
    with django_assert_max_num_queries(9):
        response = admin_client.get(reverse(f"admin:{app_label}_{model_name}_changelist"))
    assert response.status_code == 200


def test_admin_index_lists_the_console(admin_client):
    response = admin_client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert b"Recapture console" in response.content
