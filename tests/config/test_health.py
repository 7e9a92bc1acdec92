import pytest


@pytest.mark.django_db
def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    resp = client.get("/readyz")
    assert resp.status_code == 200
    assert resp.json()["checks"] == {"database": "ok", "broker": "ok"}


def test_readyz_is_503_when_database_is_down(client, monkeypatch):
    from config import health

    monkeypatch.setattr(health, "_check_database", lambda: "OperationalError")
    resp = client.get("/readyz")
    assert resp.status_code == 503
    assert resp.json()["checks"]["database"] == "OperationalError"
