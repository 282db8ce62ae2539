"""The real `guichet demo seed` on a fresh migrated database, then each printed demo account logs in; on any date."""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine
from click.testing import CliRunner
from flask.cli import ScriptInfo

from crm import create_app
from crm.cli import main
from crm.core.config import TestConfig
from crm.core.extensions import db
from crm.demo.accounts import DEMO_PASSWORD
from crm.demo.cli import demo_logins

#: The instants the demo data must load on (UTC; Paris time in the ids).
DATES = {
    "29-fevrier-2028-12h00-paris": datetime(2028, 2, 29, 11, 0, tzinfo=UTC),
    "passage-heure-ete-2027-01h30-paris": datetime(2027, 3, 28, 0, 30, tzinfo=UTC),
    "passage-heure-ete-2027-03h30-paris": datetime(2027, 3, 28, 1, 30, tzinfo=UTC),
    "passage-heure-hiver-2027-02h30-ete-paris": datetime(2027, 10, 31, 0, 30, tzinfo=UTC),
    "passage-heure-hiver-2027-02h30-hiver-paris": datetime(2027, 10, 31, 1, 30, tzinfo=UTC),
    "31-decembre-2026-23h30-paris": datetime(2026, 12, 31, 22, 30, tzinfo=UTC),
    "1er-janvier-2027-00h30-paris": datetime(2026, 12, 31, 23, 30, tzinfo=UTC),
}
DATED_TICKETS = 12  # small data set for the dated runs: the suite stays fast
#: On PostgreSQL, the instants where the database takes part: the hour that comes twice (timestamptz, as stored)
#: and the new year (its reference sequence is created by its first request). The other instants exercise the
#: seeder's own date arithmetic, the same on both databases, and run on SQLite (each dated run costs 10 s on
#: PostgreSQL: a throwaway database, the migrations and a seed).
POSTGRESQL_DATES = ("passage-heure-hiver-2027-02h30-ete-paris", "1er-janvier-2027-00h30-paris")
ON_POSTGRESQL = os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")


@pytest.fixture
def guichet(monkeypatch, tmp_path, empty_database_url):
    """Run the `guichet` console script in-process, configured by the environment as in a shell."""
    monkeypatch.setenv("DATABASE_URL", empty_database_url)
    monkeypatch.setenv("GUICHET_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("GUICHET_KB_INDEX_BACKGROUND", "false")

    apps = []

    def _create_app():
        """The console script's own factory; the apps are kept to close their connections afterwards."""
        apps.append(main.create_app())
        return apps[-1]

    def _run(*args: str) -> str:
        info = ScriptInfo(create_app=_create_app, set_debug_flag=main.set_debug_flag)
        result = CliRunner().invoke(main, list(args), obj=info, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    _run.database_url = empty_database_url
    yield _run
    for app in apps:
        with app.app_context():
            for engine in db.engines.values():
                engine.dispose()


def _web_client(database_url: str):
    """A test client of an application on the seeded database (test settings: no CSRF, no rate limits)."""
    config = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    config["SQLALCHEMY_DATABASE_URI"] = database_url
    app = create_app(config)
    return app, app.test_client()


def _log_in(client, email: str) -> str:
    """Log in through the login form and return the text of the home page reached."""
    response = client.post("/connexion", data={"email": email, "password": DEMO_PASSWORD}, follow_redirects=True)
    assert response.status_code == 200, (email, response.status_code)
    page = response.get_data(as_text=True)
    assert "mot de passe incorrect" not in page, email
    return page


def _check_every_printed_account(database_url: str, printed: str, moment: datetime) -> None:
    """Each account `guichet demo logins` prints logs in and sees its home page with demo data."""
    from crm.core.models import User
    from tickets.models import Ticket

    emails = re.findall(r"\S+@\S+\.\w+", printed)
    assert emails == [email for _label, email in demo_logins()]
    assert DEMO_PASSWORD in printed
    app, client = _web_client(database_url)
    try:
        with app.app_context():  # the seed ran at that clock: accounts made then, requests in the weeks before
            accounts = db.session.scalar(sa.select(sa.func.min(User.created_at)))
            oldest, newest = db.session.execute(sa.select(sa.func.min(Ticket.created_at),
                                                          sa.func.max(Ticket.created_at))).one()
        assert moment - timedelta(minutes=1) <= accounts <= moment + timedelta(minutes=10), accounts
        assert moment - timedelta(days=46) <= oldest <= newest <= moment + timedelta(minutes=10), (oldest, newest)
        homes, sla_status = {}, None
        for email in emails:
            homes[email] = _log_in(client, email)
            if email == "manager@guichet.example":
                sla_status = client.get("/responsable/sla").status_code
            assert client.post("/deconnexion").status_code == 302
        assert re.search(r"DEM-\d{4}-\d+", homes["agent@guichet.example"]), "the agent's queue lists no demo ticket"
        for label, email in demo_logins():
            if "(portail)" in label:
                assert re.search(r"ANR-[\w-]+", homes[email]), f"{label} ({email}) sees no project"
        assert sla_status == 200, "the manager's SLA page does not render"
    finally:
        with app.app_context():
            db.engine.dispose()


def test_demo_seed_on_a_fresh_database_then_every_printed_account_logs_in(guichet):
    guichet("db", "upgrade")
    moment = datetime.now(UTC)
    started = time.perf_counter()
    output = guichet("demo", "seed", "--if-empty")
    seconds = time.perf_counter() - started
    assert "Données de démonstration chargées" in output
    print(f"\ndemo seed (300 demandes) : {seconds:.1f} s")
    assert "déjà présentes" in guichet("demo", "seed", "--if-empty")
    _check_every_printed_account(guichet.database_url, guichet("demo", "logins"), moment)


@pytest.mark.parametrize("moment", [pytest.param(moment, id=name) for name, moment in DATES.items()
                                    if not ON_POSTGRESQL or name in POSTGRESQL_DATES])
def test_demo_seed_loads_on_any_date(guichet, moment):
    with time_machine.travel(moment, tick=True):
        guichet("db", "upgrade")
        started = time.perf_counter()
        output = guichet("demo", "seed", "--tickets", str(DATED_TICKETS))
        seconds = time.perf_counter() - started
        assert "Données de démonstration chargées" in output
        print(f"\ndemo seed ({DATED_TICKETS} demandes, {moment:%Y-%m-%d %H:%M} UTC) : {seconds:.1f} s")
        _check_every_printed_account(guichet.database_url, guichet("demo", "logins"), moment)
