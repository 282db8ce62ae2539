"""One format per locale for dates, times, numbers, shares and sizes; French plurals; the language kept at login."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from flask_babel import force_locale, ngettext

from crm.core import i18n

INSTANT = datetime(2026, 10, 19, 15, 30, 5, tzinfo=UTC)  # 17:30:05 in Paris (summer time)
WINTER = datetime(2026, 12, 2, 8, 5, 59, tzinfo=UTC)  # 09:05:59 in Paris


@pytest.fixture
def in_request(app):
    with app.test_request_context("/"):
        yield


@pytest.mark.usefixtures("in_request")
@pytest.mark.parametrize(("lang", "expected"), [
    ("fr", ["19/10/2026 17:30", "19/10/2026", "17:30", "02/12/2026 09:05", "02/12/2026"]),
    ("en", ["19 Oct 2026, 5:30 PM", "19 Oct 2026", "5:30 PM", "2 Dec 2026, 9:05 AM", "2 Dec 2026"]),
])
def test_dates_and_times_one_format_in_paris_without_seconds(lang, expected):
    with force_locale(lang):
        shown = [i18n.localtime(INSTANT), i18n.localtime(INSTANT, "date"), i18n.localtime(INSTANT, "time"),
                 i18n.localtime(WINTER, "short"), i18n.day(date(2026, 12, 2))]
        assert shown == expected
        # the formats older templates pass give the same text, never the seconds or a two-digit year
        assert i18n.localtime(INSTANT, "medium") == i18n.localtime(INSTANT, "dd/MM/yyyy HH:mm") == expected[0]
        assert i18n.localtime(INSTANT, "dd/MM/yyyy") == i18n.day(INSTANT) == expected[1]
    assert i18n.localtime(None) == i18n.day(None) == ""


@pytest.mark.usefixtures("in_request")
def test_an_instant_shown_as_a_date_is_its_paris_date():
    late = datetime(2026, 12, 2, 23, 30, tzinfo=UTC)  # already 3 December in Paris
    with force_locale("fr"):
        assert i18n.day(late) == "03/12/2026"
        assert str(i18n.datetime_tag(late)) == '<time datetime="2026-12-02T23:30:00+00:00">03/12/2026 00:30</time>'


@pytest.mark.usefixtures("in_request")
def test_numbers_and_shares_use_the_locale_separators():
    with force_locale("fr"):
        assert i18n.number(4.13) == "4,13"
        assert i18n.number(0.9349, 2) == "0,93"
        assert i18n.number(12345.5, 1) == "12\u202f345,5"
        assert i18n.percent(0.398, 1) == "39,8\xa0%"
        assert i18n.percent(0.9999) == "99\xa0%"  # rounded down: not all met is never "100 %"
        assert i18n.percent(1) == "100\xa0%" and i18n.percent(None) == "—"
    with force_locale("en"):
        assert i18n.number(4.13) == "4.13"
        assert i18n.percent(0.398, 1) == "39.8%"


@pytest.mark.usefixtures("in_request")
@pytest.mark.parametrize(("size", "fr", "en"), [
    (0, "0 octets", "0 bytes"), (850, "850 octets", "850 bytes"), (1024, "1 Ko", "1 KB"), (1025, "2 Ko", "2 KB"),
    (3_565_158, "3,4 Mo", "3.4 MB"),
])
def test_file_sizes_in_the_locale_units(size, fr, en):
    with force_locale("fr"):
        assert i18n.filesize(size) == fr
    with force_locale("en"):
        assert i18n.filesize(size) == en


@pytest.mark.usefixtures("in_request")
def test_french_plural_rule_zero_and_one_are_singular():
    with force_locale("fr"):
        shown = [ngettext("%(num)d projet trouvé", "%(num)d projets trouvés", n) for n in (0, 1, 2)]
        assert shown == ["0 projet trouvé", "1 projet trouvé", "2 projets trouvés"]


def _get(app, client, url, **kwargs) -> str:
    """A request in its own app context: the test's context would keep the first request's locale in `g`."""
    with app.app_context():
        return client.get(url, **kwargs).get_data(as_text=True)


def test_flask_login_message_is_french_then_english(app, client):
    assert "Connectez-vous pour accéder à cette page." in _get(app, client, "/compte", follow_redirects=True)
    client.post("/langue", data={"lang": "en", "next": "/"})
    page = _get(app, client, "/compte", follow_redirects=True)
    assert "Please log in to access this page." in page and "Connectez-vous" not in page


def test_the_language_chosen_before_login_is_kept_and_becomes_the_preference(app, client, make_user, login):
    user = make_user("agent")
    client.post("/langue", data={"lang": "en", "next": "/connexion"})
    login(user)
    assert 'lang="en"' in _get(app, client, "/compte")
    assert user.locale == "en"
    with app.app_context():
        client.post("/deconnexion")
    assert 'lang="en"' in _get(app, client, "/connexion")  # still English once logged out
    other = app.test_client()  # another browser: the account's preference applies
    with app.app_context():
        other.post("/connexion", data={"email": user.email, "password": "motdepasse-de-test-1"})
    assert 'lang="en"' in _get(app, other, "/compte")
