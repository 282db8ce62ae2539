"""Cross-process job locks: a PostgreSQL advisory lock, or an fcntl file lock on SQLite."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from crm.core.extensions import db


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for pg_try_advisory_lock from a job name."""
    digest = hashlib.sha256(f"guichet:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextlib.contextmanager
def job_lock(name: str) -> Iterator[bool]:
    """Try to take the lock of a job without waiting; yields True when this process holds it."""
    if db.engine.dialect.name == "postgresql":
        with _advisory_lock(name) as held:
            yield held
    else:
        with _file_lock(name) as held:
            yield held


@contextlib.contextmanager
def _advisory_lock(name: str) -> Iterator[bool]:
    # A dedicated connection holds the session-level lock; it dies with the process if it crashes.
    key = lock_key(name)
    engine = db.engine.engine  # the Engine itself, even when tests bind the session to a Connection
    with engine.connect() as connection:
        held = bool(connection.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
        connection.commit()
        try:
            yield held
        finally:
            if held:
                connection.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                connection.commit()


@contextlib.contextmanager
def _file_lock(name: str) -> Iterator[bool]:
    folder = Path(current_app.instance_path) / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
    fd = os.open(folder / f"{safe}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
