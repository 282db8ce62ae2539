"""Test fixtures: one app per session, a rolled-back transaction per test, factories, logins."""

from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa

from crm import create_app
from crm.core.config import TestConfig
from crm.core.database import truncate_all
from crm.core.extensions import db

PASSWORD = "motdepasse-de-test-1"


def _config(tmp_path_factory) -> dict:
    config = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        url = "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite3")
    config["SQLALCHEMY_DATABASE_URI"] = url
    config["UPLOAD_FOLDER"] = str(tmp_path_factory.mktemp("uploads"))
    return config


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    """The application bound to the test database, schema created once for the session."""
    application = create_app(_config(tmp_path_factory))
    with application.app_context():
        db.drop_all()
        db.create_all()
    yield application
    with application.app_context():
        db.drop_all()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _limiter_follows_the_test_config(app):
    """Flask-Limiter keeps `enabled` on its one global object: an app built with limits on would leak here."""
    from crm.core.extensions import limiter

    limiter.enabled = app.config["RATELIMIT_ENABLED"]
    yield
    limiter.enabled = app.config["RATELIMIT_ENABLED"]


@pytest.fixture(autouse=True)
def _fresh_reference_cache(app):
    """Each test starts with no cached reference data: the previous test's rows were rolled back."""
    from crm.core import refcache
    from knowledge_base.index import index_service

    refcache.clear(app)
    index_service(app)._last_check = float("-inf")  # the knowledge-base version compared at the first search


@pytest.fixture(autouse=True)
def _db_transaction(request, app):
    """Run each test inside a transaction rolled back at the end (tests marked `committed` commit)."""
    with app.app_context():
        if request.node.get_closest_marker("committed"):
            try:
                yield db.session
            finally:
                db.session.remove()
                truncate_all()
            return
        # Flask-SQLAlchemy picks the bind from db.engines: put a connection in a transaction there.
        engines = db.engines
        engine = engines[None]
        connection = engine.connect()
        transaction = connection.begin()
        engines[None] = connection
        original = db.session
        db.session = db._make_scoped_session({"join_transaction_mode": "create_savepoint"})
        try:
            yield db.session
        finally:
            db.session.remove()
            db.session = original
            engines[None] = engine
            if transaction.is_active:
                transaction.rollback()
            connection.close()


@pytest.fixture
def dialect(app) -> str:
    with app.app_context():
        return db.engine.dialect.name


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_user():
    """Create a user with roles: make_user('agent') or make_user('agent', email=...)."""
    from crm.core import services

    counter = {"n": 0}

    def _make(*roles: str, email: str | None = None, name: str | None = None, password: str = PASSWORD):
        counter["n"] += 1
        email = email or f"{'-'.join(roles) or 'user'}{counter['n']}@test.example"
        user = services.create_user(email, name or email.split("@")[0], list(roles), password)
        db.session.flush()
        return user

    return _make


@pytest.fixture
def login(client):
    """Log the test client in as a user."""

    def _login(user, password: str = PASSWORD):
        response = client.post("/connexion", data={"email": user.email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return user

    return _login


@pytest.fixture
def count_rows():
    def _count(model, *where) -> int:
        return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))

    return _count


@pytest.fixture
def reference_data(make_user):
    """Queues, topics, calendars, SLA policies and saved replies of the demo configuration."""
    from tickets.demo import seed_reference_data

    return seed_reference_data()


@pytest.fixture
def make_ticket(reference_data):
    """Create a ticket through the real service: make_ticket(subject=..., topic=..., created_at=...)."""
    from tickets import workflow

    def _make(**overrides):
        data = {"subject": "Question sur le dépôt", "body": "Bonjour, comment déposer ma proposition ?",
                "requester_email": "demandeur@labo.example", "requester_name": "Jeanne Demandeur"}
        data.update(overrides)
        ticket, key = workflow.create_ticket(**data)
        ticket.access_key = key  # the clear key, for tests only
        return ticket

    return _make


def pytest_configure(config):
    config.addinivalue_line("markers", "committed: the test commits for real; tables are emptied after it")


@pytest.fixture
def empty_database_url(tmp_path):
    """A new empty database of the kind the suite runs on (a throwaway PostgreSQL database, dropped after)."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base or not base.startswith("postgresql"):
        yield "sqlite:///" + str(tmp_path / "empty.sqlite3")
        return
    name = "guichet_tmp_" + uuid.uuid4().hex[:10]
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
