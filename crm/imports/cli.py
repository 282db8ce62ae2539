"""`guichet import run DIR` and `guichet import runs`: the import from the command line."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from crm.core.database import transaction
from crm.core.extensions import db
from crm.imports.models import ImportRejection, ImportRun
from crm.imports.services import import_directory, record_failed_run

import_cli = AppGroup("import", help="Import des fichiers des systèmes de gestion (projets, établissements).")


@import_cli.command("run")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--show", default=20, show_default=True, help="Nombre de lignes refusées affichées.")
@click.option("--allow-deletions", is_flag=True,
              help="Supprimer même plus de IMPORT_MAX_DELETION_SHARE des enregistrements d'une entité.")
def run_command(directory: str, show: int, allow_deletions: bool) -> None:
    """Import the files of DIRECTORY (idempotent) and print the run summary."""
    try:
        with transaction():
            run = import_directory(directory, trigger="cli", allow_deletions=allow_deletions)
    except Exception as error:
        with transaction():
            record_failed_run(directory, "cli", error)
        raise click.ClickException(f"Import interrompu : {error}") from error
    click.echo(f"Import n° {run.id} terminé en {run.duration_seconds:.1f} s : {run.created} créées, "
               f"{run.updated} mises à jour, {run.unchanged} inchangées, {run.rejected} refusées, "
               f"{run.deleted} supprimées.")
    for name, counts in run.counts.items():
        click.echo(f"  {name:<24} " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    rejections = db.session.scalars(sa.select(ImportRejection).where(ImportRejection.run_id == run.id)
                                    .order_by(ImportRejection.id).limit(show)).all()
    for rejection in rejections:
        click.echo(f"  refusée : {rejection.file}, ligne {rejection.line} : {rejection.reason}")


@import_cli.command("runs")
@click.option("--limit", default=10, show_default=True)
def runs_command(limit: int) -> None:
    """List the latest import runs."""
    for run in db.session.scalars(sa.select(ImportRun).order_by(ImportRun.id.desc()).limit(limit)):
        click.echo(f"{run.id:>5}  {run.started_at:%Y-%m-%d %H:%M}  {run.status:<9} {run.trigger:<7} "
                   f"+{run.created} ~{run.updated} ={run.unchanged} !{run.rejected} -{run.deleted}  {run.source}")
