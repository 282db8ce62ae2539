"""The application shell: config, health check, login, errors."""

from __future__ import annotations

import pytest

from crm import create_app
from crm.core.config import ConfigError, check_config, load_environment, normalise_database_url


def test_healthz_reports_database_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_503_when_database_unreachable(tmp_path):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none",
                      "SECRET_KEY": "x" * 40})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"


def test_production_refuses_default_secret_key():
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        check_config({"ENV_NAME": "production", "SECRET_KEY": "dev-insecure-change-me"})
    check_config({"ENV_NAME": "production", "SECRET_KEY": "k" * 40})


def test_environment_overrides_are_typed_strictly():
    config = {"SLA_AT_RISK_SHARE": 0.75, "RATELIMIT_ENABLED": True, "SMTP_PORT": 25}
    load_environment(config, {"GUICHET_SLA_AT_RISK_SHARE": "0.8", "GUICHET_RATELIMIT_ENABLED": "false",
                              "GUICHET_SMTP_PORT": "2525", "DATABASE_URL": "postgres://u@h/db"})
    assert config["SLA_AT_RISK_SHARE"] == 0.8
    assert config["RATELIMIT_ENABLED"] is False
    assert config["SMTP_PORT"] == 2525
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"
    with pytest.raises(ConfigError, match="GUICHET_SMTP_PORT"):
        load_environment(config, {"GUICHET_SMTP_PORT": "vingt-cinq"})
    with pytest.raises(ConfigError, match="booléenne"):
        load_environment(config, {"GUICHET_RATELIMIT_ENABLED": "peut-être"})


def test_normalise_database_url_keeps_other_urls():
    assert normalise_database_url("sqlite:///x.db") == "sqlite:///x.db"
    assert normalise_database_url("postgresql://a@b/c") == "postgresql+psycopg://a@b/c"


def test_login_and_logout(client, make_user, login):
    user = make_user("agent")
    login(user)
    assert client.get("/compte/jetons").status_code == 200
    assert client.post("/deconnexion").status_code == 302
    assert client.get("/compte/jetons").status_code == 302


def test_login_wrong_password_shows_message(client, make_user):
    user = make_user("agent")
    response = client.post("/connexion", data={"email": user.email, "password": "mauvais-mot-de-passe"})
    assert response.status_code == 200
    assert "incorrect" in response.get_data(as_text=True)


def test_login_redirect_ignores_external_next(client, make_user):
    user = make_user("agent")
    response = client.post("/connexion", data={"email": user.email, "password": "motdepasse-de-test-1",
                                               "next": "https://evil.example/"})
    assert response.status_code == 302
    assert "evil.example" not in response.headers["Location"]


def test_passwords_are_hashed_with_argon2(make_user):
    user = make_user("agent")
    assert user.password_hash.startswith("$argon2id$")


def test_unknown_page_html_and_api_problem(client):
    assert "Erreur 404" in client.get("/nulle-part").get_data(as_text=True)
    response = client.get("/api/v1/nulle-part")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 404


def test_openapi_document_is_served(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.get_json()["info"]["title"] == "Guichet API"


def test_language_switch_to_english(client):
    client.post("/langue", data={"lang": "en", "next": "/connexion"})
    assert 'lang="en"' in client.get("/connexion").get_data(as_text=True)


def test_demo_logins_lists_staff_and_portal_accounts(app):
    from crm.demo.projects import PORTAL_ACCOUNTS

    output = app.test_cli_runner().invoke(args=["demo", "logins"]).output
    assert "agent@guichet.example" in output and "guichet-demo-2026" in output
    assert all(email in output for _label, email in PORTAL_ACCOUNTS)


def test_production_cookies_are_secure_and_http_only(tmp_path):
    app = create_app({"ENV_NAME": "production", "SECRET_KEY": "s" * 40, "RATELIMIT_ENABLED": False,
                      "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(tmp_path / "p.sqlite3")})
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]
    assert app.config["SESSION_COOKIE_HTTPONLY"] and app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
