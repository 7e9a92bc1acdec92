"""Issue 14, finding 6: the public development secret and the key derived from it stay in development.

The attack: a deployment started with the defaults (DJANGO_DEBUG unset, so true; no
DJANGO_SECRET_KEY; no FIELD_ENCRYPTION_KEYS) encrypts every stored API key with a key
anyone can derive from the constant in config/settings/base.py. The attacker with a
database dump (or a backup) derives it and decrypts. Now such a deployment (one that
answers to any non-loopback host name) refuses to start, so nothing is ever encrypted
with that key outside loopback development.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken

from config.settings.parsing import is_loopback_only

ROOT = Path(__file__).resolve().parents[2]
DEV_SECRET = "dev-insecure-secret-key-change-me-in-production-0123456789abcdef"


def _env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "FIELD_", "Q_"))}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.base", **values)
    return env


def _check(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def _attacker_fernet() -> Fernet:
    """What anyone can compute from the public source: the field key derived from the dev secret."""
    digest = hashlib.sha256(("recapture-fields:" + DEV_SECRET).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def test_deployment_with_default_secret_refuses_to_start():
    result = _check(_env(DJANGO_ALLOWED_HOSTS="recapture.example.com"))  # DJANGO_DEBUG unset
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set: the built-in development secret is public" in result.stderr


def test_deployment_with_the_dev_secret_spelled_out_refuses_to_start():
    result = _check(_env(DJANGO_DEBUG="false", DJANGO_SECRET_KEY=DEV_SECRET, FIELD_ENCRYPTION_KEYS="x"))
    assert result.returncode != 0
    assert "built-in development secret is public" in result.stderr


def test_deployment_without_field_keys_refuses_the_derived_key():
    env = _env(DJANGO_ALLOWED_HOSTS="recapture.example.com", DJANGO_SECRET_KEY=secrets.token_urlsafe(50))
    result = _check(env)
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS must be set: a key derived from the secret" in result.stderr


def test_loopback_development_still_starts_with_no_settings():
    result = _check(_env())
    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
def test_attacker_cannot_decrypt_a_key_stored_by_a_configured_deployment(settings):
    from config.crypto import encrypt

    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    stored = encrypt("pk_live_merchant_secret")
    with pytest.raises(InvalidToken):
        _attacker_fernet().decrypt(stored.removeprefix("fernet:").encode())


@pytest.mark.parametrize(
    ("hosts", "expected"),
    [
        (["127.0.0.1", "localhost", "testserver"], True),
        (["[::1]", "127.0.0.2", "app.localhost"], True),
        (["*"], False),
        (["127.0.0.1", "recapture.example.com"], False),
        (["10.0.0.5"], False),
        ([], False),
    ],
)
def test_is_loopback_only(hosts, expected):
    assert is_loopback_only(hosts) is expected
