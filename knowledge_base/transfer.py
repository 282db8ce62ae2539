"""The knowledge base as JSON lines (the format of `kb evaluate`): read, import and export records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from crm.core.inputs import MAX_JSON_DEPTH, json_depth
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
#: Keys whose value is one text (or null).
TEXT_KEYS = ("topic", "language", "valid_from", "valid_until", "status")
#: The article form's limits (knowledge_base/forms.py, ArticleForm): an imported line may not go beyond them.
MAX_ANSWER = 50_000
#: The phrasings as the form's text area holds them, one per line.
MAX_PHRASINGS = 10_000
#: The calls as the form's field holds them, separated by ", ".
MAX_CALLS = 500


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
            for key in TEXT_KEYS:
                if record.get(key) is not None and not isinstance(record[key], str):
                    raise ArticleError(f"« {key} » : texte attendu.")
            nul = next((k for k, v in record.items() if _has_nul(k) or _has_nul(v)), None)
            if nul is not None:
                shown = nul.replace("\x00", "\\u0000")
                raise ArticleError(f"« {shown} » : caractère nul (\\u0000) interdit.")
            data = {k: v for k, v in record.items() if k in KNOWN_KEYS and k != "id"}
            data.setdefault("status", default_status)
            data["meta"] = data.get("meta") or {}
            content = clean_content(data)
            _check_lengths(content)
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


def _has_nul(value: Any) -> bool:
    """Whether a NUL character is in a text of the value, object keys included (PostgreSQL refuses it)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _check_lengths(content: dict[str, Any]) -> None:
    """The article form's limits on the fields it has (the question and each phrasing are checked by clean_content)."""
    if len(content["answer"]) > MAX_ANSWER:
        raise ArticleError(f"« answer » : {MAX_ANSWER} caractères au plus (reçu {len(content['answer'])}).")
    if len("\n".join(content["phrasings"])) > MAX_PHRASINGS:
        raise ArticleError(f"« phrasings » : {MAX_PHRASINGS} caractères au plus en tout, une formulation par ligne.")
    if len(", ".join(content["calls"])) > MAX_CALLS:
        raise ArticleError(f"« calls » : {MAX_CALLS} caractères au plus en tout, codes séparés par « , ».")


def _records(handle: TextIO, errors: list[tuple[int | None, str]]) -> Iterator[tuple[int, dict]]:
    """Yield (line number, object) for each non-blank line; record the lines that are not JSON objects."""
    try:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            if line.count("[") + line.count("{") > MAX_JSON_DEPTH and json_depth(line.encode()) > MAX_JSON_DEPTH:
                errors.append((number, f"JSON imbriqué sur plus de {MAX_JSON_DEPTH} niveaux."))
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                errors.append((number, f"JSON invalide ({error.msg}, colonne {error.colno})."))
                continue
            except (ValueError, RecursionError) as error:  # a number of over 4,300 digits; deep nesting missed
                reason = "un nombre dépasse 4 300 chiffres" if "digits" in str(error) else str(error)[:80]
                errors.append((number, f"JSON illisible ({reason})."))
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
