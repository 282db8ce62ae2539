"""`guichet scheduler`: APScheduler jobs, each run under a cross-process lock in its own transaction.

Every package registers its jobs from its init_app with ``crm.core.registry.add_job(app, "kb_validity", func,
{"trigger": "cron", "hour": 4})`` (``add_job`` here is the same); tickets registers ``sla_sweep``,
``unassigned_check`` and ``attachment_retention``. ``func()`` runs in an application context and the runner
commits (or rolls back) after it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

from flask import Flask

from crm.core import registry
from crm.core.database import transaction
from crm.core.extensions import db
from crm.core.registry import Job
from notifications.locks import job_lock

log = logging.getLogger(__name__)


def add_job(app: Flask, job_id: str, func: Callable[[], object], trigger_kwargs: dict) -> None:
    """Register a scheduled job (a thin wrapper of crm.core.registry.add_job, where other packages register theirs)."""
    registry.add_job(app, job_id, func, trigger_kwargs)


def jobs_of(app: Flask) -> dict[str, Job]:
    """The registered jobs by id."""
    return {job.id: job for job in registry.jobs(app)}


def run_job(app: Flask, job_id: str) -> tuple[bool, object]:
    """Run one job now unless another process runs it; commit, or roll back on error. Returns (ran, outcome)."""
    job = jobs_of(app)[job_id]
    with app.app_context(), job_lock(job_id) as held:
        if not held:
            log.info("job %s already running elsewhere: skipped", job_id)
            return False, None
        try:
            with transaction():
                outcome = job.func()
        except Exception:
            log.exception("job %s failed", job_id)
            raise
        finally:
            db.session.remove()
        if outcome:
            log.info("job %s: %s", job_id, outcome)
        return True, outcome


def _safe_run(app: Flask, job_id: str) -> None:
    with contextlib.suppress(Exception):  # logged in run_job; the scheduler keeps going
        run_job(app, job_id)


def parse_time(value: str) -> tuple[int, int]:
    hour, _sep, minute = value.partition(":")
    return int(hour), int(minute or 0)


# -- built-in jobs --------------------------------------------------------------------------------


def _outbox_dispatch():
    from notifications.outbox import dispatch_outbox

    return dispatch_outbox()


def _mail_fetch():
    from notifications.mail_in import fetch_mail

    return fetch_mail()


def _digest():
    from notifications.services import send_digests

    return send_digests()


def _retention():
    from notifications.retention import purge_old_data

    return purge_old_data()


def init_app(app: Flask) -> None:
    """This package's jobs (mail fetch only when IMAP is configured); others register via crm.core.registry."""
    config = app.config
    zone = config["BABEL_DEFAULT_TIMEZONE"]
    add_job(app, "outbox_dispatch", _outbox_dispatch,
            {"trigger": "interval", "seconds": config["OUTBOX_DISPATCH_SECONDS"]})
    hour, minute = parse_time(config["DIGEST_TIME"])
    add_job(app, "digest", _digest, {"trigger": "cron", "hour": hour, "minute": minute, "timezone": zone})
    add_job(app, "data_retention", _retention, {"trigger": "cron", "hour": 3, "minute": 15, "timezone": zone})
    if config.get("IMAP_HOST"):
        add_job(app, "mail_fetch", _mail_fetch, {"trigger": "interval", "seconds": config["MAIL_FETCH_SECONDS"]})


def build_scheduler(app: Flask, *, blocking: bool = True):
    """An APScheduler scheduler with every registered job (not started)."""
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler

    cls = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = cls(timezone=app.config["BABEL_DEFAULT_TIMEZONE"])
    for job in jobs_of(app).values():
        trigger = dict(job.trigger)
        kind = trigger.pop("trigger", "interval")
        scheduler.add_job(_safe_run, kind, args=(app, job.id), id=job.id, name=job.id, max_instances=1,
                          coalesce=True, misfire_grace_time=60, replace_existing=True, **trigger)
    return scheduler


_in_process: dict[int, object] = {}


def start_in_process(app: Flask):
    """Run every registered job in a background thread of this process (the development server of `make run`)."""
    import click

    if id(app) in _in_process:
        return _in_process[id(app)]
    scheduler = build_scheduler(app, blocking=False)
    scheduler.start()
    _in_process[id(app)] = scheduler
    names = ", ".join(sorted(jobs_of(app)))
    click.echo(f" * Tâches planifiées lancées dans ce processus (serveur de développement) : {names}", err=True)
    log.info("scheduled jobs running in this process (development server): %s", names)
    return scheduler
