"""`guichet mail fetch`, `guichet outbox dispatch|worker|retry-failed`, `guichet digest send`, `guichet scheduler`."""

from __future__ import annotations

import logging

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from notifications import scheduler as jobs

mail_cli = AppGroup("mail", help="Courriels entrants.")
outbox_cli = AppGroup("outbox", help="Courriels sortants (boîte d'envoi).")
digest_cli = AppGroup("digest", help="Récapitulatifs quotidiens des notifications.")


def _run(job_id: str) -> None:
    """Run a registered job under its lock and print what it did."""
    app = current_app._get_current_object()
    try:
        ran, outcome = jobs.run_job(app, job_id)
    except Exception as error:
        raise click.ClickException(f"{job_id} : {error}") from error
    if not ran:
        click.echo(f"{job_id} : déjà en cours dans un autre processus, rien à faire.")
    elif outcome is not None:
        click.echo(f"{job_id} : {outcome}")


@mail_cli.command("fetch")
@with_appcontext
def fetch_command() -> None:
    """Read the IMAP mailbox: new requests, replies, quarantine."""
    if not current_app.config.get("IMAP_HOST"):
        raise click.ClickException("IMAP_HOST n'est pas configuré (GUICHET_IMAP_HOST).")
    if "mail_fetch" not in jobs.jobs_of(current_app):
        jobs.init_app(current_app)
    _run("mail_fetch")


@outbox_cli.command("dispatch")
@with_appcontext
def dispatch_command() -> None:
    """Send the e-mails waiting in the outbox."""
    _run("outbox_dispatch")


@outbox_cli.command("worker")
@with_appcontext
def worker_command() -> None:
    """Send e-mails as soon as they are committed (PostgreSQL LISTEN/NOTIFY, else polling), until stopped."""
    from notifications.worker import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    click.echo("Envoi des courriels au fil de l'eau (Ctrl+C pour arrêter).")
    try:
        run_worker(current_app._get_current_object())
    except KeyboardInterrupt:
        click.echo("Arrêt de l'envoi des courriels.")


@outbox_cli.command("retry-failed")
@with_appcontext
def retry_failed_command() -> None:
    """Put every failed e-mail back in the queue."""
    import sqlalchemy as sa

    from crm.core.database import transaction
    from crm.core.extensions import db
    from notifications.models import OutboxMessage, OutboxStatus
    from notifications.outbox import retry_now

    with transaction():
        rows = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED)).all()
        for row in rows:
            retry_now(row)
    click.echo(f"{len(rows)} courriel(s) remis en file d'envoi.")


@digest_cli.command("send")
@with_appcontext
def digest_command() -> None:
    """Write today's digests to the outbox (they leave with the next dispatch)."""
    _run("digest")


@click.command("scheduler")
@click.option("--list", "list_only", is_flag=True, help="Afficher les tâches planifiées et quitter.")
@click.option("--run", "run_once", metavar="JOB", help="Exécuter une tâche une fois et quitter.")
@with_appcontext
def scheduler_command(list_only: bool, run_once: str | None) -> None:
    """Run the scheduled jobs (SLA sweep, outbox, mail, digest, import, retention) until stopped."""
    app = current_app._get_current_object()
    registered = jobs.jobs_of(app)
    if list_only:
        for job in registered.values():
            click.echo(f"{job.id:<20} {job.trigger}")
        return
    if run_once:
        if run_once not in registered:
            raise click.ClickException(f"tâche inconnue : {run_once} ({', '.join(registered)})")
        _run(run_once)
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    scheduler = jobs.build_scheduler(app, blocking=True)
    click.echo(f"Planificateur démarré : {', '.join(registered)} (Ctrl+C pour arrêter).")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        scheduler.shutdown(wait=False)


def init_app(app: Flask) -> None:
    """Add the command groups to `guichet`."""
    app.cli.add_command(mail_cli)
    app.cli.add_command(outbox_cli)
    app.cli.add_command(digest_cli)
    app.cli.add_command(scheduler_command)
