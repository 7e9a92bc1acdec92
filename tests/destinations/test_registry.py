"""Destination kinds come from the client registry: choices, base URL, API revision, capabilities."""

from __future__ import annotations

import pytest
from django.conf import settings

from destinations.clients import REGISTRY, kind_choices, kinds_with
from destinations.models import Destination, DestinationKind
from destinations.services.outbound import client_for


def test_registry_gives_destination_kind_its_choices():
    assert DestinationKind.choices == [(cls.kind, cls.label) for cls in REGISTRY.values()] == kind_choices()
    assert [DestinationKind.KLAVIYO, DestinationKind.LOOPS] == ["klaviyo", "loops"]
    assert Destination._meta.get_field("kind").choices == DestinationKind.choices


@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_registry_client_reads_its_own_base_url_and_revision(kind, settings):
    cls = REGISTRY[kind]
    setattr(settings, cls.base_url_setting, f"https://{kind}.platform.test")
    client = client_for(Destination(kind=kind, api_key="key", profile_sync="off"))
    assert client.config.base_url == f"https://{kind}.platform.test"
    assert client.config.revision == (getattr(settings, cls.revision_setting) if cls.revision_setting else "")


def test_registry_capabilities_name_the_kinds_that_have_them():
    assert kinds_with("supports_backup_flows") == ["klaviyo"]
    assert kinds_with("supports_click_lookup") == ["klaviyo"]
    assert kinds_with("supports_active_on_site") == ["klaviyo"]
    assert settings.KLAVIYO_API_REVISION and REGISTRY["klaviyo"].revision_setting == "KLAVIYO_API_REVISION"
