"""The knowledge base as JSON lines (the format of `kb evaluate`): read, import and export records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from knowledge_base.models import Article
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
