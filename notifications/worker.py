"""`guichet outbox worker`: mail leaves within a second of its commit, and never from a web worker.

A transaction that wrote outbox rows sends ``NOTIFY guichet_outbox`` on PostgreSQL just before it commits
(PostgreSQL delivers it only if the commit succeeds), so the worker, which LISTENs, dispatches at once. On
another database the worker polls every ``OUTBOX_WORKER_POLL_SECONDS``. The scheduler's ``outbox_dispatch``
job remains the backstop (retries with backoff, mail written while no worker ran); both dispatch under the
same job lock and claim rows with SKIP LOCKED, so running both is harmless.
"""

from __future__ import annotations

import logging
import threading
import time

import psycopg
import sqlalchemy as sa
from flask import Flask, current_app

from crm.core import registry
from crm.core.extensions import db
from notifications.outbox import CHANNEL, end_threads

log = logging.getLogger(__name__)


def wake_worker() -> None:
    """Have this transaction wake the worker at its commit, as if it wrote an e-mail (work queued for it)."""
    db.session.info["outbox_kick"] = True


def _before_commit(session) -> None:
    """Wake the worker when this transaction wrote e-mails (PostgreSQL; the NOTIFY is sent with the commit)."""
    if not session.info.pop("outbox_kick", False):
        return
    bind = session.get_bind()
    if bind.dialect.name == "postgresql" and current_app.config["OUTBOX_KICK_AFTER_COMMIT"]:
        session.execute(sa.text(f"NOTIFY {CHANNEL}"))


def _after_commit(session) -> None:
    end_threads(session)


def _after_rollback(session) -> None:
    session.info.pop("outbox_kick", None)
    end_threads(session)


def install_notify() -> None:
    """Listen to the commits and rollbacks of every session (idempotent)."""
    if not sa.event.contains(sa.orm.Session, "before_commit", _before_commit):
        sa.event.listen(sa.orm.Session, "before_commit", _before_commit)
        sa.event.listen(sa.orm.Session, "after_commit", _after_commit)
        sa.event.listen(sa.orm.Session, "after_rollback", _after_rollback)


def _listening_connection(app: Flask) -> psycopg.Connection | None:
    """An autocommit psycopg connection that LISTENs on the outbox channel (None on other databases)."""
    with app.app_context():
        url = db.engine.url
    if url.get_backend_name() != "postgresql":
        return None
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    connection = psycopg.connect(conninfo, autocommit=True)
    connection.execute(f"LISTEN {CHANNEL}")
    return connection


def _wait(listener: psycopg.Connection | None, stop: threading.Event, seconds: float) -> None:
    """Until a NOTIFY arrives (PostgreSQL), ``seconds`` pass or ``stop`` is set, looking at ``stop`` every second."""
    if listener is None:
        stop.wait(seconds)
        return
    deadline = time.monotonic() + seconds
    while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
        for _notify in listener.notifies(timeout=min(left, 1.0), stop_after=1):
            return


def run_worker(app: Flask, *, stop: threading.Event | None = None, max_rounds: int | None = None) -> int:
    """Run the worker's jobs (crm.core.registry.add_worker_job) then dispatch, then wait for a NOTIFY (or the poll
    interval), until ``stop`` is set; returns the rounds run."""
    from notifications.scheduler import run_job

    stop = stop or threading.Event()
    wait = float(app.config["OUTBOX_WORKER_POLL_SECONDS"])
    listener = _listening_connection(app)
    log.info("outbox worker started (%s)", "LISTEN " + CHANNEL if listener else f"polling every {wait:g} s")
    rounds = 0
    try:
        while not stop.is_set() and (max_rounds is None or rounds < max_rounds):
            for job_id in [*registry.worker_jobs(app), "outbox_dispatch"]:  # what they write leaves this round
                try:
                    run_job(app, job_id)
                except Exception:  # noqa: BLE001 - logged by run_job; the next round retries
                    log.warning("outbox worker: %s failed, retrying", job_id)
            rounds += 1
            _wait(listener, stop, wait)
    finally:
        if listener is not None:
            listener.close()
    return rounds
