"""The health check answers with the database's state."""

from sqlalchemy.exc import OperationalError

from app import create_app
from app.config import load_settings
from app.extensions import db
from tests.conftest import TEST_ENV


def test_healthz_checks_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_reports_a_dead_database(client, monkeypatch):
    def broken(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(db.session, "execute", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "down"


def test_unknown_route_is_a_clean_json_404(client):
    response = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json()["error"] == "Not Found"


def test_unexpected_errors_leak_nothing(database_url, caplog):
    fresh = create_app(load_settings(dict(TEST_ENV, DATABASE_URL=database_url)), overrides={"TESTING": False})

    @fresh.get("/_boom_for_test")
    def boom():
        raise RuntimeError("secret-token-value shpat_123 and a customer email a@b.jp")

    response = fresh.test_client().get("/_boom_for_test", headers={"Accept": "text/html"})
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "shpat_123" not in body and "a@b.jp" not in body and "Traceback" not in body
    assert "shpat_123" not in caplog.text and "a@b.jp" not in caplog.text
