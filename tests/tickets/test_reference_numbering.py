"""The reference-number migration: numbers given before it go on after it, and back again after a downgrade."""

from __future__ import annotations

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from crm import create_app
from crm.core.config import TestConfig
from crm.core.extensions import db


def test_numbers_go_on_across_the_migration_and_its_downgrade(empty_database_url):
    config = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    config["SQLALCHEMY_DATABASE_URI"] = empty_database_url
    app = create_app(config)
    with app.app_context():
        upgrade(revision="a6e3c9d7f210")  # the counter table alone
        db.session.execute(sa.text("INSERT INTO reference_counters (year, last) VALUES (2026, 5)"))
        db.session.commit()
        upgrade(revision="7c1e5b2a9d40")
        from tickets.services import next_reference

        assert [next_reference(2026), next_reference(2026)] == ["DEM-2026-000006", "DEM-2026-000007"]
        db.session.commit()
        downgrade(revision="a6e3c9d7f210")
        last = db.session.scalar(sa.text("SELECT last FROM reference_counters WHERE year = 2026"))
        assert last == 7  # the counter takes over where the sequence stopped
        if db.engine.dialect.name == "postgresql":
            assert db.session.scalar(sa.text("SELECT to_regproc('ticket_reference_next')")) is None
            assert db.session.scalar(sa.text("SELECT to_regclass('ticket_reference_2026')")) is None
        db.session.commit()
        db.engine.dispose()
