"""The demo data set (a few tickets), committed once for a module of tests that walk the whole application."""

from __future__ import annotations

import pytest

from crm.core import registry
from crm.core.database import truncate_all
from crm.core.extensions import db

DEMO_TICKETS = 12


@pytest.fixture(scope="module")
def demo_data(app):
    """Every seeder of the demo, committed for the module; the tables are emptied after it."""
    with app.app_context():
        context = {"n_tickets": DEMO_TICKETS}
        try:
            for _order, _name, seed in registry.seeders(app):
                seed(context)
            db.session.commit()
        except BaseException:  # leave the tables empty for the modules after, whatever happened
            db.session.rollback()
            truncate_all()
            raise
        finally:
            db.session.remove()
    yield
    with app.app_context():
        db.session.remove()
        truncate_all()
