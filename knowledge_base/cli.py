"""`guichet kb evaluate`, `kb import` and `kb export`."""

from __future__ import annotations

import json

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import AppGroup

from crm.core.database import transaction
from crm.core.extensions import db
from knowledge_base.evaluation import EvaluationInputError, evaluate_files
from knowledge_base.models import Article, ArticleStatus
from knowledge_base.transfer import ImportFileError, article_record, import_articles, read_kb_lines

kb_cli = AppGroup("kb", help="Base de connaissances.")


@kb_cli.command("evaluate", with_appcontext=False)
@click.argument("kb", type=click.Path(dir_okay=False))
@click.argument("queries", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Écrit un seul objet JSON au lieu du texte.")
def evaluate_command(kb: str, queries: str, as_json: bool) -> None:
    """Évalue l'appariement sur KB (kb.jsonl) et QUERIES (queries.jsonl), sans base de données."""
    try:
        result = evaluate_files(kb, queries)
    except EvaluationInputError as exc:
        click.echo(f"Erreur : {exc}", err=True)
        raise SystemExit(2) from None
    if as_json:
        click.echo(json.dumps(result.to_dict(), sort_keys=True))
        return
    click.echo(f"Entrées : {result.n_entries}   questions : {result.n_queries}")
    click.echo(f"top-1   : {result.top1:.3f}")
    click.echo(f"top-5   : {result.top5:.3f}")
    click.echo(f"MRR@10  : {result.mrr:.3f}")
    click.echo(f"latence : p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms")


@kb_cli.command("import")
@click.argument("path", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--status", "default_status", type=click.Choice([s.value for s in ArticleStatus]),
              default=ArticleStatus.PUBLISHED.value, show_default=True,
              help="Statut des lignes qui n'en précisent pas.")
def import_command(path: str, default_status: str) -> None:
    """Importe ou met à jour (par identifiant) les articles d'un fichier JSON lines ; tout ou rien."""
    try:
        with click.open_file(path, encoding="utf-8") as handle:
            lines = read_kb_lines(handle, default_status)
    except OSError as error:
        click.echo(f"Erreur : {path} : {error.strerror or error}", err=True)
        raise SystemExit(2) from None
    except ImportFileError as error:
        for number, message in error.errors:
            click.echo(f"{path}:{number}: {message}" if number else f"{path}: {message}", err=True)
        click.echo(f"Fichier refusé : {len(error.errors)} erreur(s), aucun article importé.", err=True)
        raise SystemExit(2) from None
    with transaction():
        report = import_articles(lines)
    click.echo(f"Articles créés : {report.created}, mis à jour : {report.updated}, "
               f"inchangés : {report.unchanged}.")


@kb_cli.command("export")
@click.argument("path", type=click.Path(dir_okay=False, writable=True, allow_dash=True))
@click.option("--status", "statuses", multiple=True, type=click.Choice([s.value for s in ArticleStatus]),
              help="N'exporter que ces statuts (répétable ; par défaut tous).")
def export_command(path: str, statuses: tuple[str, ...]) -> None:
    """Écrit les articles dans un fichier JSON lines (même format que l'import)."""
    query = sa.select(Article).order_by(Article.external_id)
    if statuses:
        query = query.where(Article.status.in_(statuses))
    count = 0
    with click.open_file(path, "w", encoding="utf-8") as handle:
        for article in db.session.scalars(query):
            handle.write(json.dumps(article_record(article), ensure_ascii=False) + "\n")
            count += 1
    if path != "-":
        click.echo(f"{count} article(s) exporté(s) dans {path}.")


def init_app(app: Flask) -> None:
    """Add the `kb` command group to the application (once)."""
    if "kb" not in app.cli.commands:
        app.cli.add_command(kb_cli)
