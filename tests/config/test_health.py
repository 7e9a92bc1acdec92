import pytest


@pytest.mark.django_db
def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    resp = client.get("/readyz")
    assert resp.status_code == 200
    assert resp.json()["checks"] == {"database": "ok", "migrations": "ok", "cache": "ok", "broker": "ok"}


def test_readyz_is_503_when_database_is_down(client, monkeypatch):
    from config import health

    monkeypatch.setattr(health, "_check_database", lambda: "OperationalError")
    resp = client.get("/readyz")
    assert resp.status_code == 503
    assert resp.json()["checks"]["database"] == "OperationalError"


@pytest.mark.django_db(transaction=True)  # autocommit, as in production: the failed query aborts nothing else
def test_readyz_is_503_when_the_database_cache_table_is_missing(client, settings):
    """Ingest answers 503 without its cache table (rate limiter): /readyz must say so too."""

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "no_table"}}
    resp = client.get("/readyz")
    assert resp.status_code == 503
    assert "no_table" in resp.json()["checks"]["cache"]
    assert "migrate" in resp.json()["checks"]["cache"]


@pytest.mark.django_db
def test_readyz_is_503_with_unapplied_migrations(client, monkeypatch):
    from django.db.migrations.executor import MigrationExecutor

    from config import health

    monkeypatch.setattr(health._migrated, "is_set", lambda: False)
    monkeypatch.setattr(MigrationExecutor, "migration_plan", lambda self, targets: [("m", False)] * 2)
    resp = client.get("/readyz")
    assert resp.status_code == 503
    assert resp.json()["checks"]["migrations"] == "2 unapplied migrations (run manage.py migrate)"
