"""A pooled connection the server has closed is replaced before a request uses it (no pool_pre_ping round trip)."""

from __future__ import annotations

import socket
import time

import sqlalchemy as sa

from crm import create_app
from crm.core.config import TestConfig
from crm.core.database import check_on_checkout, connection_looks_closed
from crm.core.extensions import db


class _Idle:
    """What the check reads of a psycopg connection, over one end of a socket pair."""

    closed = broken = False

    def __init__(self, sock):
        self.pgconn = type("PGconn", (), {"socket": sock.fileno()})()


def test_an_idle_socket_is_usable_and_a_closed_or_talking_one_is_not():
    ours, server = socket.socketpair()
    try:
        conn = _Idle(ours)
        assert not connection_looks_closed(conn)
        server.sendall(b"E")  # the server's FATAL message while no query runs
        assert connection_looks_closed(conn)
    finally:
        ours.close()
        server.close()
    ours, server = socket.socketpair()
    try:
        server.close()  # the server went away: end of file on our side
        assert connection_looks_closed(_Idle(ours))
        conn = _Idle(ours)
        conn.broken = True
        assert connection_looks_closed(conn)
    finally:
        ours.close()


def _app(url: str, **options):
    config = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    config["SQLALCHEMY_DATABASE_URI"] = url
    if options:
        config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    return create_app(config)


def _terminate_pooled_connection(app) -> None:
    """End the pooled connection's server session, as a restart does, and wait until it is gone."""
    with app.app_context():
        pid = db.session.scalar(sa.text("SELECT pg_backend_pid()"))
        db.session.remove()  # back to the pool
        admin = sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool)
        with admin.connect() as other:  # another session, outside the pool
            other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            for _ in range(200):
                if not other.scalar(sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}):
                    break
                time.sleep(0.01)
        admin.dispose()


def test_a_connection_ended_by_the_server_is_replaced_at_checkout(empty_database_url):
    app = _app(empty_database_url)
    assert "pool_pre_ping" not in app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    with app.app_context():
        checked = sa.event.contains(db.engine, "checkout", check_on_checkout)
        if db.engine.dialect.name != "postgresql":  # SQLite: no server to end a session, nothing to check
            assert not checked and db.session.scalar(sa.text("SELECT 1")) == 1
            return
        assert checked
    _terminate_pooled_connection(app)
    with app.app_context():
        assert db.session.scalar(sa.text("SELECT 1")) == 1  # a new connection: the request does not fail
        db.session.remove()
        db.engine.dispose()
    # without the check (and without pre-ping) the same request fails: the check is what makes it safe
    bare = _app(empty_database_url)
    with bare.app_context():
        sa.event.remove(db.engine, "checkout", check_on_checkout)
    _terminate_pooled_connection(bare)
    with bare.app_context():
        try:
            db.session.scalar(sa.text("SELECT 1"))
            failed = False
        except sa.exc.OperationalError:
            failed = True
        db.session.remove()
        db.engine.dispose()
    assert failed
