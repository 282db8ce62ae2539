"""`guichet kb evaluate`, `kb embed`, `kb import` and `kb export`."""

from __future__ import annotations

import json

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup

from crm.core.database import transaction
from crm.core.extensions import db
from knowledge_base.evaluation import EvaluationInputError, evaluate, evaluate_channels, load_entries, load_queries
from knowledge_base.index import index_service
from knowledge_base.matcher import MatchIndex
from knowledge_base.models import Article, ArticleStatus
from knowledge_base.semantic import load_encoder
from knowledge_base.transfer import ImportFileError, article_record, import_articles, read_kb_lines
from knowledge_base.vectors import embed_pending

kb_cli = AppGroup("kb", help="Base de connaissances.")


@kb_cli.command("evaluate", with_appcontext=False)
@click.argument("kb", type=click.Path(dir_okay=False))
@click.argument("queries", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Écrit un seul objet JSON au lieu du texte.")
@click.option("--semantic/--lexical-only", default=True, show_default=True,
              help="Évalue aussi le canal sémantique et la fusion (si l'encodeur se charge).")
@click.option("--vectors-cache", type=click.Path(dir_okay=False),
              help="Fichier .npz des vecteurs déjà calculés, lu puis complété (un jeu n'est encodé qu'une fois).")
def evaluate_command(kb: str, queries: str, as_json: bool, semantic: bool, vectors_cache: str | None) -> None:
    """Évalue l'appariement sur KB (kb.jsonl) et QUERIES (queries.jsonl), sans base de données."""
    try:
        entries = load_entries(kb)
        labelled = load_queries(queries, known_ids=(e.id for e in entries))
    except EvaluationInputError as exc:
        click.echo(f"Erreur : {exc}", err=True)
        raise SystemExit(2) from None
    encoder = load_encoder() if semantic else None
    if encoder is None:
        channels = {"lexical": evaluate(MatchIndex.build(entries), labelled, n_entries=len(entries))}
        embedding = None
    else:
        channels = evaluate_channels(entries, labelled, encoder, cache=vectors_cache)
        embedding = channels.pop("query_embedding")
    product = channels.get("fusion") or channels["lexical"]
    if as_json:
        data = product.to_dict()
        if embedding is not None:
            data["channels"] = {name: result.to_dict() for name, result in channels.items()}
            data["query_embedding"] = embedding
        click.echo(json.dumps(data, sort_keys=True))
        return
    click.echo(f"Entrées : {product.n_entries}   questions : {product.n_queries}")
    if embedding is None and semantic:
        click.echo("Canal sémantique indisponible : appariement lexical seul.")
    click.echo(f"{'canal':<10} {'top-1':>6} {'top-5':>6} {'MRR@10':>7} {'p50':>9} {'p99':>9}")
    for name, result in channels.items():
        click.echo(f"{name:<10} {result.top1:>6.3f} {result.top5:>6.3f} {result.mrr:>7.3f} "
                   f"{result.p50_ms:>6.2f} ms {result.p99_ms:>6.2f} ms")
    if embedding and "p50_ms" in embedding:
        click.echo(f"encodage d'une question : p50 {embedding['p50_ms']:.1f} ms, p99 {embedding['p99_ms']:.1f} ms "
                   f"({embedding['queries_embedded']} questions encodées)")
    if embedding and "ms_per_text" in embedding:
        click.echo(f"encodage d'un texte de la base : {embedding['ms_per_text']:.1f} ms "
                   f"({embedding['texts_embedded']} textes)")


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


@kb_cli.command("embed")
@click.option("--limit", type=click.IntRange(min=1), help="Au plus ce nombre de textes (par défaut tous).")
def embed_command(limit: int | None) -> None:
    """Calcule les vecteurs sémantiques manquants des articles (ce que fait la tâche kb_embeddings)."""
    encoder = load_encoder(current_app.config["KB_SEMANTIC_MODEL"])
    if encoder is None:
        click.echo("Erreur : l'encodeur sémantique ne se charge pas (voir le journal).", err=True)
        raise SystemExit(1)
    with transaction():
        report = embed_pending(encoder, limit=limit, questions=index_service().calibration_questions())
    click.echo(f"Vecteurs calculés : {report['embedded']}, supprimés (inutilisés) : {report['deleted']}.")


def init_app(app: Flask) -> None:
    """Add the `kb` command group to the application (once)."""
    if "kb" not in app.cli.commands:
        app.cli.add_command(kb_cli)
