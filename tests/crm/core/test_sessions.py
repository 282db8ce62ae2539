"""Sessions end for real: logout and a new password invalidate every session opened before (issue 10, item 6)."""

from __future__ import annotations

from datetime import date, timedelta
from html import unescape

from flask import g

from crm.core import services
from crm.core.extensions import db, utcnow
from tests.conftest import PASSWORD

NEW_PASSWORD = "un-tout-nouveau-mot-de-passe"


def _signed_in(app, user, password: str = PASSWORD):
    """A new browser signed in as the user through the login form."""
    browser = app.test_client()
    response = browser.post("/connexion", data={"email": user.email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    g.pop("_login_user", None)  # the test's app context outlives requests: forget the user loaded there
    return browser


def _is_signed_in(browser) -> bool:
    """Whether the browser's session still opens a page that needs a login."""
    g.pop("_login_user", None)
    return browser.get("/compte").status_code == 200


def _copy_of(app, browser):
    """Another browser holding a copy of the browser's session cookie (a stolen or saved cookie)."""
    thief = app.test_client()
    thief.set_cookie("session", browser.get_cookie("session").value, domain="localhost")
    return thief


def test_a_session_cookie_copied_before_logout_no_longer_works_after_it(app, make_user):
    user = make_user("agent")
    browser = _signed_in(app, user)
    copy = _copy_of(app, browser)
    assert _is_signed_in(copy)  # the copy works as long as the session lasts
    g.pop("_login_user", None)
    assert browser.post("/deconnexion").status_code == 302
    assert not _is_signed_in(browser)
    response = copy.get("/compte/jetons")
    assert response.status_code == 302 and "/connexion" in response.headers["Location"]
    assert user.session_version == 1
    assert _is_signed_in(_signed_in(app, user))  # logging in again works


def test_logout_ends_the_sessions_of_the_account_on_other_devices_too(app, make_user):
    user = make_user("agent")
    laptop, phone = _signed_in(app, user), _signed_in(app, user)
    g.pop("_login_user", None)
    laptop.post("/deconnexion")
    assert not _is_signed_in(phone)


def test_a_password_change_keeps_this_session_and_ends_the_others(app, make_user):
    user = make_user("requester")
    here, elsewhere = _signed_in(app, user), _signed_in(app, user)
    copy = _copy_of(app, here)
    response = here.post("/compte", data={"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
                         follow_redirects=True)
    assert response.status_code == 200 and response.request.path == "/compte"  # still signed in after the change
    assert "Vos autres sessions ont été fermées." in response.get_data(as_text=True)
    assert _is_signed_in(here)
    assert not _is_signed_in(elsewhere)
    assert not _is_signed_in(copy)  # a cookie copied before the change is as dead as the other sessions
    assert services.authenticate(user.email, PASSWORD) is None
    assert services.authenticate(user.email, NEW_PASSWORD) is user


def test_a_wrong_current_password_changes_nothing(app, make_user):
    user = make_user("agent")
    here, elsewhere = _signed_in(app, user), _signed_in(app, user)
    hash_before = user.password_hash
    response = here.post("/compte", data={"current": "pas-le-bon-mot-de-passe", "password": NEW_PASSWORD,
                                          "confirm": NEW_PASSWORD})
    assert response.status_code == 422
    assert "Le mot de passe actuel est incorrect." in response.get_data(as_text=True)
    db.session.refresh(user)
    assert user.password_hash == hash_before and user.session_version == 0
    assert _is_signed_in(elsewhere)


def test_a_new_password_must_be_long_enough_and_confirmed(app, make_user):
    user = make_user("agent")
    here = _signed_in(app, user)
    short = here.post("/compte", data={"current": PASSWORD, "password": "court", "confirm": "court"})
    mismatch = here.post("/compte", data={"current": PASSWORD, "password": NEW_PASSWORD, "confirm": "autre chose"})
    assert short.status_code == mismatch.status_code == 422
    assert "Les deux saisies diffèrent." in mismatch.get_data(as_text=True)
    assert services.authenticate(user.email, PASSWORD) is user


def test_a_password_reset_by_link_ends_the_sessions_opened_before(app, make_user):
    from crm.portal import services as portal_accounts

    user = make_user("requester")
    old_session = _signed_in(app, user)
    url, _token = portal_accounts.issue_password_token(user)
    reset = app.test_client()
    path = url.removeprefix(app.config["BASE_URL"])
    g.pop("_login_user", None)
    response = reset.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert not _is_signed_in(old_session)
    assert _is_signed_in(_signed_in(app, user, NEW_PASSWORD))


def test_a_session_identifier_without_the_current_version_is_refused(app, make_user):
    from crm.core.auth import load_user

    user = make_user("agent")
    assert load_user(user.get_id()) is user
    assert user.get_id() == f"{user.id}:0"
    for stale in (str(user.id), f"{user.id}:1", f"{user.id}:", f"{user.id}:x", ":0", ""):
        assert load_user(stale) is None, stale
    services.end_sessions(user)
    assert load_user(f"{user.id}:0") is None and load_user(f"{user.id}:1") is user


# -- API tokens with an optional expiry -------------------------------------------------------------


def _tickets(client, clear: str):
    return client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {clear}"})


def test_a_token_created_with_a_last_day_expires_after_it(app, client, make_user, login):
    user = login(make_user("agent"))
    last_day = date.today() + timedelta(days=30)
    page = client.post("/compte/jetons", data={"name": "intégration", "expires_on": last_day.isoformat()})
    assert page.status_code == 200
    (token,) = services.user_api_tokens(user)
    assert token.expires_at == services.token_expiry(last_day, "Europe/Paris")
    html = page.get_data(as_text=True)
    assert f'<time datetime="{token.expires_at.isoformat()}">' in html  # the expiry is shown
    clear = html.split("<code>")[1].split("</code>")[0]
    assert _tickets(client, clear).status_code == 200
    token.expires_at = utcnow() - timedelta(seconds=1)  # the last day has passed
    db.session.commit()  # (the test's savepoint) the 401 below rolls its request back
    response = _tickets(client, clear)
    assert response.status_code == 401 and response.mimetype == "application/problem+json"
    assert "expiré" in response.get_json()["detail"]
    assert "Expiré" in client.get("/compte/jetons").get_data(as_text=True)


def test_a_token_without_expiry_never_expires_and_says_so(client, make_user, login):
    user = login(make_user("agent"))
    client.post("/compte/jetons", data={"name": "sans date"})
    (token,) = services.user_api_tokens(user)
    assert token.expires_at is None
    page = client.get("/compte/jetons").get_data(as_text=True)
    assert "Aucune" in page and "Expiré" not in page


def test_an_expiry_in_the_past_is_refused_and_creates_nothing(client, make_user, login):
    user = login(make_user("agent"))
    yesterday = date.today() - timedelta(days=2)
    response = client.post("/compte/jetons", data={"name": "trop tard", "expires_on": yesterday.isoformat()})
    assert response.status_code == 422
    assert "La date d'expiration doit être dans le futur." in unescape(response.get_data(as_text=True))
    assert services.user_api_tokens(user) == []
    garbled = client.post("/compte/jetons", data={"name": "date illisible", "expires_on": "31/02/2027"})
    assert garbled.status_code == 422 and services.user_api_tokens(user) == []


def test_the_token_expiry_is_midnight_in_paris_after_the_last_day():
    assert services.token_expiry(date(2027, 1, 31), "Europe/Paris").isoformat() == "2027-01-31T23:00:00+00:00"
    assert services.token_expiry(date(2027, 7, 31), "Europe/Paris").isoformat() == "2027-07-31T22:00:00+00:00"


def test_the_cli_creates_a_token_with_an_expiry_and_lists_it_as_expired_once_past(app, make_user):
    user = make_user("agent", email="cli-jeton@test.example")
    runner = app.test_cli_runner()
    created = runner.invoke(args=["user", "token", user.email, "--name", "robot", "--expires", "2099-12-31"])
    assert created.exit_code == 0, created.output
    clear = created.stdout.strip()
    assert clear.startswith("gch_") and "Expire le 2100-01-01 00:00" in created.stderr
    (token,) = services.user_api_tokens(user)
    listing = runner.invoke(args=["user", "tokens", user.email]).output
    assert f"{token.prefix}…\trobot\texpire le 2100-01-01 00:00\tactif" in listing
    token.expires_at = utcnow() - timedelta(minutes=1)
    db.session.flush()
    assert "\texpiré" in runner.invoke(args=["user", "tokens", user.email]).output
    past = runner.invoke(args=["user", "token", user.email, "--expires", "2020-01-01"])
    assert past.exit_code == 1 and "dans le futur" in past.output
    assert len(services.user_api_tokens(user)) == 1
