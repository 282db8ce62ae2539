"""Response headers: personal data is never cached, HTTPS is enforced in production."""

from __future__ import annotations

from crm import create_app
from crm.core.config import TestConfig


def test_pages_with_personal_data_are_not_stored(client, make_user, login, make_ticket):
    assert "no-store" not in client.get("/").headers.get("Cache-Control", "")  # public page
    asset = client.get("/static/dsfr/dsfr.min.css")
    asset.close()
    assert asset.status_code == 200 and "no-store" not in asset.headers.get("Cache-Control", "")
    ticket = make_ticket()
    follow = client.get(f"/demandes/{ticket.reference}?cle={ticket.access_key}")
    assert follow.headers["Cache-Control"] == "no-store"
    login(make_user("agent"))
    for path in ("/agent/file", "/compte/jetons", f"/agent/demandes/{ticket.reference}"):
        response = client.get(path)
        assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store", path
    assert client.get("/").headers.get("X-Frame-Options") == "DENY"


def test_hsts_only_in_production(client, tmp_path):
    assert "Strict-Transport-Security" not in client.get("/healthz").headers
    config = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    config.update(ENV_NAME="production", SECRET_KEY="x" * 40, PASSWORD_HASH_PROFILE="RFC_9106_LOW_MEMORY",
                  SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'p.sqlite3'}")
    production = create_app(config)
    response = production.test_client().get("/accessibilite")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
