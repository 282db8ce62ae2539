"""Database helpers shared by every package: the transaction of commands and jobs, SQLite set-up, dialect checks,
LIKE patterns, table truncation."""

from __future__ import annotations

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
