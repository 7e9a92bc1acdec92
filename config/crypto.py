"""Secrets at rest: a MultiFernet built from FIELD_ENCRYPTION_KEYS, and a model field."""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models
from django.test.signals import setting_changed

PREFIX = "fernet:"


@lru_cache(maxsize=1)
def get_fernet() -> MultiFernet:
    keys = list(settings.FIELD_ENCRYPTION_KEYS)
    if not keys:  # development only: derive a stable key from SECRET_KEY
        digest = hashlib.sha256(("recapture-fields:" + settings.SECRET_KEY).encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])


def encrypt(value: str) -> str:
    return PREFIX + get_fernet().encrypt(value.encode()).decode()


def decrypt(value: str) -> str:
    if not value.startswith(PREFIX):
        raise ValueError("value is not encrypted")
    try:
        return get_fernet().decrypt(value[len(PREFIX) :].encode()).decode()
    except InvalidToken as exc:
        raise ValueError("cannot decrypt: unknown encryption key") from exc


def rotate(value: str) -> str:
    """Re-encrypt with the primary key (MultiFernet.rotate)."""
    return PREFIX + get_fernet().rotate(value[len(PREFIX) :].encode()).decode()


class EncryptedTextField(models.TextField):
    """A text field stored Fernet-encrypted; Python code only sees plaintext."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)


def encrypted_fields() -> list[tuple[type[models.Model], str]]:
    """Every (model, field name) stored with EncryptedTextField, across all apps."""
    from django.apps import apps

    return [
        (model, f.name)
        for model in apps.get_models()
        for f in model._meta.concrete_fields
        if isinstance(f, EncryptedTextField)
    ]


def _reset_on_settings_change(*, setting: str, **kwargs) -> None:
    if setting in ("FIELD_ENCRYPTION_KEYS", "SECRET_KEY"):
        get_fernet.cache_clear()


setting_changed.connect(_reset_on_settings_change)
