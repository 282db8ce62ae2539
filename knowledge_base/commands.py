"""`guichet kb import` and `guichet kb export` (JSON lines), added to the matcher's `kb` group."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO

import click
import sqlalchemy as sa
from flask import Flask

from crm.core.extensions import db
from knowledge_base.cli import kb_cli
from knowledge_base.models import Article, ArticleStatus
from knowledge_base.services import (
    ArticleError,
    article_by_external_id,
    check_external_id,
    clean_content,
    create_article,
    update_article,
)

KNOWN_KEYS = {"id", "question", "answer", "meta", "phrasings", "topic", "calls", "language", "valid_from",
              "valid_until", "status"}


class ImportFileError(ValueError):
    """A knowledge-base file with malformed lines; ``errors`` lists ``(line, message)``."""

    def __init__(self, errors: list[tuple[int | None, str]]) -> None:
        self.errors = errors
        super().__init__(f"{len(errors)} erreur(s)")


@dataclass(frozen=True, slots=True)
class ImportedLine:
    """One validated line: the external id and the cleaned content."""

    line: int
    external_id: str
    content: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did."""

    created: int
    updated: int
    unchanged: int


def article_record(article: Article) -> dict[str, Any]:
    """Return the JSON-lines record of an article (the shared kb.jsonl format plus our keys)."""
    return {
        "id": article.external_id,
        "question": article.question,
        "answer": article.answer,
        "meta": article.meta or {},
        "phrasings": list(article.phrasings or ()),
        "topic": article.topic,
        "calls": list(article.calls or ()),
        "language": article.language,
        "valid_from": article.valid_from.isoformat() if article.valid_from else None,
        "valid_until": article.valid_until.isoformat() if article.valid_until else None,
        "status": article.status,
    }


def read_kb_lines(handle: TextIO, default_status: str) -> list[ImportedLine]:
    """Validate every line of a kb.jsonl file; raise ImportFileError listing all the bad ones."""
    errors: list[tuple[int | None, str]] = []
    lines: list[ImportedLine] = []
    seen: dict[str, int] = {}
    for number, record in _records(handle, errors):
        try:
            external_id = check_external_id(record.get("id") if isinstance(record.get("id"), str) else "")
            if external_id in seen:
                raise ArticleError(f"identifiant « {external_id} » en double (déjà ligne {seen[external_id]}).")
            for key in ("question", "answer"):
                if not isinstance(record.get(key), str):
                    raise ArticleError(f"« {key} » : texte attendu.")
            if "meta" in record and record["meta"] is not None and not isinstance(record["meta"], dict):
                raise ArticleError("« meta » : objet attendu.")
            for key in ("phrasings", "calls"):
                if record.get(key) is not None and not isinstance(record[key], list):
                    raise ArticleError(f"« {key} » : liste de textes attendue.")
            data = {k: v for k, v in record.items() if k in KNOWN_KEYS and k != "id"}
            data.setdefault("status", default_status)
            data["meta"] = data.get("meta") or {}
            content = clean_content(data)
        except ArticleError as error:
            errors.append((number, str(error)))
            continue
        seen[external_id] = number
        lines.append(ImportedLine(number, external_id, content))
    if not lines and not errors:
        errors.append((None, "aucun article dans le fichier."))
    if errors:
        raise ImportFileError(errors)
    return lines


def _records(handle: TextIO, errors: list[tuple[int | None, str]]) -> Iterator[tuple[int, dict]]:
    """Yield (line number, object) for each non-blank line; record the lines that are not JSON objects."""
    try:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                errors.append((number, f"JSON invalide ({error.msg}, colonne {error.colno})."))
                continue
            if not isinstance(record, dict):
                errors.append((number, "un objet JSON est attendu."))
                continue
            yield number, record
    except UnicodeDecodeError:
        errors.append((None, "le fichier n'est pas un texte UTF-8."))


def import_articles(lines: list[ImportedLine], author=None) -> ImportReport:
    """Create or update (by external id) the validated articles; only flushes."""
    created = updated = unchanged = 0
    for line in lines:
        article = article_by_external_id(line.external_id)
        if article is None:
            create_article(line.content, author, external_id=line.external_id, action="imported")
            created += 1
        elif update_article(article, line.content, author, action="imported"):
            updated += 1
        else:
            unchanged += 1
    return ImportReport(created, updated, unchanged)


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
    try:
        report = import_articles(lines)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
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


def register(app: Flask) -> None:
    """Add the `kb` command group to the application (once)."""
    if "kb" not in app.cli.commands:
        app.cli.add_command(kb_cli)
