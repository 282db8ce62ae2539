"""Database helpers shared by every package: the transaction of commands and jobs, SQLite set-up, dialect checks,
LIKE patterns, table truncation."""

from __future__ import annotations

import select
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from crm.core.extensions import db


@contextmanager
def transaction() -> Iterator[None]:
    """The one commit point of a CLI command or a scheduled job: commit on success, roll back on any error."""
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


#: session.info key: the transaction ending now committed (after_commit is also sent for a savepoint)
_COMMITTED = "database.committed"
_ending: list[Callable[[Session, bool], None]] = []


def _note_commit(session: Session) -> None:
    session.info[_COMMITTED] = True


def _transaction_ended(session: Session, transaction) -> None:
    if transaction.nested or transaction.parent is not None:
        session.info.pop(_COMMITTED, None)  # a savepoint: the outer transaction decides
        return
    committed = session.info.pop(_COMMITTED, False)
    for callback in _ending:
        callback(session, committed)


def on_transaction_end(callback: Callable[[Session, bool], None]) -> None:
    """Call ``callback(session, committed)`` when a session's outermost transaction ends, by a commit or a
    rollback (a savepoint's end is not one). Idempotent per callback."""
    if callback not in _ending:
        _ending.append(callback)
    if not sa.event.contains(Session, "after_transaction_end", _transaction_ended):
        sa.event.listen(Session, "after_commit", _note_commit)
        sa.event.listen(Session, "after_transaction_end", _transaction_ended)


def enable_sqlite_pragmas(app: Flask) -> None:
    """Foreign keys, a busy timeout and real transactions (SAVEPOINT included) on SQLite."""
    with app.app_context():
        engine = db.engine

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # let SQLAlchemy emit BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN")


def connection_looks_closed(dbapi_connection) -> bool:
    """True when an idle psycopg connection cannot be used: closed or broken on our side, or its socket has
    something to read although no query is running (the server ended the session: restart, pg_terminate_backend,
    idle timeout; it sends its FATAL message and closes). A zero-timeout poll of the socket, no round trip."""
    if dbapi_connection.closed or dbapi_connection.broken:
        return True
    try:
        fd = dbapi_connection.pgconn.socket
    except Exception:  # noqa: BLE001 - no socket to ask: not usable
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))


def enable_postgresql_liveness_check(app: Flask) -> None:
    """Replace a pooled connection the server has closed before the request uses it, without pool_pre_ping's
    extra round trip at every checkout (issue 9): the pool retries the checkout with a new connection. A
    connection lost during a request is invalidated by SQLAlchemy itself (that request fails, the next ones use
    new connections), and pool_recycle (SQLALCHEMY_ENGINE_OPTIONS) retires connections a firewall could have
    dropped without a word."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
        sa.event.listen(engine, "checkout", check_on_checkout)


def check_on_checkout(dbapi_connection, _record, _proxy) -> None:
    """Pool checkout hook: a closed connection is discarded and the pool tries another (DisconnectionError)."""
    if connection_looks_closed(dbapi_connection):
        raise sa.exc.DisconnectionError("connexion fermée par le serveur PostgreSQL")


def is_postgresql() -> bool:
    """True when the bound database is PostgreSQL."""
    return db.engine.dialect.name == "postgresql"


#: The escape character of the patterns like_pattern() builds: pass it as `escape=` to like() / ilike().
LIKE_ESCAPE = "\\"


def like_pattern(text: str) -> str:
    """A LIKE pattern matching text anywhere, its %, _ and backslash taken literally (escape=LIKE_ESCAPE)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def truncate_all() -> None:
    """Delete every row of every table (tests that commit for real clean up with this)."""
    with db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
            if names:
                connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(db.metadata.sorted_tables):
                connection.execute(table.delete())


def dialect_insert(table):
    """An INSERT supporting ON CONFLICT for the bound database (PostgreSQL or SQLite)."""
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)
